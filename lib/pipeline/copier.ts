// A copier worker, in two halves. `processMessage` decides: it copies (or expands) one queue message
// and says how to settle it (ack, retry after a backoff, dead-letter with a reason, or leave it when
// interrupted), without touching the queue. `settleOnQueue` carries that out on any WorkQueue: the
// embedded queue, or SQS from the Lambda handler (lib/lambda/copier-batch.ts), which reports retries
// as batch item failures as well. Nothing a message contains can crash the worker.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { copyImage } from '../copy/copy-image.js';
import { resolveFormat } from '../copy/transforms.js';
import type { CopyContext } from '../copy/context.js';
import { errorMessage, failureCode, isRetryable } from '../errors.js';
import { parseReference } from '../oci/reference.js';
import type { TagLister } from '../plan/planner.js';
import { type CopyImageMessage, decodeMessage, ruleDestinationText, ruleSourceText, runOf } from '../queue/messages.js';
import { expandGroup, expandNamespace, expandOne } from './expand.js';
import { type RecheckRules, recheckRepository } from './recheck.js';
import type { FailureReason, QueueMessage, WorkQueue } from '../queue/types.js';
import type { ClientPool } from '../registry/pool.js';
import { backoffDelay } from '../registry/http/retry.js';
import type { DigestMemo } from '../state/digest-memo.js';
import type { DestinationState } from '../copy/destination-state.js';
import { destinationTagsFor } from '../listing/index.js';
import type { RepositoryLister } from '../listing/types.js';
import { RUN_OUTCOMES, type RunAccounting, type RunOutcome } from '../state/runs.js';
import { maskBody } from '../secrets.js';
import type { PullAdmission, PullBudgetGate } from '../registry/limits/pull-gate.js';
import { type CopyCounters, emptyCounters } from '../copy/context.js';
import { type AttemptLedger, madeProgress } from './attempts.js';

export interface ImageOutcome {
  /** The message body it settled (replay matches dead letters by it). */
  body: string;
  /** `prune`: one destination tag a rule's prune dealt with (pipeline/prune.ts), not a message. */
  kind: 'copy-image' | 'expand-repository' | 'expand-namespace' | 'expand-group' | 'recheck' | 'invalid' | 'prune';
  source: string;
  destination: string;
  /**
   * `deferred`: left in the DLQ because a source's pull budget is spent (pull-budget.ts); not a failure.
   * `filtered`: the platform filter wants none of the image (`conversion` says why); not copied, not a failure.
   * `kept`: an image, `overwrite: false` and the destination tag holds another digest (`conversion`
   * says which); a prune entry, a tag prune left (`conversion` says why). Not a failure.
   * `pruned`: a destination tag prune deleted. `held`: a rule's prune stopped above its max (nothing deleted).
   */
  status: 'copied' | 'skipped' | 'filtered' | 'kept' | 'pruned' | 'held' | 'expanded' | 'retrying' | 'failed' | 'deferred';
  digest?: string;
  sourceDigest?: string;
  conversion?: string;
  bytes: number;
  durationMs: number;
  attempt: number;
  error?: FailureReason;
  /** Copy messages an expand-repository message fanned out into. */
  expandedInto?: number;
  /** Why a recheck sent nothing (no rule covers its repository), for logs and reports. */
  note?: string;
}

/** How a processed message is to be settled on its queue. */
export type Settlement =
  | { action: 'ack' }
  /** SQS ChangeMessageVisibility to the backoff; a batch item failure in Lambda. */
  | { action: 'retry'; delayMs: number }
  /** Straight to the DLQ; `body` (masked) replaces an invalid message's body. */
  | { action: 'dead-letter'; reason: FailureReason; body?: string }
  /** Interrupted: leave the message as it is, so it comes back (or the caller saves it). */
  | { action: 'leave' };

export interface Processed {
  /** Undefined when interrupted (no verdict on the image). */
  outcome?: ImageOutcome;
  settlement: Settlement;
}

