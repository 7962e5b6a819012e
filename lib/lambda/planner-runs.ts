// The scheduled planner's runs (issue 14, item 2), when a state table is configured: each run gets
// an id that its messages carry, a record of what it enqueued (lib/state/runs.ts), and the next
// run is skipped while the last one's record says it is in progress, instead of while the queue
// holds anything: a replay, the long-haul queue or another tool's messages are no run's, and the
// record is exact where SQS's counts lag.
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { WorkQueue } from '../queue/types.js';
import { type RunTracker, newRunId, runInProgress, settledTotal } from '../state/runs.js';

export interface RunOptions {
  runs?: RunTracker;
  queue: WorkQueue;
  logger?: Logger;
  /** Milliseconds since the epoch (tests). */
  clock?: () => number;
}

/**
 * Why the last run is still in progress, or undefined. A record that says so while the queue is
 * empty (nothing visible, in flight or delayed) lost a count (a copier died between its marker and
 * its count, or a message expired): the queue wins, with a warning, so no schedule stays stuck.
 */
export async function lastRunInProgress(runs: RunTracker, queue: WorkQueue, logger?: Logger, clock: () => number = Date.now): Promise<string | undefined> {
  const [last] = await runs.last(1);
  if (!last || !runInProgress(last, clock())) return undefined;
  const c = await queue.counts();
  const left = last.enqueued - settledTotal(last);
  if (c.visible + c.inFlight + c.delayed === 0) {
    logger?.warn({ run: last.id, enqueued: last.enqueued, settled: settledTotal(last) }, `run ${last.id} has ${left} message(s) unsettled, but the queue is empty: planning anyway`);
    return undefined;
  }
  return `the previous run ${last.id} is still in progress (${left} of ${last.enqueued} message(s) unsettled); set defaults.overlap: true to plan anyway`;
}

/** A new run for these bodies: its record is written before they are sent, each body carries its id. */
export async function startRun(opts: RunOptions, planned: string[], info: { images: number; repositories: number }): Promise<{ bodies: string[]; run?: string }> {
  if (!opts.runs) return { bodies: planned };
  const started = new Date(opts.clock?.() ?? Date.now());
  const run = newRunId(started);
  const bodies = planned.map((b) => JSON.stringify({ ...(JSON.parse(b) as object), run }));
  await opts.runs.start(run, new Set(bodies).size, { ...info, started });
  return { bodies, run };
}

/** Send the run's bodies; a send that fails is said on the run's record (its counts may then be short). */
export async function sendForRun(opts: RunOptions, bodies: string[], run: string | undefined): Promise<void> {
  try {
    await opts.queue.send(bodies);
  } catch (err) {
    if (run) await opts.runs?.failed(run, errorMessage(err)).catch(() => undefined);
    throw err;
  }
}
