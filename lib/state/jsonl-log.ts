// One JSON-lines file of the file state store (file-store.ts) and the items it holds, read
// incrementally: each read applies the complete lines appended since the last one, a line's byte
// offset is its version, and a trailing line without its newline is counted as unreadable once
// (torn by a crash, or still being written: then it is read when complete).
import { open } from 'node:fs/promises';
import type { StateData, StoredItem } from './store.js';
import type { FileGroup } from './file-store.js';

export const itemKey = (group: string, id: string) => `${group}\u0000${id}`;

/** One JSON-lines file and the items it holds, read incrementally from `offset`. */
export class JsonlLog<P = unknown> {
  readonly items = new Map<string, StoredItem>();
  corrupt = 0;
  /** Complete lines in the file as read (superseded states included): what compaction weighs. */
  lines = 0;
  private offset = 0;
  private ino?: number;
  /** Where a trailing line without its newline starts (counted as corrupt once). */
  private partialAt?: number;
  private chain: Promise<unknown> = Promise.resolve();
  /** Writes queued for the next locked append (file-store.ts). */
  pending: P[] = [];
  flushing?: Promise<void>;

  constructor(
    readonly path: string,
    private readonly group?: string,
    private readonly legacy?: FileGroup['legacy'],
  ) {}

  /** Reads and writes of this file take turns within the process. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Apply the complete lines appended since the last read; the size read and whether it ends with a newline. */
  async catchUp(): Promise<{ size: number; clean: boolean }> {
    let fh;
    try {
      fh = await open(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (this.offset > 0) this.reset(); // deleted: an empty store from now on
      return { size: 0, clean: true };
    }
    try {
      const st = await fh.stat();
      // Replaced or cut (a user deleted and a run recreated it): read it again from the start.
      if (st.ino !== this.ino || st.size < this.offset) this.reset();
      this.ino = st.ino;
      const len = st.size - this.offset;
      if (len <= 0) return { size: st.size, clean: this.partialAt === undefined };
      const buf = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await fh.read(buf, got, len - got, this.offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const end = buf.subarray(0, got).lastIndexOf(0x0a) + 1;
      let at = 0;
      while (at < end) {
        const nl = buf.indexOf(0x0a, at);
        this.applyLine(buf.toString('utf8', at, nl), this.offset + at);
        at = nl + 1;
      }
      this.offset += end;
      const clean = end === got;
      if (!clean && this.partialAt !== this.offset) {
        this.corrupt++;
        this.partialAt = this.offset;
      }
      return { size: this.offset + (got - end), clean };
    } finally {
      await fh.close();
    }
  }

  private reset(): void {
    this.items.clear();
    this.lines = 0;
    this.offset = 0;
    this.partialAt = undefined;
  }

  private applyLine(line: string, at: number): void {
    this.lines++;
    const wasPartial = this.partialAt === at;
    if (wasPartial) this.partialAt = undefined;
    const parsed = line.trim() === '' ? null : this.parse(line);
    if (parsed === undefined) {
      // A torn line was counted when it was seen without its newline.
      if (!wasPartial) this.corrupt++;
      return;
    }
    if (wasPartial) this.corrupt--; // it was only being written
    if (parsed === null) return;
    const k = itemKey(parsed.group, parsed.id);
    if (parsed.deleted) this.items.delete(k);
    else this.items.set(k, { data: parsed.data, version: String(at), ...(parsed.expiresAt !== undefined ? { expiresAt: parsed.expiresAt } : {}) });
  }

  private parse(line: string): { group: string; id: string; data: StateData; expiresAt?: number; deleted: boolean } | undefined {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return undefined;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
    const r = raw as Record<string, unknown>;
    if (typeof r._g === 'string' && typeof r._id === 'string') {
      const data: StateData = {};
      for (const [k, v] of Object.entries(r)) {
        if (k.startsWith('_')) continue;
        if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) data[k] = v;
      }
      return { group: r._g, id: r._id, data, deleted: r._del === true, ...(typeof r._exp === 'number' ? { expiresAt: r._exp } : {}) };
    }
    const old = this.group !== undefined ? this.legacy?.(r) : undefined;
    return old && { group: this.group!, id: old.id, data: old.data, deleted: false };
  }
}
