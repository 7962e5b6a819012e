// `replay`: run the DLQ's messages again and remove those that now succeed. A letter that fails
// again is replaced by a fresh one (new reason, new count) so the DLQ always says why it is there.
// New letters are written before old ones are removed: a crash in between duplicates, never loses.
import type { DeadLetter, DeadLetterStore, Redrivable, RedriveStatus } from '../queue/types.js';
import type { ImageOutcome } from './copier.js';
import { isRuleKind } from '../queue/messages.js';
import { type PipelineOptions, type PipelineRun, runMessages } from './sync.js';

export interface ReplayRun extends PipelineRun {
  letters: number;
  /** Letters that succeeded and were removed. */
  recovered: number;
  /** Letters (old and new) in the DLQ now. */
  remaining: number;
}

export function isRedrivable(store: DeadLetterStore): store is DeadLetterStore & Redrivable {
  const s = store as Partial<Redrivable>;
  return typeof s.redrive === 'function' && typeof s.redriveStatus === 'function';
}

/** Start a redrive (or join the running one) and poll its status until it is no longer RUNNING. */
export async function redriveAndWait(dlq: Redrivable, opts: { pollMs?: number; signal?: AbortSignal } = {}): Promise<RedriveStatus> {
  const current = await dlq.redriveStatus();
  let status = current?.status === 'RUNNING' ? current : await dlq.redrive();
  while (status.status === 'RUNNING' && !opts.signal?.aborted) {
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
    status = (await dlq.redriveStatus()) ?? status;
  }
  return status;
}

export async function runReplay(opts: PipelineOptions): Promise<ReplayRun> {
  // An SQS DLQ moves its letters back itself (StartMessageMoveTask); the copiers then drain the
  // queue. Duplicate letters become duplicate copy messages, which copy idempotently.
  if (isRedrivable(opts.dlq) && opts.queue) {
    const moved = await redriveAndWait(opts.dlq, { signal: opts.signal });
    const run = await runMessages(opts, []);
    const failed = run.outcomes.filter((o) => o.status === 'failed').length;
    return { ...run, letters: moved.moved, recovered: run.outcomes.filter((o) => o.status !== 'failed' && o.status !== 'deferred' && !isRuleKind(o.kind)).length, remaining: failed };
  }
  const letters = await opts.dlq.list();
  if (letters.length === 0) {
    return { outcomes: [], planned: 0, interrupted: false, leftOver: 0, unfinished: [], bytes: 0, lost: 0, requests: {}, letters: 0, recovered: 0, remaining: 0 };
  }
  // The replay's own failures are collected here first, then merged into the real DLQ.
  const fresh: DeadLetter[] = [];
  const collector = {
    add: async (l: DeadLetter) => void fresh.push(l),
    list: async () => fresh,
    remove: async (ids: readonly string[]) => void ids,
  };
  const bodies = [...new Set(letters.map((l) => l.body))];
  const run = await runMessages({ ...opts, dlq: collector }, bodies);

  const succeeded = new Set(run.outcomes.filter((o: ImageOutcome) => o.status !== 'failed').map((o) => o.body));
  // A failed outcome carries the body it ran (the old letter's); its fresh letter may hold the
  // masked body instead (an invalid message, copier.ts), so match the old letter by both.
  const failedAgain = new Set([...fresh.map((l) => l.body), ...run.outcomes.filter((o) => o.status === 'failed').map((o) => o.body)]);
  for (const l of fresh) await opts.dlq.add(l);
  // On Ctrl-C the unfinished ones are in `fresh` too (reason SWRM_INTERRUPTED): still replayable.
  const done = letters.filter((l) => succeeded.has(l.body) || failedAgain.has(l.body));
  await opts.dlq.remove(done.map((l) => l.id));
  const remaining = (await opts.dlq.list()).length;
  return { ...run, letters: letters.length, recovered: letters.filter((l) => succeeded.has(l.body) && !failedAgain.has(l.body)).length, remaining };
}
