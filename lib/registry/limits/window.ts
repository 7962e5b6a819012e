// The AIMD window of one (registry, action): how many of its requests may be in flight at once
// (issue 15, item 3). TCP's congestion control (RFC 5681) with requests for segments and a 429 or
// 503 for a loss:
//   - slow start: from a small window, +1 per success (twice the window per round trip) up to the
//     first loss;
//   - a loss halves the window once per congestion epoch. An epoch is the requests sent after the
//     last decrease: the answers to requests sent before it say nothing new (they were sent into
//     the window that was already cut), so they do not cut it again;
//   - after a loss, additive increase: +1 per window's worth of successes (of requests sent after it);
//   - only a window in use grows (RFC 7661): a window nobody fills says nothing about the registry,
//     and would otherwise grow to its bound and hit the registry with a burst later.
// One addition that TCP, which cannot see the receiver's queue, does not make: refusals tell how
// many requests in flight the registry took, so the window remembers a ceiling and grows back to
// it, not past it. The ceiling is the most the epoch had in flight less the refusals it earned, not
// the level of the request refused: requests sent at once reach the registry in any order (one
// waits for a new connection, the next takes an idle one), so the one refused may have been sent
// at a lower level than one accepted; the count of refusals does not depend on the order. A
// registry that caps requests in flight at N then sees N, and no further 429, instead of TCP's
// sawtooth between N/2 and N with a 429 every time. After `probeMs` without a refusal the ceiling is forgotten and the window grows on, one
// request per window's worth of successes: a registry that got faster, or a burst of busy answers
// that lowered the ceiling, costs at most one more epoch per probeMs, not a slow window for good.
// Pure state over an injectable clock; waiting for a slot is window-gate.ts's business.
import { type Clock, realClock } from './push-budget.js';

/** The window a (registry, action) starts with: small, as TCP's initial window. */
export const INITIAL_WINDOW = 4;
/** How long a learned ceiling holds before the window grows past it again. */
export const PROBE_MS = 30_000;

export interface WindowOptions {
  /** Upper bound: the registry's `concurrency`, else the connections per origin. */
  max: number;
  initial?: number;
  probeMs?: number;
  clock?: Pick<Clock, 'now'>;
}

/** What the window needs to know about a request it let through. */
export interface Sent {
  /** Sequence number: tells whether the request was sent before or after the last decrease. */
  seq: number;
  /** Requests of this window in flight once it was sent, itself included. */
  level: number;
}

export interface WindowStats {
  limit: number;
  ceiling: number;
  /** Halvings (congestion epochs begun). */
  decreases: number;
  /** 429/503 answers seen, those of an epoch already cut included. */
  signals: number;
}

export class AimdWindow {
  private cwnd: number;
  private ssthresh = Infinity;
  private max: number;
  private ceilingLevel: number;
  private seq = 0;
  /** The first sequence number of the current epoch: older requests do not cut the window again. */
  private epochStart = 0;
  /** The highest level sent in the current epoch, and in the one before the last cut. */
  private peak = 0;
  private cutPeak = 0;
  /** Refusals of requests sent before the last cut, the one that cut it included. */
  private cutRefusals = 0;
  /** When the ceiling was last lowered (clock ms). */
  private ceilingAt = -Infinity;
  private readonly probeMs: number;
  private readonly clock: Pick<Clock, 'now'>;
  decreases = 0;
  signals = 0;

  constructor(opts: WindowOptions) {
    checkBound(opts.max);
    this.max = opts.max;
    this.ceilingLevel = opts.max;
    this.cwnd = Math.min(opts.initial ?? INITIAL_WINDOW, opts.max);
    this.probeMs = opts.probeMs ?? PROBE_MS;
    this.clock = opts.clock ?? realClock;
  }

  /** Requests that may be in flight now: at least 1, never above the ceiling or the bound. */
  get limit(): number {
    return Math.max(1, Math.floor(Math.min(this.cwnd, this.ceilingLevel, this.max)));
  }

  get ceiling(): number {
    return this.ceilingLevel;
  }

  /** Lower the upper bound (another entry of the same registry gives a smaller `concurrency`). */
  tighten(max: number): void {
    checkBound(max);
    this.max = Math.min(this.max, max);
    this.ceilingLevel = Math.min(this.ceilingLevel, this.max);
  }

  /** A request is being sent with `level` requests of this window in flight, itself included. */
  sent(level: number): Sent {
    this.peak = Math.max(this.peak, level);
    return { seq: this.seq++, level };
  }

  /**
   * The request was answered (not 429/503). `saturated`: the window was full when it ended (or
   * requests were waiting for it), the only case in which it grows.
   */
  succeeded(req: Sent, saturated: boolean): void {
    // A request sent before the last cut was sent into the old window: its success says nothing
    // about the new one.
    if (!saturated || req.seq < this.epochStart) return;
    const now = this.clock.now();
    // The ceiling held for probeMs: grow past it again (additively, so at most one epoch is spent finding it).
    if (this.ceilingLevel < this.max && now - this.ceilingAt >= this.probeMs) this.ceilingLevel = this.max;
    this.cwnd += this.cwnd < this.ssthresh ? 1 : 1 / this.cwnd;
    this.cwnd = Math.min(this.cwnd, this.ceilingLevel, this.max);
  }

  /** The request was answered 429 or 503 (a throttle). True when this began a new epoch (the window was cut). */
  congested(req: Sent): boolean {
    this.signals++;
    this.ceilingAt = this.clock.now();
    if (req.seq < this.epochStart) {
      // Sent into the window already cut: no second cut, but one more the registry did not take.
      this.cutRefusals++;
      this.ceilingLevel = Math.min(this.ceilingLevel, Math.max(1, this.cutPeak - this.cutRefusals));
      return false;
    }
    this.cutPeak = Math.max(this.peak, req.level);
    this.cutRefusals = 1;
    this.peak = 0;
    this.ceilingLevel = Math.min(this.ceilingLevel, Math.max(1, this.cutPeak - 1));
    this.ssthresh = Math.max(1, Math.floor(this.cwnd / 2));
    this.cwnd = Math.min(this.ssthresh, this.ceilingLevel);
    this.epochStart = this.seq;
    this.decreases++;
    return true;
  }

  stats(): WindowStats {
    return { limit: this.limit, ceiling: this.ceilingLevel, decreases: this.decreases, signals: this.signals };
  }
}

function checkBound(max: number): void {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`window bound must be a positive integer, got ${max}`);
}
