// One SQS batch through the copier: every record is processed at once, each settled on the queue,
// and the result comes back in record order for @middy/sqs-partial-batch-failure (it turns each
// rejected entry into a batchItemFailure). Fulfilled: done (acked, or dead-lettered at once for a
// permanent failure or an invalid body). Rejected: the record must come back (a retry after its
// backoff, or unfinished at the deadline). One bad record never fails the batch: nothing throws.
import type { SQSRecord } from 'aws-lambda';
import type { Logger } from 'pino';
import { ErrorCode, MigrateError, errorMessage } from '../errors.js';
import { type ImageOutcome, type ProcessDeps, processMessage, settleOnQueue } from '../pipeline/copier.js';
import type { WorkQueue } from '../queue/types.js';
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
}

export const DEFAULT_MARGIN_MS = 10_000;

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
  const deps: ProcessDeps = { ...env.runtime, send: (bodies) => env.queue.send(bodies) };
  try {
    return await Promise.allSettled(records.map((r) => processRecord(r, deps, env, deadline.signal)));
  } finally {
    clearTimeout(timer);
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
