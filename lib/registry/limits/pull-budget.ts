// A source's pull budget: what a registry's rate-limit headers mean, in one place (issue 13, item 1).
// The same rules hold for `sync`, `work`, `sync --queue-url` and the Lambda copier:
//   - A registry has a budget only when it states one: `ratelimit-limit` / `ratelimit-remaining`
//     (REFERENCE.md section 3: Docker Hub sends `100;w=21600` on every manifest response, HEAD
//     included, and on its 429; it counts manifest GETs only). A 429 that states nothing is a
//     throttle, not a budget: the HTTP layer backs off (Retry-After) under the one retry budget.
//   - The budget is spent when the registry said `remaining` 0 (on any response, the 429 included)
//     and its window has not turned over since (`refillAt`). Then no manifest GET is sent: the
//     transport answers RateBudgetError itself, and the image is left for later (or, with --pace,
//     waits for the window).
//   - Every manifest GET a copy makes is reserved first (pull-gate.ts): 1 for the top manifest, 1
//     per child it fetches, all of a conversion's at once. A reservation ends with its GET's
//     response, whose headers count that GET from then on.
//   - Once `refillAt` has passed, the next admission reads the budget again with one HEAD (free);
//     a HEAD that states no budget forgets it, so pacing ends.
// One tracker per source endpoint and login (registry/pool.ts), fed by the transport on every response.
import type { IncomingHttpHeaders } from 'node:http';
import { RateBudgetError } from '../../errors.js';
import { type Clock, realClock } from './push-budget.js';

export interface RateHeader {
  value: number;
  /** The window in seconds (`w=`), when given. */
  windowS?: number;
}

/** `100;w=21600` (or `100`, or `100, 100;w=21600` as some proxies repeat it) -> { value, windowS }. */
export function parseRateHeader(raw: string | string[] | undefined): RateHeader | undefined {
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (!text) return undefined;
  // The first policy is the one in force; later ones (comma-separated) are alternatives.
  const [first] = text.split(',');
  const [count, ...params] = first!.split(';').map((s) => s.trim());
  if (!count || !/^\d+$/.test(count)) return undefined;
  const out: RateHeader = { value: Number(count) };
  for (const p of params) {
    const m = /^w\s*=\s*(\d+)$/i.exec(p);
    if (m) out.windowS = Number(m[1]);
  }
  return out;
}

export interface RateBudgetSnapshot {
  limit?: number;
  remaining?: number;
  windowS?: number;
  /** `docker-ratelimit-source`: the IP or account Docker Hub counts against. */
  source?: string;
  /** Manifest GETs this run made. */
  gets: number;
}

/** When a registry states a budget without a window, look again after this long. */
const DEFAULT_WINDOW_S = 60;

export class PullBudget {
  private limit?: number;
  private remaining?: number;
  private windowS?: number;
  private source?: string;
  /** When `remaining` was last read (clock ms); undefined until then. */
  private seenAt: number | undefined;
  /** GETs reserved and not yet answered: the registry's `remaining` does not count them yet. */
  private reserved = 0;
  /** Manifest GETs sent. */
  gets = 0;

  constructor(
    readonly host: string,
    /** Credentials are configured for this source: the authenticated budget applies. */
    readonly authenticated: boolean,
    private readonly clock: Clock = realClock,
  ) {}

  /** Read any response's headers (the transport calls this for every one). True when they state a budget. */
  observe(headers: IncomingHttpHeaders): boolean {
    const remaining = parseRateHeader(headers['ratelimit-remaining']);
    const limit = parseRateHeader(headers['ratelimit-limit']);
    if (!remaining && !limit) return false;
    if (limit) this.limit = limit.value;
    if (remaining) this.remaining = remaining.value;
    this.windowS = remaining?.windowS ?? limit?.windowS ?? this.windowS;
    const src = headers['docker-ratelimit-source'];
    if (typeof src === 'string' && src) this.source = src;
    this.seenAt = this.clock.now();
    return true;
  }

  /** The last reading is stale and the registry stated nothing since (a probe without headers): no budget. */
  forget(): void {
    this.remaining = undefined;
    this.limit = undefined;
    this.seenAt = undefined;
    this.reserved = 0;
  }

  /** A manifest GET is being sent. */
  countGet(): void {
    this.gets++;
  }

  /** A manifest GET was answered (or failed): its reservation, if any, is over. */
  answered(): void {
    if (this.reserved > 0) this.reserved--;
  }

  /** The registry stated a budget (headers seen) and it was not forgotten since. */
  get known(): boolean {
    return this.remaining !== undefined;
  }

  /** When the last reading was taken (clock ms), for a probe to tell whether it read anything. */
  get readAt(): number | undefined {
    return this.seenAt;
  }

  /** GETs that may still be reserved: the last stated remaining, less reservations not yet answered. */
  available(): number {
    return this.remaining === undefined ? Infinity : this.remaining - this.reserved;
  }

  /**
   * Reserve `n` GETs; false when they do not fit. A batch larger than the whole limit could never
   * fit: it takes the full budget instead (one window's worth, then the next).
   */
  reserve(n: number): boolean {
    if (this.remaining === undefined) return true;
    const want = Math.max(1, Math.min(n, this.limit ?? n));
    if (this.available() < want) return false;
    this.reserved += want;
    return true;
  }

  /** Reservations that will not be used (the image stopped before its GETs). */
  unreserve(n: number): void {
    this.reserved = Math.max(0, this.reserved - n);
  }

  /** When the window has surely turned over since the budget was last read (clock ms). */
  refillAt(): number {
    return (this.seenAt ?? -Infinity) + (this.windowS ?? DEFAULT_WINDOW_S) * 1000;
  }

  windowTurned(): boolean {
    return this.clock.now() >= this.refillAt();
  }

  /** The registry itself said nothing is left, and the window has not turned over since. */
  spent(): boolean {
    return this.remaining !== undefined && this.remaining <= 0 && !this.windowTurned();
  }

  /** The error that leaves an image for later, naming when the window refills. */
  spentError(): RateBudgetError {
    const at = new Date(Date.now() + Math.max(0, this.refillAt() - this.clock.now()));
    return new RateBudgetError(this.host, this.describe(), at);
  }

  snapshot(): RateBudgetSnapshot {
    return { limit: this.limit, remaining: this.remaining, windowS: this.windowS, source: this.source, gets: this.gets };
  }

  /** "authenticated budget, 200 per 6 h" / "anonymous budget, 100 per 6 h". */
  describe(): string {
    const kind = this.authenticated ? 'authenticated' : 'anonymous';
    const per = this.limit === undefined ? '' : `, ${this.limit} manifest GETs per ${formatWindow(this.windowS)}`;
    return `${kind} budget${per}`;
  }
}

export function formatWindow(seconds: number | undefined): string {
  if (seconds === undefined) return 'window';
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** A manifest GET: the only request Docker Hub counts against the pull budget. */
export function isManifestGet(method: string, path: string): boolean {
  return method === 'GET' && /\/manifests\/[^/]+$/.test(path);
}
