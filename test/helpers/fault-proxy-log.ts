// What the fault proxy (fault-proxy.ts) saw and did, for assertions and figures: every request with
// the status it got and the fault injected, counters by route and by fault kind on each side, and the
// blobs committed at the destination in order (so a test can check that a blob committed before a
// SIGKILL is not committed again after it).
import { FAULT_KINDS, type FaultKind, ROUTES, type Route, type Side } from './fault-proxy-plan.js';

export interface RequestRecord {
  side: Side;
  method: string;
  /** The request target as received, query included. */
  path: string;
  route: Route;
  /** The status the client got; 0 when it got none (reset, lost response). */
  status: number;
  fault: FaultKind | 'none';
  /** Not a fault but the proxy's rule: a spent pull budget, or Authorization sent to the CDN. */
  refused?: 'budget' | 'authorization';
  /** Arrival, Date.now() ms. */
  at: number;
}

export interface BlobCommit {
  repository: string;
  digest: string;
  /** An upload PUT answered 201, or a mount (POST ?mount=) answered 201. */
  via: 'put' | 'mount';
  /** When the registry's 201 reached the proxy, Date.now() ms. */
  at: number;
}

export interface SideStats {
  requests: number;
  faults: number;
  byRoute: Record<Route, number>;
  byFault: Record<FaultKind, number>;
  /** Requests answered by a rule of the proxy (spent budget, Authorization at the CDN). */
  refused: { budget: number; authorization: number };
}

export interface FaultStats {
  registry: SideStats;
  cdn: SideStats;
  /** Both sides together. */
  requests: number;
  faults: number;
}

const zeros = <K extends string>(keys: readonly K[]): Record<K, number> =>
  Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

function sideStats(records: RequestRecord[]): SideStats {
  const s: SideStats = { requests: 0, faults: 0, byRoute: zeros(ROUTES), byFault: zeros(FAULT_KINDS), refused: { budget: 0, authorization: 0 } };
  for (const r of records) {
    s.requests++;
    s.byRoute[r.route]++;
    if (r.fault !== 'none') {
      s.faults++;
      s.byFault[r.fault]++;
    }
    if (r.refused) s.refused[r.refused]++;
  }
  return s;
}

/** A mark is a position in both logs: `stats(mark)` and `commitsSince(mark)` count from there. */
export interface LogMark { records: number; commits: number }

export class FaultLog {
  readonly records: RequestRecord[] = [];
  readonly commits: BlobCommit[] = [];

  add(r: RequestRecord): void {
    this.records.push(r);
  }

  commit(c: BlobCommit): void {
    this.commits.push(c);
  }

  mark(): LogMark {
    return { records: this.records.length, commits: this.commits.length };
  }

  since(mark: LogMark = { records: 0, commits: 0 }): RequestRecord[] {
    return this.records.slice(mark.records);
  }

  commitsSince(mark: LogMark = { records: 0, commits: 0 }): BlobCommit[] {
    return this.commits.slice(mark.commits);
  }

  stats(mark?: LogMark): FaultStats {
    const records = this.since(mark);
    const registry = sideStats(records.filter((r) => r.side === 'registry'));
    const cdn = sideStats(records.filter((r) => r.side === 'cdn'));
    return { registry, cdn, requests: registry.requests + cdn.requests, faults: registry.faults + cdn.faults };
  }
}

/** `repository@digest`, the identity of a commit for "committed twice" checks. */
export const commitKey = (c: BlobCommit): string => `${c.repository}@${c.digest}`;
