// Dead-letter stores for the embedded queue: a JSON-lines file (what `sync` writes and `replay`
// reads back, the local counterpart of the SQS DLQ) and an in-memory one for tests and --dry-run.
// Both keep one letter per image (letters.ts): a re-failure replaces the image's old letter.
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type LockOptions, withFileLock } from './file-lock.js';
import { deadLetterBody, letterKey } from './letters.js';
import type { DeadLetter, DeadLetterStore } from './types.js';

export { DEFAULT_DLQ_PATH } from './dlq-path.js';

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
  /** The images (letterKey) with a letter in the file as we last wrote or read it, and the file's
   *  identity then: while nobody else wrote to it, an add() needs no read to know whether it
   *  replaces a letter, so a sync that dead-letters 10,000 images appends 10,000 times. */
  private index: { ino: number; size: number; mtimeMs: number; keys: Set<string> } | undefined;

  constructor(
    readonly path: string,
    private readonly lock: LockOptions = {},
  ) {}

  /** One letter per image: a letter for an image already in the file replaces the old one. */
  add(letter: DeadLetter): Promise<void> {
    return this.addAll([letter]);
  }

  /**
   * Add letters, each replacing any letter for the same image (letters.ts letterKey), and remove
   * the letters `drop` names, in one step: a replay's fresh letters and its recovered ones are
   * written by one atomic rewrite, so a crash leaves the old file or the new one. Bodies are stored
   * as deadLetterBody gives them: a valid message byte for byte, anything else masked.
   */
  addAll(letters: readonly DeadLetter[], drop: readonly string[] = []): Promise<void> {
    const fresh = new Map<string, DeadLetter>();
    for (const l of letters) {
      const stored = { ...l, body: deadLetterBody(l.body) };
      const key = letterKey(stored.body);
      fresh.delete(key); // the last of a batch wins, and goes last
      fresh.set(key, stored);
    }
    const dropIds = new Set(drop);
    return this.serial(fresh.size > 0, async () => {
      if (!fresh.size && !dropIds.size) return;
      const keys = await this.keys();
      if (!dropIds.size && ![...fresh.keys()].some((k) => keys.has(k))) return this.append([...fresh.values()], [...fresh.keys()]);
      const lines = parseLines(await readOrEmpty(this.path));
      const kept = lines.filter((l) => !(l.letter && (dropIds.has(l.letter.id) || fresh.has(letterKey(l.letter.body)))));
      if (kept.length === lines.length && !fresh.size) return;
      // Corrupt lines are kept verbatim: deleting data is for the user to decide, not a replay.
      await this.rewrite([...kept.map((l) => l.raw), ...[...fresh.values()].map((l) => JSON.stringify(l))]);
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
      await this.rewrite(kept.map((l) => l.raw));
    });
  }

  /** The images with a letter in the file: from the index while the file is as we left it. */
  private async keys(): Promise<Set<string>> {
    const st = await stat(this.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!st) {
      this.index = undefined;
      return new Set();
    }
    const i = this.index;
    if (i && i.ino === st.ino && i.size === st.size && i.mtimeMs === st.mtimeMs) return i.keys;
    const lines = parseLines(await readFile(this.path, 'utf8'));
    const keys = new Set(lines.flatMap((l) => (l.letter ? [letterKey(l.letter.body)] : [])));
    this.index = { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, keys };
    return keys;
  }

  private async append(letters: DeadLetter[], keys: string[]): Promise<void> {
    const known = this.index;
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
      // One write of whole lines (O_APPEND): a crash leaves at worst one partial last line.
      await fh.write(`${prefix}${letters.map((l) => `${JSON.stringify(l)}\n`).join('')}`);
      const st = await fh.stat();
      // keys() just described the file as it was before this append (or found none).
      const before = known && known.ino === st.ino && known.size === size ? known.keys : size === 0 ? new Set<string>() : undefined;
      this.index = before ? { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, keys: new Set([...before, ...keys]) } : undefined;
    } finally {
      await fh.close();
    }
  }

  /** Atomic replace: a temp file in the same directory (same filesystem) renamed over the old one,
   *  so a crash leaves either the old or the new file, never a half-written one. */
  private async rewrite(lines: string[]): Promise<void> {
    this.index = undefined;
    const tmp = `${this.path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
    try {
      await writeFile(tmp, lines.map((l) => `${l}\n`).join(''));
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
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
    return this.addAll([letter]);
  }

  async addAll(letters: readonly DeadLetter[], drop: readonly string[] = []): Promise<void> {
    const dropIds = new Set(drop);
    this.letters = this.letters.filter((l) => !dropIds.has(l.id));
    for (const l of letters) {
      const stored = { ...structuredClone(l), body: deadLetterBody(l.body) };
      const key = letterKey(stored.body);
      this.letters = this.letters.filter((old) => letterKey(old.body) !== key);
      this.letters.push(stored);
    }
  }

  async list(): Promise<DeadLetter[]> {
    return structuredClone(this.letters);
  }

  async remove(ids: readonly string[]): Promise<void> {
    const drop = new Set(ids);
    this.letters = this.letters.filter((l) => !drop.has(l.id));
  }
}
