// `replay`: run the DLQ's messages again and remove those that now succeed. A letter that fails
// again is replaced by a fresh one (new reason, new count) so the DLQ always says why it is there.
// One letter per image (queue/letters.ts): letters for the same image run once, as one image, and
// every letter is counted once: recovered, still in the DLQ, or a duplicate merged into another.
import type { DeadLetter, DeadLetterStore, Redrivable, RedriveStatus } from '../queue/types.js';
import { byImage, letterKey } from '../queue/letters.js';
import type { ImageOutcome } from './copier.js';
import { isRuleKind } from '../queue/messages.js';
import { type PipelineOptions, type PipelineRun, runMessages } from './sync.js';

export interface ReplayRun extends PipelineRun {
  /** Letters read from the DLQ: recovered + kept + duplicates. */
  letters: number;
  /** Letters for an image another (newer) letter also names: the image ran once, for all of them. */
  duplicates: number;
  /** Images that now succeed: their letters are removed. */
  recovered: number;
  /** Images whose letter stays: failed again, left for later, or not finished. */
  kept: number;
  /** New letters for images that had none, e.g. tags an expanded repository fanned out into. */
  added: number;
  /** Letters in the DLQ now (a process sharing the file may have added some meanwhile). */
  remaining: number;
}

/** A store that adds (one letter per image) and removes in one step: the file DLQ's single rewrite. */
interface BatchStore {
  addAll(letters: readonly DeadLetter[], drop?: readonly string[]): Promise<void>;
}

/** A DLQ that can delete all but the newest letter of each image (SQS cannot replace in place). */
export interface Deduplicating {
  dropDuplicates(): Promise<{ letters: number; images: number; dropped: number }>;
}

export function isRedrivable(store: DeadLetterStore): store is DeadLetterStore & Redrivable {
  const s = store as Partial<Redrivable>;
  return typeof s.redrive === 'function' && typeof s.redriveStatus === 'function';
}

function isBatchStore(store: DeadLetterStore): store is DeadLetterStore & BatchStore {
  return typeof (store as Partial<BatchStore>).addAll === 'function';
}

function isDeduplicating(store: object): store is Deduplicating {
  return typeof (store as Partial<Deduplicating>).dropDuplicates === 'function';
}

/**
 * Start a redrive (or join the running one) and poll its status until it is no longer RUNNING.
 * Before starting one, a DLQ that can (SQS) deletes duplicate letters, so each image moves once:
 * `duplicates` says how many.
 */
export async function redriveAndWait(dlq: Redrivable, opts: { pollMs?: number; signal?: AbortSignal } = {}): Promise<RedriveStatus & { duplicates: number }> {
  const current = await dlq.redriveStatus();
  let duplicates = 0;
  if (current?.status !== 'RUNNING' && isDeduplicating(dlq)) duplicates = (await dlq.dropDuplicates()).dropped;
  let status = current?.status === 'RUNNING' ? current : await dlq.redrive();
  while (status.status === 'RUNNING' && !opts.signal?.aborted) {
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
    status = (await dlq.redriveStatus()) ?? status;
  }
  return { ...status, duplicates };
}

// `kept` (overwrite: false) is the user's choice, not a failure: the letter is done with.
const succeeded = (o: ImageOutcome) => o.status === 'copied' || o.status === 'skipped' || o.status === 'kept' || o.status === 'expanded';

export async function runReplay(opts: PipelineOptions): Promise<ReplayRun> {
  // An SQS DLQ moves its letters back itself (StartMessageMoveTask); the copiers then drain the
  // queue. Its duplicate letters are deleted first (redriveAndWait).
  if (isRedrivable(opts.dlq) && opts.queue) {
    const moved = await redriveAndWait(opts.dlq, { signal: opts.signal });
    const run = await runMessages(opts, []);
    // Moved letters get new ids on the queue: outcomes are all there is to count them by.
    const images = run.outcomes.filter((o) => !isRuleKind(o.kind) && o.kind !== 'prune');
    const recovered = images.filter(succeeded).length;
    const kept = images.length - recovered;
    return { ...run, letters: moved.moved + moved.duplicates, duplicates: moved.duplicates, recovered, kept, added: 0, remaining: kept };
  }
  const letters = await opts.dlq.list();
  if (letters.length === 0) {
    return { outcomes: [], planned: 0, interrupted: false, leftOver: 0, unfinished: [], bytes: 0, lost: 0, requests: {}, letters: 0, duplicates: 0, recovered: 0, kept: 0, added: 0, remaining: 0 };
  }
  // Each image runs once, with its newest letter's body.
  const { newest, duplicates, keys } = byImage(letters);
  // The replay's own failures are collected here first, then merged into the real DLQ.
  const fresh: DeadLetter[] = [];
  const collector = {
    add: async (l: DeadLetter) => void fresh.push(l),
    list: async () => fresh,
    remove: async (ids: readonly string[]) => void ids,
  };
  const run = await runMessages({ ...opts, dlq: collector }, newest.map((l) => l.body));

  // By image, not by body: an invalid letter's fresh copy holds its masked body (copier.ts), and
  // an expanded repository may plan an image that has a letter of its own.
  const replayed = new Set(newest.map((l) => keys.get(l.id)!));
  const failedAgain = new Set(fresh.map((l) => letterKey(l.body)));
  const ok = new Set(run.outcomes.filter(succeeded).map((o) => letterKey(o.body)));
  const recovered = new Set([...replayed].filter((k) => ok.has(k) && !failedAgain.has(k)));
  // Removed: every letter of a recovered image, and (where add() does not replace) the old letters
  // of an image that has a fresh one. On Ctrl-C the unfinished ones are in `fresh` too (reason
  // SWRM_INTERRUPTED): still replayable. An image with neither keeps its letters.
  const drop = letters.filter((l) => recovered.has(keys.get(l.id)!) || failedAgain.has(keys.get(l.id)!)).map((l) => l.id);
  // New letters are written before old ones are removed (in one rewrite for the file DLQ): a crash
  // in between duplicates, never loses.
  if (isBatchStore(opts.dlq)) await opts.dlq.addAll(fresh, drop);
  else {
    for (const l of fresh) await opts.dlq.add(l);
    await opts.dlq.remove(drop);
  }
  const remaining = (await opts.dlq.list()).length;
  const added = [...failedAgain].filter((k) => !replayed.has(k)).length;
  return { ...run, letters: letters.length, duplicates: duplicates.length, recovered: recovered.size, kept: replayed.size - recovered.size, added, remaining };
}
