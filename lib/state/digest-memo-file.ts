// The digest memo as a JSON-lines file next to the DLQ (`.swr-migrate/digests.jsonl`). Append-only:
// each new fact is one line written with a single O_APPEND write, so two processes writing at once
// interleave whole lines and lose nothing, and a crash can at worst tear the last line, which the
// reader skips. Facts never change (a conversion is a pure function), so nothing is ever rewritten;
// a key written twice by two runs just appears twice with the same value.
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { type DigestMemo, type MemoEntry, memoEntryFrom, memoKey } from './digest-memo.js';

export const MEMO_FILE_NAME = 'digests.jsonl';

/** The memo lives in the same directory as the DLQ file: one place for a run's local state. */
export function memoPathFor(dlqPath: string): string {
  return join(dirname(dlqPath), MEMO_FILE_NAME);
}

export class FileDigestMemo implements DigestMemo {
  /** Lines that did not parse to an entry on load (a torn line, a hand edit). */
  corruptLines = 0;
  private loaded?: Promise<Map<string, MemoEntry>>;
  private tail: Promise<unknown> = Promise.resolve();
  private warned = false;
  /** The file ended mid-line (a crash while appending): the next append starts a new line first. */
  private torn = false;

  constructor(
    readonly path: string,
    private readonly logger?: Logger,
  ) {}

  async get(sourceDigest: string, transform: string): Promise<MemoEntry | undefined> {
    return (await this.entries()).get(memoKey(sourceDigest, transform));
  }

  async put(sourceDigest: string, transform: string, entry: MemoEntry): Promise<void> {
    const entries = await this.entries();
    const key = memoKey(sourceDigest, transform);
    const known = entries.get(key);
    if (known?.digest === entry.digest && known.detail === entry.detail && known.filtered === entry.filtered) return;
    entries.set(key, entry);
    const record = `${JSON.stringify({ source: sourceDigest, transform, ...entry })}\n`;
    const write = this.tail.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const line = this.torn ? `\n${record}` : record;
      this.torn = false;
      await appendFile(this.path, line);
    });
    this.tail = write.catch(() => undefined);
    await write.catch((err) => this.warnOnce('cannot write', err));
  }

  /** Read once per process; a missing or unreadable file is an empty memo (everything recomputes). */
  private entries(): Promise<Map<string, MemoEntry>> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  private async load(): Promise<Map<string, MemoEntry>> {
    const map = new Map<string, MemoEntry>();
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.warnOnce('cannot read', err);
      return map;
    }
    this.torn = text.length > 0 && !text.endsWith('\n');
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      let parsed: ReturnType<typeof memoEntryFrom>;
      try {
        parsed = memoEntryFrom(JSON.parse(raw));
      } catch {
        parsed = undefined;
      }
      if (!parsed) {
        this.corruptLines++;
        continue;
      }
      map.set(memoKey(parsed.source, parsed.transform), parsed.entry);
    }
    if (this.corruptLines) this.logger?.warn({ file: this.path, lines: this.corruptLines }, 'digest memo: skipped unreadable lines');
    return map;
  }

  private warnOnce(what: string, err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.logger?.warn({ file: this.path, err: errorMessage(err) }, `digest memo: ${what} the file; digests will be recomputed`);
  }
}
