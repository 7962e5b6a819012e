// serve's pipeline: the embedded queue and its copiers, running until the process is told to stop,
// fed by scheduled runs (the planner `sync` runs) and by webhook re-checks. The pieces are sync's
// (pipeline/sync.ts: the copy runtime, the planner, the copier loops); what differs is the queue's
// life: it is journalled in the state directory (journal.ts), so what was planned or received and
// not settled is picked up again by the next start, and a stop leaves the rest there instead of
// writing it to the DLQ.
import { recheckRulesOf } from '../pipeline/recheck.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/types.js';
import { type DestinationState, destinationStateFor } from '../copy/destination-state.js';
import { errorMessage } from '../errors.js';
import { poolTagLister } from '../plan/planner.js';
import { deliveryCap, AttemptLedger } from '../pipeline/attempts.js';
import { type ImageOutcome, runCopiers } from '../pipeline/copier.js';
import { type FeedContext, createCopyRuntime, expansionDeadLetter, planAll } from '../pipeline/sync.js';
import { FileDeadLetterStore } from '../queue/dlq-file.js';
import { EmbeddedQueue } from '../queue/embedded.js';
import type { DeadLetter } from '../queue/types.js';
import { PullBudgetGate } from '../registry/limits/pull-gate.js';
import { FileDigestMemo, memoPathFor } from '../state/digest-memo-file.js';
import { ruleDestinations, swrPreflight } from '../vendors/swr/preflight.js';
import { FileQueueJournal } from './journal.js';

/** The DLQ file's name in the state directory (the same as sync's default, `.swr-migrate/dlq.jsonl`). */
export const DLQ_FILE = 'dlq.jsonl';
/** As sync's: a copier holds its message for as long as the image takes (pipeline/sync.ts). */
const VISIBILITY_TIMEOUT_MS = 24 * 60 * 60 * 1000;

export interface ServeRuntimeOptions {
  config: LoadedConfig;
  proc: number;
  retries: number;
  stateDir: string;
  logger: Logger;
  /** --pace: wait for a source's pull budget (Docker Hub) instead of leaving the rest in the DLQ. */
  pace: boolean;
  onWarning: (message: string) => void;
  onOutcome?: (o: ImageOutcome) => void;
  onBytes?: (n: number) => void;
  onResponse?: (registry: string, status: number) => void;
}

/** What one planning pass sent. */
export interface PlanResult {
  /** Copy messages planned (expansions add theirs later, counted by outcome). */
  planned: number;
}

export class ServeRuntime {
  readonly queue: EmbeddedQueue;
  readonly dlq: FileDeadLetterStore;
  readonly journal: FileQueueJournal;
  readonly dlqPath: string;
  private readonly feed: FeedContext;
  /** What this tool pushed where (copy/destination-state.ts): the copiers' records, which prune reads. */
  private readonly destinations: DestinationState;
  private readonly closeRuntime: () => Promise<void>;
  /** Aborted first on a stop: the copiers take no more messages. */
  private readonly receiving = new AbortController();
  /** Aborted when the drain bound is over: copies still running stop, their messages stay journalled. */
  private readonly copying = new AbortController();
  private copiers: Promise<void> | undefined;
  private copiersFailed = false;
  private readonly copierDeps: Parameters<typeof runCopiers>[1];
  private readonly listeners = new Set<(o: ImageOutcome) => void>();

