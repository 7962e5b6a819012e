// An advisory lock file next to a data file, so that separate processes (two `replay` runs, a `sync`
// and a `replay`) take turns on it. Node has no flock(2), so: create `<file>.lock` with O_EXCL
// (atomic on local filesystems), write our pid and start time into it, remove it when done.
// A lock left by a crashed process is broken when its pid is gone or it is older than `staleMs`.
import { hostname } from 'node:os';
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { LockedError, errorMessage } from '../errors.js';

export interface LockOptions {
  /** Give up (LockedError) after waiting this long for another process. */
  waitMs?: number;
  /** A lock this old is stale even if its pid exists (pid reuse, a hung process). Holders only keep
   *  it for one read or rewrite of the file, milliseconds, so a minute is far beyond any real hold. */
  staleMs?: number;
}

const DEFAULT_WAIT_MS = 10_000;
const DEFAULT_STALE_MS = 60_000;

interface Holder {
  pid: number;
  host: string;
  at: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: existence check only
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pure: is the lock described by `text` (the lock file's content) abandoned? */
export function isStaleLock(text: string, now: number, staleMs: number, alive: (pid: number) => boolean = pidAlive, host = hostname()): boolean {
  let holder: Holder;
  try {
    holder = JSON.parse(text) as Holder;
  } catch {
    // Cut short between create and write: only the time it stays that way can tell (the caller).
    return false;
  }
  if (typeof holder.pid !== 'number' || typeof holder.at !== 'number') return false;
  if (now - holder.at > staleMs) return true;
  // A pid only means something on the host that wrote it (a DLQ on a shared volume).
  return holder.host === host && !alive(holder.pid);
}

/** Run `op` while holding `<path>.lock`. */
export async function withFileLock<T>(path: string, op: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const lock = `${path}.lock`;
  const waitMs = opts.waitMs ?? DEFAULT_WAIT_MS;
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const deadline = Date.now() + waitMs;
  let delay = 5;
  let emptySince: number | undefined;
  for (;;) {
    try {
      const fh = await open(lock, 'wx');
      try {
        await fh.write(JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() } satisfies Holder));
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let text: string;
    try {
      text = await readFile(lock, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: retry at once
      // Not a lock file we understand (a directory, no permission): waiting will not help.
      throw new LockedError(path, 0, '', `cannot read ${lock}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
    // An empty or half-written lock is a holder between create and write, or one that crashed there.
    if (text === '' || !text.endsWith('}')) emptySince ??= Date.now();
    else emptySince = undefined;
    const abandoned = emptySince !== undefined ? Date.now() - emptySince > staleMs : isStaleLock(text, Date.now(), staleMs);
    if (abandoned) {
      // Rename first (atomic): of two processes breaking the same stale lock only one succeeds, and
      // the other retries the create instead of deleting the winner's fresh lock. If what we moved
      // is not what we judged stale, it is a fresh lock taken meanwhile: link it back (link fails
      // rather than overwrite if yet another process holds the name now).
      const aside = `${lock}.stale.${randomUUID().slice(0, 8)}`;
      if (await rename(lock, aside).then(() => true, () => false)) {
        const moved = await readFile(aside, 'utf8').catch(() => text);
        if (moved !== text) await link(aside, lock).catch(() => undefined);
        await rm(aside, { force: true });
      }
      emptySince = undefined;
      continue;
    }
    if (Date.now() >= deadline) throw new LockedError(path, waitMs, text);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
  try {
    return await op();
  } finally {
    await rm(lock, { force: true });
  }
}