/** What processing a message needs: the copy engine and, for expand-repository, a way to enqueue. */
export interface ProcessDeps {
  pool: ClientPool;
  ctx: CopyContext;
  /**
   * Deliveries of a message at most, progress or not (the queue's redrive cap: attempts.ts). A
   * failing message on its last allowed delivery goes to the DLQ with its reason.
   */
  maxReceiveCount: number;
  /** Deliveries that made no progress before a failing image goes to the DLQ (retries + 1); default maxReceiveCount. */
  attempts?: number;
  /** Which deliveries made progress (attempts.ts); without it every delivery spends an attempt. */
  ledger?: AttemptLedger;
  list: TagLister;
  /** The source listing API of a registry (default: listing/index.ts listerFor over the pool). */
  lister?: (registry: string) => RepositoryLister | undefined;
  /**
   * Straight to the DLQ, for what an expansion must never send to a copier: an image two sources
   * of a group claim (SWRM_DESTINATION_CONFLICT), a rule of a group that cannot be listed. Without
   * it such an expansion fails and is retried, or dead-lettered whole.
   */
  deadLetter?: (body: string, reason: FailureReason) => Promise<void>;
  /** Enqueue the copy messages an expand-repository message expands into. */
  send: (bodies: string[]) => Promise<void>;
  logger?: Logger;
  /** Digests a platform filter produced, kept across runs (see state/digest-memo.ts). */
  memo?: DigestMemo;
  /** What the run knows of its destination repositories (copy/destination-state.ts): fewer HEADs. */
  destinations?: DestinationState;
  /** Sources' pull budgets (Docker Hub): admit, pace or defer each image (registry/limits/pull-gate.ts). */
  pullBudget?: PullBudgetGate;
  /** Warnings for the user while expanding a repository (lib/plan/warnings.ts); default: logged. */
  onWarning?: (message: string) => void;
  /** Counts the settled messages of scheduled runs (state/runs.ts), for messages that carry a `run`. */
  runs?: RunAccounting;
  /** The config's rules, which a recheck is matched against (pipeline/recheck.ts); without them a recheck fails. */
  recheckRules?: RecheckRules;
  /** What an expansion's prune did, tag by tag (pipeline/prune.ts); default: logged only. */
  onPrune?: (o: ImageOutcome) => void;
}

export interface CopierDeps extends Omit<ProcessDeps, 'send'> {
  queue: WorkQueue;
  signal?: AbortSignal;
  onOutcome?: (o: ImageOutcome) => void;
  /** Tasks added by expanding a repository. */
  onPlanned?: (count: number) => void;
}

/** Backoff between deliveries of a failing message: 1 s, 2 s, 4 s ... capped at 60 s. */
const MESSAGE_BACKOFF = { attempts: Infinity, baseDelayMs: 1000, maxDelayMs: 60_000 };

/**
 * Copy or expand one message; the only queue call is the expansion's `send`. A message of a run
 * is counted (deps.runs) before the caller settles it on the queue: a settlement that fails brings
 * the message back, and its second count is none (runs.ts).
 */
export async function processMessage(msg: QueueMessage, deps: ProcessDeps, signal?: AbortSignal): Promise<Processed> {
  const processed = await decide(msg, deps, signal);
  const status = processed.outcome?.status;
  if (deps.runs && status && isRunOutcome(status) && processed.outcome!.kind !== 'invalid') await countSettled(deps, msg.body, status, processed.outcome!);
  return processed;
}

const isRunOutcome = (s: string): s is RunOutcome => (RUN_OUTCOMES as readonly string[]).includes(s);

/** Run accounting never fails a message: a lost count only makes the run look unfinished. */
async function countSettled(deps: ProcessDeps, body: string, outcome: RunOutcome, o: ImageOutcome): Promise<void> {
  const run = runOf(body);
  if (!run) return;
  try {
    // What the run's summary reports (lib/notify): bytes, and a failure's code, image and message.
    const detail = { bytes: o.bytes, source: o.source, destination: o.destination, ...(o.status === 'failed' && o.error ? { error: o.error } : {}) };
    await deps.runs!.settled(run, body, outcome, detail);
  } catch (err) {
    deps.logger?.warn({ run, code: failureCode(err), err: errorMessage(err) }, 'cannot count the message in its run');
  }
}

