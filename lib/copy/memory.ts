// Keeps a streamed copy's memory flat. Every chunk that crosses a socket is a fresh Buffer whose
// bytes live outside the JS heap; V8 frees them only when a scavenge collects their small wrappers,
// and a fast stream allocates gigabytes of them while creating almost no heap garbage, so the
// garbage waits (measured: +57-74 MiB RSS for a plain GET->PUT pipe of a 1 GiB blob). A minor GC
// per few MiB moved costs well under a millisecond and bounds that growth (measured: +44-46 MiB).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gc: Gc | undefined = (globalThis as { gc?: Gc }).gc;

/**
 * Turn the scavenges on. It sets a V8 flag, which is process state: only a program's entry point
 * calls it (the CLI, a Lambda handler), never a library module at import (issue 7). Without it,
 * `gc` is used only if the process was started with --expose-gc.
 */
export function enableStreamGc(): void {
  if (gc) return;
  try {
    // The documented way to reach `gc` without a command-line flag: expose it to a new context.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  } catch {
    gc = undefined;
  }
}

const EVERY_BYTES = 8 * 1024 * 1024;
let sinceLast = 0;

/** Account for bytes streamed; now and then ask for a scavenge so dead chunks are released. */
export function streamedBytes(n: number): void {
  sinceLast += n;
  if (sinceLast < EVERY_BYTES || !gc) return;
  sinceLast = 0;
  gc({ type: 'minor' });
}
