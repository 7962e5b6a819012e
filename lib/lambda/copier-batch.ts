// One SQS batch through the copier: every record is processed at once, each settled on the queue,
// and the result comes back in record order for @middy/sqs-partial-batch-failure (it turns each
// rejected entry into a batchItemFailure). Fulfilled: done (acked, or dead-lettered at once for a
// permanent failure or an invalid body). Rejected: the record must come back (a retry after its
// backoff, or unfinished at the deadline). One bad record never fails the batch: nothing throws.
// A record the deadline cuts again on a later delivery will never fit a Lambda invocation: it moves
// to the long-haul queue, which no Lambda consumes and `swr-migrate work` drains (issue 14, item 4).
import type { SQSRecord } from 'aws-lambda';
import type { Logger } from 'pino';
import { ErrorCode, MigrateError, errorMessage, failureCode } from '../errors.js';
import { type ImageOutcome, type ProcessDeps, processMessage, settleOnQueue } from '../pipeline/copier.js';
import type { DeadLetter, QueueMessage, WorkQueue } from '../queue/types.js';
import { messageFromRecord } from './records.js';

export interface CopierEnv {
  queue: WorkQueue;
  /** The module-scope copy context (pool, ledger, tokens): a warm container reuses it. */
  runtime: Omit<ProcessDeps, 'send'>;
  logger?: Logger;
  /**
   * Kept free before the Lambda deadline: time to abort the transfers and settle every record
   * (a ChangeMessageVisibility or DLQ send each). Default 10 s.
   */
  marginMs?: number;
  onOutcome?: (o: ImageOutcome) => void;
  /** Where records the deadline cut on a second (or later) delivery go; without it they come back. */
  longHaul?: LongHaulQueue;
}

export const DEFAULT_MARGIN_MS = 10_000;

/**
 * The long-haul queue (LONG_QUEUE_URL): a record is sent there with its reason in message attributes,
 * as a dead letter is (queue/sqs-long-haul.ts), then deleted from the work queue.
 */
export interface LongHaulQueue {
  readonly url: string;
  add(letter: DeadLetter): Promise<void>;
}

/**
 * The delivery from which a record cut by the deadline leaves Lambda. The first cut may be bad luck (a
 * slow registry, a batch of large images sharing one invocation); a second one means the image needs
 * more than the copier's timeout, and every further delivery would download it again for nothing.
 */
export const LONG_HAUL_FROM_DELIVERY = 2;

/** Why a record is reported as a batch item failure (only its id, code and this text are logged). */
export class RecordBackError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RecordBackError';
  }
}

export async function processRecords(records: readonly SQSRecord[], env: CopierEnv, remainingMs: number): Promise<PromiseSettledResult<void>[]> {
  const deadline = new AbortController();
  const budget = remainingMs - (env.marginMs ?? DEFAULT_MARGIN_MS);
  const timer = setTimeout(() => deadline.abort(new MigrateError(ErrorCode.INTERRUPTED, 'the Lambda deadline is near')), Math.max(0, budget));
  // What an expansion's prune did is logged and counted like the settled images (copier-handler.ts).
  const deps: ProcessDeps = { ...env.runtime, ...(env.onOutcome ? { onPrune: env.onOutcome } : {}), send: (bodies) => env.queue.send(bodies) };
  // A batch is the Lambda's run: spooled source blobs go when the last batch running ends (copy/source-share.ts).
  const leave = env.runtime.ctx.sourceBlobs?.enter();
  try {
    return await Promise.allSettled(records.map((r) => processRecord(r, deps, env, deadline.signal)));
  } finally {
    clearTimeout(timer);
    leave?.();
  }
}

async function processRecord(record: SQSRecord, deps: ProcessDeps, env: CopierEnv, deadline: AbortSignal): Promise<void> {
  const msg = messageFromRecord(record);
  let processed: Awaited<ReturnType<typeof processMessage>>;
  try {
    processed = await processMessage(msg, deps, deadline);
  } catch (err) {
    // processMessage turns every failure into a settlement; this is a bug, not the message's fault.
    throw new RecordBackError(ErrorCode.INTERRUPTED, `copier failed: ${errorMessage(err)}`);
  }
  const { outcome, settlement } = processed;
  if (outcome) env.onOutcome?.(outcome);
  if (settlement.action === 'leave') {
    // The Lambda deadline, not a stop of the whole run (a local worker's SIGTERM): only then is the
    // image too long for Lambda.
    const cut = deadline.aborted && !env.runtime.ctx.signal?.aborted;
    if (cut && msg.receiveCount >= LONG_HAUL_FROM_DELIVERY && env.longHaul && (await moveToLongHaul(msg, env, env.longHaul))) return;
    // Cut short by the deadline: visible again at once (not after the long visibility timeout),
    // and never half-committed, since an image's manifest is pushed only after all its blobs.
    await env.queue.release(msg, 0).catch(() => undefined);
    env.logger?.warn({ messageId: msg.id, attempt: msg.receiveCount }, 'record unfinished at the Lambda deadline; it comes back');
    throw new RecordBackError(ErrorCode.INTERRUPTED, 'unfinished at the Lambda deadline');
  }
  // A failed settlement call (SQS unreachable) leaves the record to come back after its visibility.
  await settleOnQueue(env.queue, msg, settlement);
  if (settlement.action === 'retry') {
    throw new RecordBackError(outcome?.error?.code ?? ErrorCode.NETWORK, `retry in ${Math.round(settlement.delayMs)} ms`);
  }
}

/**
 * Send the record to the long-haul queue, then delete it here. False when the send failed: the record
 * then comes back as on a first cut. A failed delete leaves it on both queues (it comes back here after
 * its visibility timeout and moves again): copies are idempotent, so the second copy is a no-op.
 */
async function moveToLongHaul(msg: QueueMessage, env: CopierEnv, longHaul: LongHaulQueue): Promise<boolean> {
  const reason = {
    code: ErrorCode.LAMBDA_DEADLINE,
    message: `unfinished at the Lambda deadline on delivery ${msg.receiveCount}: too long for the copier's timeout; 'swr-migrate work --queue-url ${longHaul.url}' copies it without a deadline`,
  };
  try {
    await longHaul.add({ id: msg.id, body: msg.body, receiveCount: msg.receiveCount, reason, at: new Date().toISOString() });
  } catch (err) {
    env.logger?.error({ messageId: msg.id, code: failureCode(err) }, `cannot move the record to the long-haul queue: ${errorMessage(err)}; it comes back`);
    return false;
  }
  env.runtime.ledger?.forget(msg.id);
  await env.queue.ack(msg).catch((err: unknown) => env.logger?.warn({ messageId: msg.id, code: failureCode(err) }, `moved to the long-haul queue, but not deleted here: ${errorMessage(err)}`));
  env.logger?.warn({ messageId: msg.id, attempt: msg.receiveCount, longQueueUrl: longHaul.url }, 'record unfinished at the Lambda deadline again; moved to the long-haul queue');
  return true;
}
