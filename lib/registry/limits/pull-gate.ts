// The sources' pull budgets in a run (pull-budget.ts says what a budget is; this is when images may
// spend it). The same gate serves `sync`, `work`, `sync --queue-url` and the Lambda copier:
//   - planning (`count`/`drain`, `sync` and `sync --queue-url` only): one HEAD per source reads its
//     budget; a budgeted source's copies start once the whole plan is known, and one line says
//     whether it fits. The Lambda copier plans nothing and drains at once. No copy waits for that
//     HEAD, or for the plan, before its own HEADs (free): only its first GET does.
//   - per image (`admit`): a copy starts only while its source's budget is not spent; its manifest
//     GETs are then reserved as the copy finds them (`reserve`: the top manifest, each child it
//     fetches, a conversion's children at once). Past the budget the image is left for later
//     (SWRM_RATE_BUDGET, not a failure), or with --pace it waits for the window to refill.
//   - after the window: the next admission reads the budget again with one HEAD, paced or not, in a
//     warm Lambda container as in the CLI; a HEAD that states no budget any more ends the pacing.
import type { Logger } from 'pino';
import { ErrorCode, RateBudgetError } from '../../errors.js';
import { parseReference } from '../../oci/reference.js';
import type { FailureReason } from '../../queue/types.js';
import type { ClientPool } from '../pool.js';
import { type Clock, realClock } from './push-budget.js';
import type { PullBudget } from './pull-budget.js';
import { untilAborted } from './waiters.js';

export interface PullGateOptions {
  /** --pace: wait for the budget instead of leaving the rest for later. */
  pace: boolean;
  logger?: Logger;
  /** The one-line notice before copying (the CLI prints it on stderr). */
  onNotice?: (line: string) => void;
  clock?: Clock;
  /** Longest sleep between two looks at the budget while pacing (ms). */
  pollMs?: number;
}

/** An admitted image: reserve its manifest GETs before making them. */
export interface PullAdmission {
  /** Before `n` manifest GETs: reserved, waited for (--pace), or RateBudgetError (left for later). */
  reserve(n: number): Promise<void>;
}

export type Admission = { admitted: PullAdmission } | { deferred: FailureReason };

export class PullBudgetGate {
  private readonly probed = new Map<PullBudget, Promise<void>>();
  private readonly reprobes = new Map<PullBudget, Promise<void>>();
  private readonly planned = new Map<PullBudget, number>();
  /** Resolved by `drain`: a budgeted source's GETs start only after the plan was compared with its budget. */
  private readonly planComplete: Promise<void>;
  private planDone!: () => void;
  private readonly clock: Clock;
  /** Images left for later. */
  deferred = 0;

  constructor(
    private readonly pool: ClientPool,
    private readonly opts: PullGateOptions,
  ) {
    this.clock = opts.clock ?? realClock;
    this.planComplete = new Promise((resolve) => (this.planDone = resolve));
  }

  get pace(): boolean {
    return this.opts.pace;
  }

  /**
   * Count planned images against their sources and start one probe per source. Nothing is held back
   * from the queue (a hanging source must not stall the planner); `admit` keeps a budgeted source's
   * images waiting until `drain` has compared the whole plan with its budget.
   */
  count(sources: readonly string[], signal?: AbortSignal): void {
    for (const source of sources) {
      const budget = this.budgetOf(source);
      if (!this.probed.has(budget)) this.probed.set(budget, this.probe(budget, source, signal));
      this.planned.set(budget, (this.planned.get(budget) ?? 0) + 1);
    }
  }

  /** The plan is complete: say where a source's budget cannot take it, then let its copies start. */
  async drain(): Promise<void> {
    await Promise.all(this.probed.values());
    for (const [budget, images] of this.planned) {
      const remaining = budget.available();
      if (!budget.known || images <= remaining) continue;
      const anon = budget.authenticated ? '' : '; credentials for this registry get the higher authenticated budget';
      const then = this.opts.pace
        ? 'with --pace the copies wait for the window to refill'
        : `the images beyond it go to the DLQ as ${ErrorCode.RATE_BUDGET} for 'swr-migrate replay' (or run with --pace)`;
      const line =
        `pull budget: ${budget.host} has ${remaining} manifest GET(s) left (${budget.describe()}), the plan may need ${images} ` +
        `or more (one per image not yet at the destination, one more per platform of a multi-platform image; HEADs are free); ${then}${anon}`;
      this.opts.logger?.warn({ host: budget.host, remaining, needed: images, ...budget.snapshot() }, 'plan exceeds the pull budget');
      this.opts.onNotice?.(line);
    }
    this.planned.clear();
    this.planDone();
  }

