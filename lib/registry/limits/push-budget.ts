// SWR's per-tenant push limits (REFERENCE.md section 2: about 20 concurrent layer pushes and 20 push
// requests/s per tenant; beyond them SWR answers 503). One PushBudget per tenant, shared by every
// SWR destination client of a run (registry/pool.ts), so two namespaces of one tenant do not each
// get their own 20. Two halves:
//   - a concurrency limit on layer pushes: `slot()` is held for a whole upload session (POST .. PUT)
//     and for a mount (copy/blob-copy.ts takes it last, after the run's and registries' limiters);
//   - a rate limit on push requests: `token()` before each upload POST, upload PUT, mount POST and
//     manifest PUT, re-sends included (registry/http/transport.ts).
// Pure logic over an injectable clock, so the unit tests run on a fake one.
import { setTimeout as sleep } from 'node:timers/promises';
import { Waiters, untilAborted } from './waiters.js';

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, signal ? { signal } : undefined),
};

export interface PushBudgetStats {
  /** Slots held now, and the most ever held at once. */
  active: number;
  peak: number;
  /** Rate tokens handed out. */
  tokens: number;
}

export class PushBudget {
  private limit: number;
  private interval: number;
  private active = 0;
  private peak = 0;
  private tokens = 0;
  private readonly waiting = new Waiters<void>();
  /**
   * The earliest time the next token may be handed out. Tokens are handed out in turn, each one
   * 1/rate after the previous one was actually handed out (not after when it was due): a timer
   * that fires late then cannot bunch the next ones up, so within any second no more than `rate`
   * push requests start, which is what a per-second limit on the registry side sees. No burst:
   * idle time does not bank tokens.
   */
  private nextAt = -Infinity;
  /** The last token's turn; the next caller waits behind it. Never rejects. */
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly tenant: string,
    concurrency: number,
    rate: number,
    private readonly clock: Clock = realClock,
  ) {
    check(concurrency, rate);
    this.limit = concurrency;
    this.interval = 1000 / rate;
  }

  get concurrency(): number {
    return this.limit;
  }

  get rate(): number {
    return 1000 / this.interval;
  }

  /**
   * Apply another entry's limits for the same tenant: the smaller value of each wins. The limits
   * are the tenant's, not an entry's, so the strictest setting any entry gives is the one that
   * keeps every entry's pushes under it. Only ever tightens, so slots already held stay valid.
   */
  tighten(concurrency: number, rate: number): void {
    check(concurrency, rate);
    this.limit = Math.min(this.limit, concurrency);
    this.interval = Math.max(this.interval, 1000 / rate);
  }

  /** Run `fn` holding one layer-push slot (FIFO). */
  async slot<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Wait for one push-request token (in turn, FIFO). */
  token(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const turn = this.tail.then(async () => {
      const wait = this.nextAt - this.clock.now();
      // No signal here: the turns are a chain and must go on; an aborted caller leaves below,
      // and its token goes unused, which only errs on the side of fewer requests.
      if (wait > 0) await this.clock.sleep(wait);
      this.nextAt = this.clock.now() + this.interval;
      this.tokens++;
    });
    this.tail = turn;
    return signal ? untilAborted(turn, signal) : turn;
  }

  stats(): PushBudgetStats {
    return { active: this.active, peak: this.peak, tokens: this.tokens };
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.limit && this.waiting.length === 0) {
      this.take();
      return Promise.resolve();
    }
    return this.waiting.wait(signal);
  }

  private take(): void {
    this.active++;
    this.peak = Math.max(this.peak, this.active);
  }

  private release(): void {
    this.active--;
    // After a tighten() the active count may stay above the new limit until enough slots end.
    while (this.active < this.limit && this.waiting.length > 0) {
      this.take();
      this.waiting.wakeFirst();
    }
  }
}

function check(concurrency: number, rate: number): void {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`push concurrency must be a positive integer, got ${concurrency}`);
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`push rate must be above 0, got ${rate}`);
}

/** The tenant a push budget belongs to: SWR's login user (`project@AK`), else the registry host. */
export function pushTenant(username: string | undefined, host: string): string {
  return username ? `user:${username}` : `host:${host}`;
}
