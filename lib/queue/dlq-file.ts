// Dead-letter stores for the embedded queue: a JSON-lines file (what `sync` writes and `replay`
// reads back, the local counterpart of the SQS DLQ) and an in-memory one for tests and --dry-run.
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type LockOptions, withFileLock } from './file-lock.js';
import type { DeadLetter, DeadLetterStore } from './types.js';

/** Relative to the current directory, like the rest of a run's local state. */
export const DEFAULT_DLQ_PATH = '.swr-migrate/dlq.jsonl';

function isDeadLetter(v: unknown): v is DeadLetter {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const reason = o.reason as Record<string, unknown> | null | undefined;
  return (
    typeof o.id === 'string' &&
    typeof o.body === 'string' &&
    typeof o.receiveCount === 'number' &&
    typeof o.at === 'string' &&
    typeof reason === 'object' &&
    reason !== null &&
    typeof reason.code === 'string' &&
    typeof reason.message === 'string'
  );
}

/** Each line either parses to a letter or is kept verbatim as `raw` (a corrupt line). */
function parseLines(text: string): { letter?: DeadLetter; raw: string }[] {
  const out: { letter?: DeadLetter; raw: string }[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    out.push(isDeadLetter(json) ? { letter: json, raw } : { raw });
  }
  return out;
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

export class FileDeadLetterStore implements DeadLetterStore {
  /** Unparseable lines seen by the last list() or remove() (e.g. a line cut short by a crash).
   *  They are kept in the file verbatim; the CLI reports how many. */
  corruptLines = 0;
  /** Every operation runs after the previous one: appends never interleave, and a remove()'s
   *  read-rewrite cannot drop a letter added meanwhile. Across processes the same holds through
   *  `<path>.lock` (file-lock.ts): without it, another process's append to the old file would be
   *  lost when remove() renames the rewritten file over it. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly lock: LockOptions = {},
  ) {}

  add(letter: DeadLetter): Promise<void> {
    return this.serial(true, async () => {
      const fh = await open(this.path, 'a+');
      try {
        // A crash mid-append can leave a last line without its newline; start on a fresh line so
        // the half line stays one corrupt line and does not swallow this letter too.
        const { size } = await fh.stat();
        let prefix = '';
        if (size > 0) {
          const last = Buffer.alloc(1);
          await fh.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) prefix = '\n';
        }
        // One write of a whole line (O_APPEND): a crash leaves at worst one partial last line.
        await fh.write(`${prefix}${JSON.stringify(letter)}\n`);
      } finally {
        await fh.close();
      }
    });
  }

  list(): Promise<DeadLetter[]> {
    return this.serial(false, async () => {
      const lines = parseLines(await readOrEmpty(this.path));
      const letters = lines.flatMap((l) => (l.letter ? [l.letter] : []));
      this.corruptLines = lines.length - letters.length;
      return letters;
    });
  }

  remove(ids: readonly string[]): Promise<void> {
    return this.serial(false, async () => {
      const drop = new Set(ids);
      const lines = parseLines(await readOrEmpty(this.path));
      const kept = lines.filter((l) => !(l.letter && drop.has(l.letter.id)));
      this.corruptLines = lines.filter((l) => !l.letter).length;
      if (kept.length === lines.length) return;
      // Corrupt lines are kept verbatim: deleting data is for the user to decide, not a replay.
      const text = kept.map((l) => `${l.raw}\n`).join('');
      // Atomic replace: a temp file in the same directory (same filesystem) renamed over the old
      // one, so a crash leaves either the old or the new file, never a half-written one.
      const tmp = `${this.path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
      try {
        await writeFile(tmp, text);
        await rename(tmp, this.path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    });
  }

  /** `create`: make the parent directory; otherwise a missing one means no file, nothing to lock. */
  private serial<T>(create: boolean, op: () => Promise<T>): Promise<T> {
    const locked = async () => {
      if (create) await mkdir(dirname(this.path), { recursive: true });
      else if (!(await stat(dirname(this.path)).catch(() => undefined))) return op();
      return withFileLock(this.path, op, this.lock);
    };
    const run = this.tail.then(locked);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** Same behaviour, no disk: tests and --dry-run (which must not write anything). */
export class InMemoryDeadLetterStore implements DeadLetterStore {
  private letters: DeadLetter[] = [];

  async add(letter: DeadLetter): Promise<void> {
    this.letters.push(structuredClone(letter));
  }

  async list(): Promise<DeadLetter[]> {
    return structuredClone(this.letters);
  }

  async remove(ids: readonly string[]): Promise<void> {
    const drop = new Set(ids);
    this.letters = this.letters.filter((l) => !drop.has(l.id));
  }
}
