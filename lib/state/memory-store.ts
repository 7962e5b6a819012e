// The state port in one process's memory: tests, and a run that keeps nothing (the Lambda copier
// without SWRM_STATE_TABLE, the CLI's queue workers). Same conditions and expiry as the others.
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
  newVersion,
  nowSeconds,
  queryItems,
  recordOf,
} from './store.js';

export class MemoryStateStore implements StateStore {
  readonly where = 'memory';
  private readonly groups = new Map<string, Map<string, StoredItem>>();

  /** `clock`: milliseconds since the epoch (tests move it to expire items). */
  constructor(private readonly clock: () => number = Date.now) {}

  private group(name: string): Map<string, StoredItem> {
    let g = this.groups.get(name);
    if (!g) this.groups.set(name, (g = new Map()));
    return g;
  }

  async get(key: StateKey): Promise<StateRecord | undefined> {
    checkKey(key);
    const item = live(this.groups.get(key.group)?.get(key.id), nowSeconds(this.clock()));
    return item && recordOf(key, item);
  }

  async put(key: StateKey, data: StateData, opts: PutOptions = {}): Promise<boolean> {
    checkKey(key);
    checkData(data);
    const g = this.group(key.group);
    const next = applyPut(g.get(key.id), data, opts, nowSeconds(this.clock()), newVersion());
    if (!next) return false;
    g.set(key.id, next);
    return true;
  }

  async add(key: StateKey, deltas: Record<string, number>, opts: AddOptions = {}): Promise<StateRecord> {
    checkKey(key);
    checkData({ ...deltas, ...(opts.set ?? {}) });
    const g = this.group(key.group);
    const next = applyAdd(g.get(key.id), deltas, opts, nowSeconds(this.clock()), newVersion());
    g.set(key.id, next);
    return recordOf(key, next);
  }

  async delete(key: StateKey, opts: { ifVersion?: string } = {}): Promise<boolean> {
    checkKey(key);
    const g = this.groups.get(key.group);
    const was = live(g?.get(key.id), nowSeconds(this.clock()));
    if (opts.ifVersion !== undefined && was?.version !== opts.ifVersion) return false;
    g?.delete(key.id);
    return true;
  }

  async query(group: string, opts: QueryOptions = {}): Promise<StateRecord[]> {
    checkKey({ group, id: '-' });
    return queryItems(group, this.groups.get(group) ?? [], opts, nowSeconds(this.clock()));
  }
}