async function decide(msg: QueueMessage, deps: ProcessDeps, signal?: AbortSignal): Promise<Processed> {
  const started = performance.now();
  const base = { body: msg.body, attempt: msg.receiveCount, bytes: 0 };
  // The message's own signal (a Lambda deadline) joins the run's: either one stops the transfers.
  const runSignal = deps.ctx.signal;
  const stop = signal && runSignal && signal !== runSignal ? AbortSignal.any([signal, runSignal]) : (signal ?? runSignal);
  const ctx = stop === runSignal ? deps.ctx : { ...deps.ctx, signal: stop };
  let kind: ImageOutcome['kind'] = 'invalid';
  let source = '';
  let destination = '';
  // What this delivery committed, kept even when the copy fails: progress spends no attempt.
  const counters = emptyCounters();
  try {
    const body = decodeMessage(msg.body);
    kind = body.kind;
    source = body.kind === 'copy-image' ? body.source : ruleSourceText(body);
    if (body.kind === 'copy-image') {
      destination = body.destination;
      const admission = deps.pullBudget ? await deps.pullBudget.admit(body.source, stop) : undefined;
      if (admission && 'deferred' in admission) {
        deps.ledger?.forget(msg.id);
        return deferredImage(admission.deferred, { ...base, kind, source, destination, durationMs: performance.now() - started });
      }
      const outcome = await copyOne(body, deps, ctx, counters, admission?.admitted);
      deps.ledger?.forget(msg.id);
      return { settlement: { action: 'ack' }, outcome: { ...base, kind, source, ...outcome, durationMs: performance.now() - started } };
    }
    destination = ruleDestinationText(body);
    if (body.kind === 'recheck') {
      const { sent, note } = await recheckRepository(body, deps, stop);
      deps.ledger?.forget(msg.id);
      const outcome: ImageOutcome = { ...base, kind, source, destination, status: 'expanded', expandedInto: sent, ...(note ? { note } : {}), durationMs: performance.now() - started };
      return { settlement: { action: 'ack' }, outcome };
    }
    const count =
      body.kind === 'expand-repository'
        ? await expandOne(body, deps, stop)
        : body.kind === 'expand-namespace'
          ? await expandNamespace(body, deps, stop)
          : await expandGroup(body, deps, stop);
    deps.ledger?.forget(msg.id);
    const outcome: ImageOutcome = { ...base, kind, source, destination, status: 'expanded', expandedInto: count, durationMs: performance.now() - started };
    return { settlement: { action: 'ack' }, outcome };
  } catch (err) {
    if (stop?.aborted) return { settlement: { action: 'leave' } };
    const error: FailureReason = { code: failureCode(err), message: errorMessage(err) };
    const log = deps.logger?.child({ messageId: msg.id, source, destination });
    const outcome = { ...base, kind, source, destination, error, durationMs: performance.now() - started };
    // Out of a source's pull budget: left for later, or (--pace) tried again once the window refills.
    const budget = kind === 'copy-image' ? deps.pullBudget?.deferral(err) : undefined;
    if (budget) {
      if (deps.pullBudget!.pace && msg.receiveCount < deps.maxReceiveCount) {
        return { settlement: { action: 'retry', delayMs: deps.pullBudget!.refillDelay(source) }, outcome: { ...outcome, status: 'retrying' } };
      }
      deps.ledger?.forget(msg.id);
      return deferredImage(budget.deferred, outcome);
    }
    // A delivery that committed something spends no attempt (attempts.ts); the cap still holds.
    const progressed = madeProgress(counters);
    const spent = deps.ledger ? deps.ledger.spent(msg.id, msg.receiveCount, progressed) : msg.receiveCount;
    if (isRetryable(err) && spent < (deps.attempts ?? deps.maxReceiveCount) && msg.receiveCount < deps.maxReceiveCount) {
      const delayMs = backoffDelay(MESSAGE_BACKOFF, Math.max(1, spent), err);
      log?.warn({ err: error.message, attempt: msg.receiveCount, attemptsSpent: spent, progressed, delayMs }, 'image failed, will retry');
      return { settlement: { action: 'retry', delayMs }, outcome: { ...outcome, status: 'retrying' } };
    }
    deps.ledger?.forget(msg.id);
    log?.error({ err: error.message, code: error.code, attempt: msg.receiveCount }, 'image failed, sent to the DLQ');
    // A body that failed to decode may be anything a producer sent, secrets included (issue 6).
    const settlement: Settlement = { action: 'dead-letter', reason: error, ...(kind === 'invalid' ? { body: maskBody(msg.body) } : {}) };
    return { settlement, outcome: { ...outcome, status: 'failed' } };
  }
}

