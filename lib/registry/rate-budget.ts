// A registry's pull budget as its own headers state it (REFERENCE.md section 3: Docker Hub sends
// `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600` on manifest responses, HEAD
// included, and counts only manifest GETs: 100 per 6 h anonymous, 200 authenticated). Generic: any
// registry that sends these headers gets a tracker that knows something; the others stay unknown.
// One tracker per source endpoint and login (registry/pool.ts), fed by the transport on every response.
import type { IncomingHttpHeaders } from 'node:http';
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

export class RateBudgetTracker {
  private limit?: number;
  private remaining?: number;
  private windowS?: number;
  private source?: string;
  /** When `remaining` was last read (clock ms). */
  private seenAt = -Infinity;
  /** Images admitted but not finished: their GETs may not have shown in `remaining` yet. */
  private inFlight = 0;
  gets = 0;

  constructor(
    readonly host: string,
    /** Credentials are configured for this source: the authenticated budget applies. */
    readonly authenticated: boolean,
    private readonly clock: Clock = realClock,
  ) {}

  /** Read the headers of any response (the transport calls this for every one). */
  observe(headers: IncomingHttpHeaders): void {
    const remaining = parseRateHeader(headers['ratelimit-remaining']);
    const limit = parseRateHeader(headers['ratelimit-limit']);
    if (!remaining && !limit) return;
    if (limit) this.limit = limit.value;
    if (remaining) this.remaining = remaining.value;
    this.windowS = remaining?.windowS ?? limit?.windowS ?? this.windowS;
    const src = headers['docker-ratelimit-source'];
    if (typeof src === 'string' && src) this.source = src;
    this.seenAt = this.clock.now();
  }

  /** A 429 TOOMANYREQUESTS: whatever the last header said, nothing is left now. */
  exhausted(): void {
    this.remaining = 0;
    this.seenAt = this.clock.now();
  }

  countGet(): void {
    this.gets++;
  }

  /** The registry stated a budget (headers seen). */
  get known(): boolean {
    return this.remaining !== undefined;
  }

  /** GETs we may still start: the last stated remaining, less images admitted and not yet settled. */
  available(): number {
    return this.remaining === undefined ? Infinity : this.remaining - this.inFlight;
  }

  /** Take one image's worth of budget; false when none is left. */
  admit(): boolean {
    if (this.available() < 1) return false;
    this.inFlight++;
    return true;
  }

  release(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  /** When the window has surely turned over since the budget was last read (clock ms). */
  refillAt(): number {
    return this.seenAt + (this.windowS ?? 60) * 1000;
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