  /**
   * Before an image's copy: admitted (with the means to reserve its GETs), or left for later. With
   * --pace, waits. Neither a probe on its way nor a plan still being listed holds a copy back
   * (issue 15, item 7): its HEADs are free, so they overlap with both, and only its first GET
   * (`reserve`) waits for the probe's answer and for the plan to be compared with the budget. A
   * copier waiting here would be one fewer for every other source.
   */
  async admit(source: string, signal?: AbortSignal): Promise<Admission> {
    const budget = this.budgetOf(source);
    // Spent already (or its window turned over): left for later, paced, or read again, before any request.
    if (budget.known) {
      try {
        await this.ensure(budget, source, 0, signal);
      } catch (err) {
        const deferred = this.deferral(err);
        if (deferred) return deferred;
        throw err;
      }
    }
    return { admitted: this.admission(budget, source, signal) };
  }

  /** A failure that means "out of budget" (RateBudgetError): its deferral, counted. */
  deferral(err: unknown): { deferred: FailureReason } | undefined {
    if (!(err instanceof RateBudgetError)) return undefined;
    this.deferred++;
    return { deferred: { code: err.code, message: err.message } };
  }

  /** How long until the window of `source`'s budget refills (ms), for a paced retry. */
  refillDelay(source: string): number {
    return Math.max(0, this.budgetOf(source).refillAt() - this.clock.now());
  }

  private budgetOf(source: string): PullBudget {
    const src = parseReference(source);
    return this.pool.rateBudget(src.registry, src.repository);
  }

  /**
   * Reservations go through `ensure` even for a source with no budget yet: a GET may reveal one.
   * An image admitted while its source's probe was running waits for it here, before its first GET,
   * and, when the probe found a budget, for the plan to be compared with it (as `admit` would have).
   */
  private admission(budget: PullBudget, source: string, signal?: AbortSignal): PullAdmission {
    return {
      reserve: async (n) => {
        const probe = this.probed.get(budget);
        if (probe) await untilAborted(probe, signal);
        if (budget.known) await untilAborted(this.planComplete, signal);
        return this.ensure(budget, source, n, signal);
      },
    };
  }

  /**
   * Until `n` GETs are reserved (n = 0: until the budget is not spent). A window that has turned
   * over is read again first; then, past the budget, --pace sleeps and anything else throws.
   */
  private async ensure(budget: PullBudget, source: string, n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      if (!budget.known) return;
      if (n === 0 ? budget.available() >= 1 : budget.reserve(n)) return;
      if (budget.windowTurned()) {
        await this.reprobe(budget, source, signal);
        continue;
      }
      if (!this.opts.pace) throw budget.spentError();
      const wait = budget.refillAt() - this.clock.now();
      this.opts.logger?.info({ host: budget.host, waitMs: Math.round(wait) }, 'pacing: waiting for the pull budget');
      await this.clock.sleep(Math.max(1, Math.min(wait, this.opts.pollMs ?? 1000)), signal);
    }
  }

  /** One HEAD at a time per source re-reads a budget whose window turned over. */
  private reprobe(budget: PullBudget, source: string, signal?: AbortSignal): Promise<void> {
    let p = this.reprobes.get(budget);
    if (!p) {
      p = this.probe(budget, source, signal).finally(() => this.reprobes.delete(budget));
      this.reprobes.set(budget, p);
    }
    return untilAborted(p, signal);
  }

  /** A HEAD (free) reads the budget; one that answers without stating a budget forgets the old one. */
  private async probe(budget: PullBudget, source: string, signal?: AbortSignal): Promise<void> {
    const src = parseReference(source);
    const before = budget.readAt;
    // A refusal or a failure says nothing about the budget: the copy itself will find out.
    await this.pool
      .client(src.registry, src.repository, 'source')
      .manifestHead(src.repository, src.digest ?? src.tag ?? 'latest', signal)
      .catch(() => undefined);
    // Nothing stated since: no budget now (a registry that dropped it, or a throttle that never
    // had one). A stale reading must not hold images forever; a GET past a real budget is answered
    // 429 with the headers, and the budget is read from that.
    if (budget.readAt === before) budget.forget();
  }
}