function deferredImage(reason: FailureReason, outcome: Omit<ImageOutcome, 'status'>): Processed {
  return { settlement: { action: 'dead-letter', reason }, outcome: { ...outcome, status: 'deferred', error: reason } };
}

/** Carry out a settlement on any WorkQueue (embedded or SQS). */
export async function settleOnQueue(queue: WorkQueue, msg: QueueMessage, s: Settlement): Promise<void> {
  switch (s.action) {
    case 'ack':
      return queue.ack(msg);
    case 'retry':
      return queue.release(msg, s.delayMs);
    case 'dead-letter':
      return queue.deadLetter(msg, s.reason, s.body);
    case 'leave':
      return;
  }
}

/** Process and settle on `deps.queue`: the embedded pipeline's copier step. */
export async function handleMessage(msg: QueueMessage, deps: CopierDeps): Promise<void> {
  const onPrune = deps.onPrune ?? deps.onOutcome;
  const { outcome, settlement } = await processMessage(msg, { ...deps, ...(onPrune ? { onPrune } : {}), send: (bodies) => deps.queue.send(bodies) }, deps.signal);
  await settleOnQueue(deps.queue, msg, settlement);
  if (outcome?.expandedInto !== undefined) deps.onPlanned?.(outcome.expandedInto);
  if (outcome) deps.onOutcome?.(outcome);
}

async function copyOne(
  m: CopyImageMessage,
  deps: ProcessDeps,
  ctx: CopyContext,
  counters: CopyCounters,
  admission: PullAdmission | undefined,
): Promise<Pick<ImageOutcome, 'status' | 'destination' | 'digest' | 'sourceDigest' | 'conversion' | 'bytes'>> {
  const src = parseReference(m.source);
  const dst = parseReference(m.destination);
  const result = await copyImage(
    ctx,
    { client: deps.pool.client(src.registry, src.repository, 'source'), ref: src },
    { client: deps.pool.client(dst.registry, dst.repository, 'destination'), ref: dst },
    {
      platforms: m.platforms,
      memo: deps.memo,
      format: resolveFormat(m.format, deps.pool.access(dst.registry, dst.repository)),
      counters,
      ...(admission ? { reserveGets: admission.reserve } : {}),
      ...(m.force ? { force: true } : {}),
      ...(m.deep ? { deep: true } : {}),
      ...(m.fullCheck ? { fullCheck: true } : {}),
      ...(m.listedDigest ? { listedDigest: m.listedDigest } : {}),
      ...(m.destinationSeen ? { destinationSeen: m.destinationSeen } : {}),
      ...(m.fanOut ? { fanOut: m.fanOut } : {}),
      ...(m.overwrite === false ? { overwrite: false as const } : {}),
      ...(deps.destinations ? { destinations: deps.destinations, ...destinationTagsFor(deps.pool, dst.registry) } : {}),
    },
  );
  return {
    status: result.status,
    // What was pushed: a digest destination names the filtered digest, not the source's.
    destination: result.destination,
    digest: result.digest,
    bytes: result.counters.bytesUploaded,
    ...(result.conversion ? { conversion: result.conversion, sourceDigest: result.sourceDigest } : {}),
  };
}

/**
 * Run `n` copier loops until `done` aborts (the planner is done and the queue is empty) or the run's
 * signal does. `done` also cuts short a long poll, so the last image is not followed by idle waits.
 */
export async function runCopiers(n: number, deps: CopierDeps, done: AbortSignal): Promise<void> {
  // A loop only fails when the queue itself does (e.g. the DLQ cannot be written): then all stop,
  // and the caller saves what is left, instead of the others waiting on a message that never settles.
  const broken = new AbortController();
  const stop = AbortSignal.any([done, broken.signal, ...(deps.signal ? [deps.signal] : [])]);
  // Each loop's long poll listens on `stop`: n listeners, by design (MaxListenersExceededWarning at 16).
  setMaxListeners(0, stop);
  const loop = async () => {
    try {
      while (!stop.aborted) {
        const [msg] = await deps.queue.receive(1, 1000, stop);
        if (msg) await handleMessage(msg, deps);
      }
    } catch (err) {
      broken.abort();
      throw err;
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: n }, loop));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}