  constructor(private readonly opts: ServeRuntimeOptions) {
    const { config, logger } = opts;
    this.dlqPath = join(opts.stateDir, DLQ_FILE);
    this.dlq = new FileDeadLetterStore(this.dlqPath);
    this.journal = new FileQueueJournal(opts.stateDir, logger);
    const { pool, ctx } = createCopyRuntime(config, {
      logger,
      signal: this.copying.signal,
      ...(opts.onBytes ? { onBytes: opts.onBytes } : {}),
      ...(opts.onResponse ? { onResponse: opts.onResponse } : {}),
    });
    const maxReceiveCount = deliveryCap(opts.retries);
    this.queue = new EmbeddedQueue({ visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS, maxReceiveCount, dlq: this.dlq, journal: this.journal });
    const memo = new FileDigestMemo(memoPathFor(this.dlqPath), logger);
    const outcome = (o: ImageOutcome) => {
      opts.onOutcome?.(o);
      for (const l of this.listeners) l(o);
    };
    const saveLetter = async (letter: DeadLetter) => {
      await this.dlq.add(letter).catch((err: unknown) => {
        // The DLQ is what failed: the message must still not vanish without a trace (bodies carry no credentials).
        logger.error({ err: errorMessage(err), body: letter.body }, `could not write to ${this.dlqPath}; not saved`);
      });
    };
    const list = poolTagLister(pool);
    this.destinations = destinationStateFor(memo.store, config.defaults, logger);
    const pullBudget = new PullBudgetGate(pool, { pace: opts.pace, logger, onNotice: opts.onWarning });
    this.feed = { queue: this.queue, pool, list, planned: () => undefined, outcome, unfinished: () => undefined, saveLetter, pullBudget };
    this.copierDeps = {
      queue: this.queue,
      pool,
      ctx,
      maxReceiveCount,
      attempts: opts.retries + 1,
      ledger: new AttemptLedger(),
      list,
      logger,
      signal: this.copying.signal,
      onOutcome: outcome,
      memo,
      destinations: this.destinations,
      pullBudget,
      onWarning: opts.onWarning,
      deadLetter: expansionDeadLetter(this.feed),
      // A webhook's recheck is matched against this config's rules (pipeline/recheck.ts).
      ...recheckRulesOf(config),
    };
    this.closeRuntime = async () => {
      ctx.sourceBlobs?.close();
      await pool.close().catch(() => undefined);
    };
  }

  /** Put back what an earlier process left unsettled, then start the copiers; returns how many came back. */
  async start(): Promise<number> {
    const pending = await this.journal.pending();
    this.queue.restore(pending);
    if (this.journal.corruptLines) this.opts.logger.warn({ lines: this.journal.corruptLines }, 'queue journal: unreadable lines skipped');
    this.copiers = runCopiers(this.opts.proc, this.copierDeps, this.receiving.signal);
    // A broken queue (the DLQ cannot be written) stops every copier: say so; /healthz turns 503.
    this.copiers.catch((err: unknown) => {
      this.copiersFailed = true;
      this.opts.logger.error({ err: errorMessage(err) }, 'the copiers stopped');
    });
    return pending.length;
  }

  /** The copiers run: not stopping, and not stopped by a broken queue. */
  get running(): boolean {
    return this.copiers !== undefined && !this.receiving.signal.aborted && !this.copiersFailed;
  }

  /** Plan every rule onto the queue, as `sync` does (its SWR preflight included). */
  async plan(signal: AbortSignal): Promise<PlanResult> {
    const { config, logger, onWarning } = this.opts;
    let planned = 0;
    const feed: FeedContext = { ...this.feed, planned: (n) => void (planned += n) };
    await swrPreflight(ruleDestinations(config.rules), config.resolve, { logger });
    try {
      // The same destination records the copiers write: a rule's prune knows what this tool pushed.
      await planAll({ config, logger, signal, onWarning, destinations: this.destinations }, feed);
    } finally {
      // The plan is known: a budgeted source's copies may start (registry/limits/pull-gate.ts).
      await this.feed.pullBudget.drain();
    }
    return { planned };
  }

  /** Enqueue message bodies (webhook re-checks), journalled like planned ones. */
  send(bodies: string[]): Promise<void> {
    return this.queue.send(bodies);
  }

  /** Each outcome from now until the returned function is called (a scheduled run's summary). */
  watch(listener: (o: ImageOutcome) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Messages visible, in flight or delayed. */
  async depth(): Promise<number> {
    const c = await this.queue.counts();
    return c.visible + c.inFlight + c.delayed;
  }

  /**
   * Stop: no more messages are taken, copies in flight get `boundMs` to finish, then they are cut
   * short and stay journalled with everything not started. Returns the messages left for the next start.
   */
  async stop(boundMs: number): Promise<number> {
    this.receiving.abort();
    if (this.copiers) {
      const settled = this.copiers.catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, boundMs)));
      await Promise.race([settled, bound]);
      clearTimeout(timer);
      this.copying.abort();
      await settled;
    }
    await this.closeRuntime();
    return this.queue.remaining().length;
  }
}
