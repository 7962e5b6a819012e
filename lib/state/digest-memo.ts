// A memo of digests that a conversion produced: (source digest, transform) -> converted digest.
// A conversion is a pure function of the source manifest, so the answer never goes stale; it only
// saves the GET that recomputing it costs (Docker Hub counts manifest GETs as pulls, HEADs not).
// A memo that is missing or unreadable only costs that GET. An entry is trusted while the
// destination holds its digest (callers HEAD it), and recomputed when it does not; so only a
// hand-made entry naming another image that is present could hide a difference (delete the file).
// The memo is one use of the state port (store.ts): group `memo`, one item per (source digest,
// transform), in a file beside the DLQ for the CLI (digest-memo-file.ts), in the DynamoDB state
// table on Lambda (SWRM_STATE_TABLE), so that a cold container knows what a warm one learnt.
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { isDigest } from '../oci/digest.js';
import { MemoryStateStore } from './memory-store.js';
import type { StateData, StateKey, StateStore } from './store.js';

export interface MemoEntry {
  /** The digest the transform produced (equal to the source's when it changed nothing, or filtered it). */
  digest: string;
  /** What the transform did, for reports (e.g. "platforms kept: ...; dropped: ..."), or why it filtered. */
  detail?: string;
  /**
   * The platform filter wants none of this image: nothing is pushed. Remembered so that a re-run
   * needs no manifest GET (nor config GET) to say so again. It is trusted as it stands (the source
   * digest fixes the manifest, hence the config, hence the platform), whatever the destination holds.
   */
  filtered?: true;
}

export interface DigestMemo {
  /** undefined when unknown: the caller recomputes. Never throws. */
  get(sourceDigest: string, transform: string): Promise<MemoEntry | undefined>;
  /** Best effort: a memo that cannot be written never fails a copy. */
  put(sourceDigest: string, transform: string, entry: MemoEntry): Promise<void>;
}

export function memoKey(sourceDigest: string, transform: string): string {
  return `${transform}\u0000${sourceDigest}`;
}

/** A valid entry, or undefined for anything else (a hand-edited or torn record). */
export function memoEntryFrom(raw: unknown): { source: string; transform: string; entry: MemoEntry } | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.source !== 'string' || !isDigest(r.source)) return undefined;
  if (typeof r.digest !== 'string' || !isDigest(r.digest)) return undefined;
  if (typeof r.transform !== 'string' || r.transform === '') return undefined;
  const detail = typeof r.detail === 'string' ? r.detail : undefined;
  const filtered = r.filtered === true ? { filtered: true as const } : {};
  return { source: r.source, transform: r.transform, entry: { digest: r.digest, ...(detail ? { detail } : {}), ...filtered } };
}

/** The memo's group in a state store. */
export const MEMO_GROUP = 'memo';

/** A fact's key in the store: the source digest has no `|`, so the pair is unambiguous. */
export function memoStateKey(sourceDigest: string, transform: string): StateKey {
  return { group: MEMO_GROUP, id: `${sourceDigest}|${transform}` };
}

/** A fact as stored: the fields of a `digests.jsonl` line, so older versions read the file too. */
export function memoData(sourceDigest: string, transform: string, entry: MemoEntry): StateData {
  return { source: sourceDigest, transform, digest: entry.digest, ...(entry.detail ? { detail: entry.detail } : {}), ...(entry.filtered ? { filtered: true } : {}) };
}

/**
 * The memo over any state store. Facts never change, so what this process read or wrote is kept
 * in memory too (a warm Lambda container asks the table once per fact), and a known fact is not
 * written again. A store that fails only costs the GET it would have saved: warned once.
 */
export class StoreDigestMemo implements DigestMemo {
  private readonly known = new Map<string, MemoEntry>();
  private warned = false;

  constructor(
    readonly store: StateStore,
    private readonly logger?: Logger,
  ) {}

  async get(sourceDigest: string, transform: string): Promise<MemoEntry | undefined> {
    const k = memoKey(sourceDigest, transform);
    const hit = this.known.get(k);
    if (hit) return hit;
    try {
      const rec = await this.store.get(memoStateKey(sourceDigest, transform));
      const found = rec && memoEntryFrom(rec.data);
      if (!found || found.source !== sourceDigest || found.transform !== transform) return undefined;
      this.known.set(k, found.entry);
      return found.entry;
    } catch (err) {
      this.warnOnce('cannot read', err);
      return undefined;
    }
  }

  async put(sourceDigest: string, transform: string, entry: MemoEntry): Promise<void> {
    const k = memoKey(sourceDigest, transform);
    const known = this.known.get(k);
    if (known?.digest === entry.digest && known.detail === entry.detail && known.filtered === entry.filtered) return;
    this.known.set(k, entry);
    try {
      await this.store.put(memoStateKey(sourceDigest, transform), memoData(sourceDigest, transform, entry));
    } catch (err) {
      this.warnOnce('cannot write', err);
    }
  }

  private warnOnce(what: string, err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.logger?.warn({ store: this.store.where, err: errorMessage(err) }, `digest memo: ${what} ${this.store.where}; digests will be recomputed`);
  }
}

/** One process's memo (tests, `copy`, or a run without a state directory or table). */
export class InMemoryDigestMemo extends StoreDigestMemo {
  constructor() {
    super(new MemoryStateStore());
  }
}
