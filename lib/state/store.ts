// The state port: what outlives one process or one Lambda invocation (issue 14, item 2). Shaped as
// powertools' persistence layer: one small interface, a cloud adapter (DynamoDB, dynamo-store.ts),
// a local one (JSON lines under a lock, file-store.ts) and an in-memory one (memory-store.ts), all
// with the same behaviour. A few operations cover what uses it: the digest memo (get/put), run
// records (counters: add; settled markers: put if absent; the last runs: query, newest first), and
// what comes next (a transfer state shared across workers: put if the version matches; a claim
// with a lease: put if absent with a TTL, where an expired item counts as absent).
import { randomBytes } from 'node:crypto';

/** Flat values only: every adapter stores them as they are, and counters are plain numbers. */
export type StateValue = string | number | boolean;
export type StateData = Record<string, StateValue>;

/** `group` is a partition (DynamoDB's partition key), `id` orders items within it (the sort key). */
export interface StateKey {
  group: string;
  id: string;
}

export interface StateRecord extends StateKey {
  data: StateData;
  /** Opaque, changes on every write: the token for `ifVersion`. */
  version: string;
  /** Seconds since the epoch after which the item reads as absent (DynamoDB's TTL attribute). */
  expiresAt?: number;
}

export interface PutOptions {
  /** Write only when no live item has this key (an expired one is absent: a lapsed lease). */
  ifAbsent?: boolean;
  /** Write only when the live item's version is this one (optimistic concurrency). */
  ifVersion?: string;
  /** The item expires this many seconds from now. */
  ttlSeconds?: number;
}

export interface AddOptions {
  /** Fields written as given, in the same atomic update. */
  set?: StateData;
  /** An item without an expiry gets one, this many seconds from now; an existing expiry is kept. */
  ttlSeconds?: number;
}

export interface QueryOptions {
  /** Only ids starting with this. */
  prefix?: string;
  /** At most this many items (default 100). */
  limit?: number;
  /** Highest id first: run ids start with their time, so this is newest first. */
  descending?: boolean;
}

export interface StateStore {
  /** What the store is, for messages: `state table NAME`, `state file DIR`, `memory`. */
  readonly where: string;
  /** The live item, or undefined (absent or expired). */
  get(key: StateKey): Promise<StateRecord | undefined>;
  /** Replace the item; false (nothing written) when a condition does not hold. */
  put(key: StateKey, data: StateData, opts?: PutOptions): Promise<boolean>;
  /**
   * Add to numeric fields atomically (a missing item or field starts at 0; a negative delta
   * subtracts), with `set` fields in the same write; returns the item as written.
   */
  add(key: StateKey, deltas: Record<string, number>, opts?: AddOptions): Promise<StateRecord>;
  /** false when `ifVersion` does not match the live item. */
  delete(key: StateKey, opts?: { ifVersion?: string }): Promise<boolean>;
  /** Live items of a group in id order. */
  query(group: string, opts?: QueryOptions): Promise<StateRecord[]>;
  /** One cheap read that fails with a one-line error when the store cannot be used (cold start). */
  probe?(): Promise<void>;
}

/** Attribute names the adapters keep for themselves; data fields may not use them. */
export const RESERVED_FIELDS: ReadonlySet<string> = new Set(['pk', 'sk', 'v', 'expiresAt']);

const GROUP = /^[A-Za-z0-9#:._-]{1,200}$/;
const FIELD = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/** A programming error, not the user's: a key or field the adapters could not store alike. */
export function checkKey(key: StateKey): void {
  if (!GROUP.test(key.group)) throw new TypeError(`state: invalid group "${key.group}"`);
  // DynamoDB's sort key: at most 1024 bytes.
  if (key.id === '' || Buffer.byteLength(key.id) > 1024) throw new TypeError(`state: invalid id in group ${key.group}`);
}

export function checkData(data: StateData): void {
  for (const [k, v] of Object.entries(data)) {
    if (!FIELD.test(k) || RESERVED_FIELDS.has(k)) throw new TypeError(`state: invalid field name "${k}"`);
    if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError(`state: field ${k} is not a finite number`);
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new TypeError(`state: field ${k} is not a string, number or boolean`);
  }
}

export function newVersion(): string {
  return randomBytes(9).toString('base64url');
}

export function nowSeconds(nowMs = Date.now()): number {
  return Math.floor(nowMs / 1000);
}

/** An item as the local adapters hold it (the record without its key). */
export interface StoredItem {
  data: StateData;
  version: string;
  expiresAt?: number;
}

/** The item unless it has expired. */
export function live(item: StoredItem | undefined, now: number): StoredItem | undefined {
  return item && (item.expiresAt === undefined || item.expiresAt > now) ? item : undefined;
}

/** What a put makes of the current item, or undefined when its condition fails (memory and file adapters). */
export function applyPut(current: StoredItem | undefined, data: StateData, opts: PutOptions, now: number, version: string): StoredItem | undefined {
  const was = live(current, now);
  if (opts.ifAbsent && was) return undefined;
  if (opts.ifVersion !== undefined && was?.version !== opts.ifVersion) return undefined;
  return { data: { ...data }, version, ...(opts.ttlSeconds !== undefined ? { expiresAt: now + opts.ttlSeconds } : {}) };
}

/** What an add makes of the current item; an expired item starts over. */
export function applyAdd(current: StoredItem | undefined, deltas: Record<string, number>, opts: AddOptions, now: number, version: string): StoredItem {
  const was = live(current, now);
  const data: StateData = { ...(was?.data ?? {}), ...(opts.set ?? {}) };
  for (const [k, d] of Object.entries(deltas)) {
    const n = data[k] ?? 0;
    if (typeof n !== 'number') throw new TypeError(`state: field ${k} is not a number`);
    data[k] = n + d;
  }
  const expiresAt = was?.expiresAt ?? (opts.ttlSeconds !== undefined ? now + opts.ttlSeconds : undefined);
  return { data, version, ...(expiresAt !== undefined ? { expiresAt } : {}) };
}

/** The live items of a map of id -> item, filtered, ordered and limited as a query asks. */
export function queryItems(group: string, items: Iterable<[string, StoredItem]>, opts: QueryOptions, now: number): StateRecord[] {
  const prefix = opts.prefix ?? '';
  const found = [...items].filter(([id, item]) => id.startsWith(prefix) && live(item, now));
  found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (opts.descending) found.reverse();
  return found.slice(0, opts.limit ?? 100).map(([id, item]) => recordOf({ group, id }, item));
}

export function recordOf(key: StateKey, item: StoredItem): StateRecord {
  return { group: key.group, id: key.id, data: { ...item.data }, version: item.version, ...(item.expiresAt !== undefined ? { expiresAt: item.expiresAt } : {}) };
}
