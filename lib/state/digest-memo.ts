// A memo of digests that a conversion produced: (source digest, transform) -> converted digest.
// A conversion is a pure function of the source manifest, so the answer never goes stale; it only
// saves the GET that recomputing it costs (Docker Hub counts manifest GETs as pulls, HEADs not).
// A memo that is missing or unreadable only costs that GET. An entry is trusted while the
// destination holds its digest (callers HEAD it), and recomputed when it does not; so only a
// hand-made entry naming another image that is present could hide a difference (delete the file).
// Port shape as powertools' persistence layer: one interface, a file and an in-memory adapter; the
// Lambda deployment can add a shared one (e.g. DynamoDB) behind the same two methods.
import { isDigest } from '../oci/digest.js';

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

/** One process's memo (tests, `copy`, or a run without a state directory). */
export class InMemoryDigestMemo implements DigestMemo {
  readonly entries = new Map<string, MemoEntry>();
  async get(sourceDigest: string, transform: string): Promise<MemoEntry | undefined> {
    return this.entries.get(memoKey(sourceDigest, transform));
  }
  async put(sourceDigest: string, transform: string, entry: MemoEntry): Promise<void> {
    this.entries.set(memoKey(sourceDigest, transform), entry);
  }
}
