// The state port as JSON-lines files in one directory (the CLI's `.swr-migrate/`, beside the DLQ).
// Each line is an item's whole state after a write (`{"_g":group,"_id":id,...fields,"_exp":s}`, or
// `"_del":true`); the last line of a key wins, so replaying the file in order rebuilds the store, and
// a line's byte offset is its version. Writes append under the file's lock (queue/file-lock.ts): the
// writer first reads what others appended, then checks its conditions against that, so two
// processes never lose each other's updates (a counter added to by both ends with both additions).
// A process batches its pending writes into one locked append. Reads need no lock: complete lines
// only; a line torn by a crash is skipped, counted, and closed by the next writer's newline.
// A group may live in its own file with a reader for the lines an older version wrote there without
// `_g`/`_id` (the digest memo's `digests.jsonl`): new lines carry the old fields too, so an older
// version still reads the file it shares with this one.
import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type LockOptions, withFileLock } from '../queue/file-lock.js';
import { JsonlLog, itemKey } from './jsonl-log.js';
import {
  type AddOptions,
  type PutOptions,
  type QueryOptions,
  type StateData,
  type StateKey,
  type StateRecord,
  type StateStore,
  type StoredItem,
  applyAdd,
  applyPut,
  checkData,
  checkKey,
  live,
  nowSeconds,
  queryItems,
  recordOf,
} from './store.js';

export interface FileGroup {
  /** The file's name in the directory. */
  file: string;
  /** A line without `_g`/`_id` (written before the state store): its id and data, or undefined (unreadable). */
  legacy?: (raw: Record<string, unknown>) => { id: string; data: StateData } | undefined;
}

export interface FileStateStoreOptions {
  /** Groups kept in their own file; every other group shares `state.jsonl`. */
  groups?: Record<string, FileGroup>;
  logger?: Logger;
  /** Milliseconds since the epoch (tests move it to expire items). */
  clock?: () => number;
  lock?: LockOptions;
  /** Rewrite a file holding more than this many lines, and 4 times its live items (default 20,000). */
  compactAfter?: number;
}

export const SHARED_STATE_FILE = 'state.jsonl';
const COMPACT_AFTER = 20_000;

type Op =
  | { kind: 'put'; key: StateKey; data: StateData; opts: PutOptions }
  | { kind: 'add'; key: StateKey; deltas: Record<string, number>; opts: AddOptions }
  | { kind: 'delete'; key: StateKey; ifVersion?: string };
type Pending = Op & { resolve(v: unknown): void; reject(e: unknown): void };

export class FileStateStore implements StateStore {
  readonly where: string;
  private readonly logs = new Map<string, JsonlLog<Pending>>();
  private readonly clock: () => number;
  private reported = 0;

  constructor(
    readonly dir: string,
    private readonly opts: FileStateStoreOptions = {},
  ) {
    this.where = `state file ${dir}`;
    this.clock = opts.clock ?? Date.now;
  }

  /** Lines skipped as unreadable, over every file read so far. */
  get corruptLines(): number {
    let n = 0;
    for (const log of this.logs.values()) n += log.corrupt;
    return n;
  }

  private logFor(group: string): JsonlLog<Pending> {
    const own = this.opts.groups?.[group];
    const file = own?.file ?? SHARED_STATE_FILE;
    let log = this.logs.get(file);
    if (!log) this.logs.set(file, (log = new JsonlLog<Pending>(join(this.dir, file), own ? group : undefined, own?.legacy)));
    return log;
  }

  private async read(log: JsonlLog<Pending>): Promise<void> {
    await log.serial(() => log.catchUp());
    this.reportCorrupt(log);
  }

  private reportCorrupt(log: JsonlLog<Pending>): void {
    const n = this.corruptLines;
    if (n > this.reported) this.opts.logger?.warn({ file: log.path, lines: n - this.reported }, 'state file: skipped unreadable lines');
    this.reported = n;
  }

  async get(key: StateKey): Promise<StateRecord | undefined> {
    checkKey(key);
    const log = this.logFor(key.group);
    await this.read(log);
    const item = live(log.items.get(itemKey(key.group, key.id)), nowSeconds(this.clock()));
    return item && recordOf(key, item);
  }

  async put(key: StateKey, data: StateData, opts: PutOptions = {}): Promise<boolean> {
    checkKey(key);
    checkData(data);
    return (await this.write({ kind: 'put', key, data, opts })) as boolean;
  }

  async add(key: StateKey, deltas: Record<string, number>, opts: AddOptions = {}): Promise<StateRecord> {
    checkKey(key);
    checkData({ ...deltas, ...(opts.set ?? {}) });
    return (await this.write({ kind: 'add', key, deltas, opts })) as StateRecord;
  }

  async delete(key: StateKey, opts: { ifVersion?: string } = {}): Promise<boolean> {
    checkKey(key);
    return (await this.write({ kind: 'delete', key, ...opts })) as boolean;
  }

