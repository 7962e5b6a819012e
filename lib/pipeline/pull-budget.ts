// The sources' pull budgets in the pipeline (issue 9: Docker Hub counts manifest GETs, 100 per 6 h
// anonymous, 200 authenticated; HEADs are free and carry the budget headers). Two halves:
//   - before copying (`count`/`drain`): one HEAD per source reads its budget; a budgeted source's
//     copies wait until the plan is complete, then one line says whether they fit;
//   - per image (`admit`): an image starts only when the budget can take its GET. Without --pace the
//     rest go to the DLQ as SWRM_RATE_BUDGET ("deferred", not failed); with --pace the copier waits
//     for the window to refill instead. A 429 TOOMANYREQUESTS from a budgeted source is treated alike.
import type { Logger } from 'pino';
import { ErrorCode, RateBudgetError, RegistryError } from '../errors.js';
import { parseReference } from '../oci/reference.js';
import type { CopyImageMessage } from '../queue/messages.js';
import type { FailureReason } from '../queue/types.js';
import type { ClientPool } from '../registry/pool.js';
import { type Clock, realClock } from '../registry/push-budget.js';
import type { RateBudgetTracker } from '../registry/rate-budget.js';

export interface PullBudgetOptions {
  /** --pace: wait for the budget instead of leaving the rest for later. */
  pace: boolean;
  logger?: Logger;
  /** The one-line warning before copying (the CLI prints it on stderr). */
  onNotice?: (line: string) => void;
  clock?: Clock;
  /** Longest sleep between two looks at the budget while pacing (ms). */
  pollMs?: number;
}

export type Admission = { release(): void } | { deferred: FailureReason };

const NOOP = { release: () => undefined };

export class PullBudgetGate {
  private readonly probed = new Map<RateBudgetTracker, Promise<boolean>>();
  private readonly planned = new Map<RateBudgetTracker, number>();
  /** Resolved by `drain`: a budgeted source's copies start only after the plan was compared with its budget. */
  private readonly planComplete: Promise<void>;
  private planDone!: () => void;
  private readonly clock: Clock;
  /** Images left for later, by source host (for the summary). */
  deferred = 0;

  constructor(
    private readonly pool: ClientPool,
    private readonly opts: PullBudgetOptions,
  ) {
    this.clock = opts.clock ?? realClock;
    this.planComplete = new Promise((resolve) => (this.planDone = resolve));
  }

  get pace(): boolean {
    return this.opts.pace;
  }

  /**
   * Count a planned batch against its sources and start one probe per source. Nothing is held
   * back from the queue (a hanging source must not stall the planner); instead `admit` keeps a
   * budgeted source's images waiting until `drain` has compared the whole plan with its budget.
   */
  count(messages: CopyImageMessage[], signal?: AbortSignal): void {
    for (const m of messages) {
      const src = parseReference(m.source);
      const tracker = this.pool.rateBudget(src.registry, src.repository);
      if (!this.probed.has(tracker)) this.probed.set(tracker, this.probe(m.source, signal).then(() => tracker.known));
      this.planned.set(tracker, (this.planned.get(tracker) ?? 0) + 1);
    }
  }

  /** The plan is complete: warn where a source's budget cannot take it, then let its copies start. */
  async drain(): Promise<void> {
    await Promise.all(this.probed.values());
    for (const [tracker, needed] of this.planned) {
      const remaining = tracker.available();
      if (!tracker.known || needed <= remaining) continue;
      const anon = tracker.authenticated ? '' : '; credentials for this registry get the higher authenticated budget';
      const then = this.opts.pace
        ? 'with --pace the copies wait for the window to refill'
        : `the images beyond it go to the DLQ as ${ErrorCode.RATE_BUDGET} for 'swr-migrate replay' (or run with --pace)`;
      const line =
        `pull budget: ${tracker.host} has ${remaining} manifest GET(s) left (${tracker.describe()}), the plan may need ${needed} ` +
        `(one per image not yet at the destination; HEADs are free); ${then}${anon}`;
      this.opts.logger?.warn({ host: tracker.host, remaining, needed, ...tracker.snapshot() }, 'plan exceeds the pull budget');
      this.opts.onNotice?.(line);
    }
    this.planned.clear();
    this.planDone();
  }

  /** Before an image's copy: admitted (release it when done), or deferred. With --pace, waits. */
  async admit(source: string, signal?: AbortSignal): Promise<Admission> {
    const src = parseReference(source);
    const tracker = this.pool.rateBudget(src.registry, src.repository);
    const probe = this.probed.get(tracker);
    if (probe) await untilAborted(probe, signal);
    if (!tracker.known) return NOOP;
    await untilAborted(this.planComplete, signal);
    for (;;) {
      signal?.throwIfAborted();
      if (tracker.admit()) return { release: () => tracker.release() };
      if (!this.opts.pace) return this.defer(tracker);
      const wait = tracker.refillAt() - this.clock.now();
      if (wait > 0) {
        this.opts.logger?.info({ host: tracker.host, waitMs: Math.round(wait) }, 'pacing: waiting for the pull budget');
        await this.clock.sleep(Math.min(wait, this.opts.pollMs ?? 1000), signal);
      } else {
        // The window has turned over since the budget was read: a HEAD (free) reads it again.
        await this.probe(source, signal);
        if (tracker.available() < 1) tracker.exhausted();
      }
    }
  }

  /** A failure that means "out of budget" (429 TOOMANYREQUESTS from a budgeted source): its deferral. */
  deferral(err: unknown, source: string): Admission | undefined {
    if (!(err instanceof RegistryError) || err.registryCode !== 'TOOMANYREQUESTS' || !source) return undefined;
    const src = parseReference(source);
    const tracker = this.pool.rateBudget(src.registry, src.repository);
    if (!tracker.known || err.host !== tracker.host) return undefined;
    tracker.exhausted();
    return this.defer(tracker);
  }

  /** How long until the window of `source`'s budget refills (ms), for a paced retry. */
  refillDelay(source: string): number {
    const src = parseReference(source);
    return Math.max(0, this.pool.rateBudget(src.registry, src.repository).refillAt() - this.clock.now());
  }

  private defer(tracker: RateBudgetTracker): { deferred: FailureReason } {
    this.deferred++;
    const at = new Date(Date.now() + Math.max(0, tracker.refillAt() - this.clock.now()));
    const err = new RateBudgetError(tracker.host, tracker.describe(), at);
    return { deferred: { code: err.code, message: err.message } };
  }

  private async probe(source: string, signal?: AbortSignal): Promise<void> {
    const src = parseReference(source);
    const reference = src.digest ?? src.tag ?? 'latest';
    // The headers are what we want; a missing image or a refusal says nothing about the budget.
    await this.pool
      .client(src.registry, src.repository, 'source')
      .manifestHead(src.repository, reference, signal)
      .catch(() => undefined);
  }
}


/** `p`, or the signal's reason once it aborts (a copier waiting on a probe must stop on Ctrl-C). */
function untilAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then((v) => {
      signal.removeEventListener('abort', onAbort);
      resolve(v);
    });
  });
}
