// The end of a queue run (Lambda copiers, `work`): the copier whose settle leaves every enqueued
// message of the run settled (state/runs.ts: settledTotal(run) >= enqueued) announces it, once.
// Two copiers settling the last two messages at once both may see the end; only the one that
// creates the run's `notified` marker (a put if absent: claimNotice) sends. A message replayed from
// the DLQ later moves its count (failed -> copied) and leaves the total at `enqueued`, so its
// copier sees the end again, but the marker is there: a run is announced once, at its first end,
// and `swr-migrate status` shows its record as replays change it (docs/notifications.md).
import type { Logger } from 'pino';
import type { NotifySettings } from '../config/service-settings.js';
import { errorMessage, failureCode } from '../errors.js';
import { type RunAccounting, type RunOutcome, type RunRecord, type RunTracker, type SettleDetail, settledTotal } from '../state/runs.js';
import { type NotifyDeps, notifyRun } from './index.js';
import { summaryFromRecord } from './summary.js';

/** The run's end has come with this settle (a run that enqueued nothing has no copier to see it). */
export function runEnded(rec: RunRecord): boolean {
  return rec.enqueued > 0 && settledTotal(rec) >= rec.enqueued;
}

/** A RunTracker whose settles announce the run's end: the copier's `runs` when notify is configured. */
export class RunEndNotifier implements RunAccounting {
  constructor(
    readonly tracker: RunTracker,
    readonly settings: NotifySettings,
    readonly deps: NotifyDeps & { clock?: () => number } = {},
  ) {}

  expanding(run: string, body: string, bodies: readonly string[]): Promise<void> {
    return this.tracker.expanding(run, body, bodies);
  }

  async settled(run: string, body: string, outcome: RunOutcome, detail?: SettleDetail): Promise<RunRecord | undefined> {
    const rec = await this.tracker.settled(run, body, outcome, detail);
    if (rec && runEnded(rec)) await this.ended(rec, this.deps.logger);
    return rec;
  }

  /** Claim the announcement, then send it; nothing here fails the message that ended the run. */
  private async ended(rec: RunRecord, logger: Logger | undefined): Promise<void> {
    try {
      const now = this.deps.clock?.() ?? Date.now();
      if (!(await this.tracker.claimNotice(rec.id, now))) return;
      const summary = summaryFromRecord(rec, await this.tracker.failures(rec.id), now);
      await notifyRun(this.settings, summary, this.deps);
    } catch (err) {
      logger?.warn({ run: rec.id, code: failureCode(err) }, `cannot build the run's summary: ${errorMessage(err)}`);
    }
  }
}

/** The copier's run accounting: announcing ends when the config has `notify`. */
export function runAccounting(tracker: RunTracker, settings: NotifySettings | undefined, deps: NotifyDeps = {}): RunAccounting {
  return settings ? new RunEndNotifier(tracker, settings, deps) : tracker;
}
