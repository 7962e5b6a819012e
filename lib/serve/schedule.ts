// serve's runs: what `sync` does (plan every rule onto the queue), each time the config's `schedule`
// fires (croner, UTC, as the config check reads it), or once at start without one. A run lasts
// from its plan until the queue has nothing left (no message visible, in flight or delayed); a
// firing while the previous run lasts is skipped with a log line, the Lambda planner's overlap rule
// without a state table (lambda/planner.ts), unless `defaults.overlap: true`.
import { Cron } from 'croner';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { ImageOutcome } from '../pipeline/copier.js';
import { RUN_OUTCOMES, type RunOutcome, newRunId } from '../state/runs.js';
import type { ServeRuntime } from './runtime.js';

/** What a run did, for its summary (the notify seam) and its log line. */
export interface RunSummary {
  id: string;
  /** `schedule`, or `start` for the one run at start without a schedule. */
  trigger: 'schedule' | 'start';
  started: string;
  finished: string;
  /** Copy messages the plan sent (an expansion's count as their own outcomes). */
  planned: number;
  /** Settled messages by outcome while the run lasted (webhook re-checks settled meanwhile included). */
  settled: Record<RunOutcome, number>;
  /** The outcomes themselves (failures with their reasons, bytes), for the run's summary (lib/notify). */
  outcomes: ImageOutcome[];
  /** The plan failed (a rule's listing failures are `failed` outcomes instead). */
  error?: string;
  /** The process was stopped before the run was done: the rest is journalled for the next start. */
  interrupted: boolean;
}

export interface RunnerOptions {
  runtime: ServeRuntime;
  logger: Logger;
  /** `defaults.overlap`: plan even while the previous run lasts. */
  overlap: boolean;
  /** Stopping: a run's plan ends, and no run waits for the queue any more. */
  signal: AbortSignal;
  onRun?: (result: 'started' | 'skipped' | 'failed') => void;
  /** Each finished run (the seam for lib/notify's summary). Its failure is logged, never fatal. */
  onSummary?: (summary: RunSummary) => Promise<void> | void;
}

export class RunScheduler {
  private current: Promise<void> | undefined;
  private job: Cron | undefined;

  constructor(private readonly opts: RunnerOptions) {}

  /** Fire on `cron` until stopped. */
  schedule(cron: string): void {
    this.job = new Cron(cron, { timezone: 'UTC' }, () => void this.fire('schedule'));
    this.opts.signal.addEventListener('abort', () => this.job?.stop(), { once: true });
  }

  /** When the next scheduled run fires (for the start-up line). */
  next(): Date | null {
    return this.job?.nextRun() ?? null;
  }

  /** Start a run now, unless the previous one still lasts (see the header). */
  fire(trigger: RunSummary['trigger']): Promise<void> {
    const { logger, signal } = this.opts;
    if (signal.aborted) return Promise.resolve();
    if (this.current && !this.opts.overlap) {
      logger.warn({ trigger }, 'scheduled run skipped: the previous run is still in progress; set defaults.overlap: true to plan anyway');
      this.opts.onRun?.('skipped');
      return Promise.resolve();
    }
    const run = this.run(trigger).finally(() => {
      if (this.current === run) this.current = undefined;
    });
    this.current = run;
    return run;
  }

  /** The run in progress, if any (stop waits for nothing: the journal keeps what is left). */
  get inProgress(): boolean {
    return this.current !== undefined;
  }

  private async run(trigger: RunSummary['trigger']): Promise<void> {
    const { runtime, logger, signal } = this.opts;
    const id = newRunId();
    const started = new Date();
    const settled = Object.fromEntries(RUN_OUTCOMES.map((o) => [o, 0])) as Record<RunOutcome, number>;
    const outcomes: ImageOutcome[] = [];
    const unwatch = runtime.watch((o: ImageOutcome) => {
      if ((RUN_OUTCOMES as readonly string[]).includes(o.status)) settled[o.status as RunOutcome]++;
      if (o.status !== 'retrying') outcomes.push(o);
    });
    let planned = 0;
    let error: string | undefined;
    logger.info({ run: id, trigger }, 'run started');
    this.opts.onRun?.('started');
    try {
      planned = (await runtime.plan(signal)).planned;
      await untilIdleOrStopped(runtime, signal);
    } catch (err) {
      error = errorMessage(err);
      if (!signal.aborted) {
        this.opts.onRun?.('failed');
        logger.error({ run: id, err: error }, 'run failed to plan');
      }
    } finally {
      unwatch();
    }
    const summary: RunSummary = {
      id,
      trigger,
      started: started.toISOString(),
      finished: new Date().toISOString(),
      planned,
      settled,
      outcomes,
      ...(error ? { error } : {}),
      interrupted: signal.aborted,
    };
    const { outcomes: _all, ...line } = summary;
    logger.info(line, signal.aborted ? 'run interrupted; the rest stays journalled' : 'run finished');
    try {
      await this.opts.onSummary?.(summary);
    } catch (err) {
      logger.warn({ run: id, err: errorMessage(err) }, 'cannot send the run summary');
    }
  }
}

async function untilIdleOrStopped(runtime: ServeRuntime, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => {
    signal.addEventListener('abort', () => resolve(), { once: true });
    void runtime.queue.onIdle().then(resolve);
  });
}