  async query(group: string, opts: QueryOptions = {}): Promise<StateRecord[]> {
    checkKey({ group, id: '-' });
    const log = this.logFor(group);
    await this.read(log);
    const prefix = `${group}\u0000`;
    const mine = [...log.items].filter(([k]) => k.startsWith(prefix)).map(([k, v]): [string, StoredItem] => [k.slice(prefix.length), v]);
    return queryItems(group, mine, opts, nowSeconds(this.clock()));
  }

  /** Queue the write; one flush per file writes every write queued meanwhile under one lock. */
  private write(op: Op): Promise<unknown> {
    const log = this.logFor(op.key.group);
    return new Promise((resolve, reject) => {
      log.pending.push({ ...op, resolve, reject } as Pending);
      log.flushing ??= this.flush(log);
    });
  }

  private async compact(log: JsonlLog<Pending>, now: number): Promise<void> {
    if (log.lines <= (this.opts.compactAfter ?? COMPACT_AFTER)) return;
    try {
      if (await compactLog(log, now, this.opts.compactAfter ?? COMPACT_AFTER)) this.opts.logger?.debug({ file: log.path, items: log.items.size }, 'state file compacted');
    } catch (err) {
      // Only the file's size is at stake: the appended lines stand as they are.
      this.opts.logger?.warn({ file: log.path, err: String(err) }, 'state file: could not compact');
    }
  }

  private async flush(log: JsonlLog<Pending>): Promise<void> {
    try {
      while (log.pending.length) {
        const batch = log.pending.splice(0);
        await log.serial(() => this.writeBatch(log, batch)).catch((err: unknown) => batch.forEach((p) => p.reject(err)));
      }
    } finally {
      log.flushing = undefined;
    }
  }

  private async writeBatch(log: JsonlLog<Pending>, batch: Pending[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await withFileLock(
      log.path,
      async () => {
        const { size, clean } = await log.catchUp();
        // After a torn line, start ours on a line of its own.
        let pos = clean ? size : size + 1;
        let text = '';
        const staged = new Map<string, StoredItem | null>();
        const results: { ok?: unknown; err?: unknown }[] = [];
        const now = nowSeconds(this.clock());
        for (const op of batch) {
          try {
            const k = itemKey(op.key.group, op.key.id);
            const current = staged.has(k) ? (staged.get(k) ?? undefined) : log.items.get(k);
            const version = String(pos);
            let next: StoredItem | null | undefined;
            let ok: unknown;
            if (op.kind === 'put') {
              next = applyPut(current, op.data, op.opts, now, version);
              ok = next !== undefined;
            } else if (op.kind === 'add') {
              next = applyAdd(current, op.deltas, op.opts, now, version);
              ok = recordOf(op.key, next);
            } else {
              const was = live(current ?? undefined, now);
              ok = op.ifVersion === undefined || was?.version === op.ifVersion;
              next = ok && current ? null : undefined;
            }
            if (next !== undefined) {
              const line = lineFor(op.key, next);
              staged.set(k, next);
              text += `${line}\n`;
              pos += Buffer.byteLength(line) + 1;
            }
            results.push({ ok });
          } catch (err) {
            results.push({ err });
          }
        }
        if (text) await appendFile(log.path, clean ? text : `\n${text}`);
        // Seen at once in this process; the next read goes over these lines again (the same states
        // at the same offsets), so a line an older, lock-less writer slipped in is not skipped.
        for (const [k, item] of staged) {
          if (item) log.items.set(k, item);
          else log.items.delete(k);
        }
        await this.compact(log, now);
        batch.forEach((p, i) => ('err' in results[i]! ? p.reject(results[i]!.err) : p.resolve(results[i]!.ok)));
      },
      this.opts.lock,
    );
    this.reportCorrupt(log);
  }
}

/**
 * Under the file's lock: a file that holds mostly superseded states (each refresh of a pushed tag's
 * record appends one line: a scheduled run on 100,000 tags adds ~15 MB a day) is rewritten with one
 * line per live item, into a temporary file renamed over it. Readers in other processes see a new
 * inode and read it again from the start (jsonl-log.ts); a version (a byte offset) taken before
 * is then stale, so a conditional write on it fails as a lost race would.
 */
async function compactLog(log: JsonlLog<unknown>, now: number, limit: number): Promise<boolean> {
  await log.catchUp();
  const alive = [...log.items].filter(([, item]) => live(item, now));
  if (log.lines <= limit || log.lines <= 4 * alive.length) return false;
  const text = alive.map(([k, item]) => {
    const cut = k.indexOf('\u0000');
    return `${lineFor({ group: k.slice(0, cut), id: k.slice(cut + 1) }, item)}\n`;
  }).join('');
  const tmp = `${log.path}.compact-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, log.path);
  await log.catchUp();
  return true;
}

function lineFor(key: StateKey, item: StoredItem | null): string {
  if (!item) return JSON.stringify({ _g: key.group, _id: key.id, _del: true });
  return JSON.stringify({ _g: key.group, _id: key.id, ...item.data, ...(item.expiresAt !== undefined ? { _exp: item.expiresAt } : {}) });
}
