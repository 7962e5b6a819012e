// The copier Lambda handler, as a middy function: functions/copier.ts only names where its queue
// and config come from. The environment (queue, copy context) is built once per container, on the
// first event, and reused while the container stays warm: connections, tokens and the blob ledger.
// A container whose environment cannot be built (an unreadable config, a missing secret) logs one
// line and fails the batch, which comes back; the next event tries again.
import middy from '@middy/core';
import sqsPartialBatchFailure from '@middy/sqs-partial-batch-failure';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from 'pino';
import { errorMessage, failureCode } from '../errors.js';
import type { ImageOutcome } from '../pipeline/copier.js';
import { type CopierEnv, RecordBackError, processRecords } from './copier-batch.js';
import { type MigrationCounts, emfLine } from './metrics.js';

export interface CopierHandlerOptions {
  logger?: Logger;
  /**
   * Where one CloudWatch EMF line per invocation goes (images copied, skipped, filtered, failed, bytes): the
   * dashboard's figures, extracted from the logs with no API call. Lambda ships stdout to CloudWatch.
   */
  metrics?: { service: string; write(line: string): void };
}

/** An invocation's figures, counted from the outcomes its records settled with. */
function tally(counts: MigrationCounts, o: ImageOutcome): void {
  if (o.kind === 'prune') {
    if (o.status === 'pruned') counts.pruned = (counts.pruned ?? 0) + 1;
    else if (o.status === 'held') counts.pruneHeld = (counts.pruneHeld ?? 0) + 1;
    return;
  }
  if (o.status === 'copied') counts.copied++;
  else if (o.status === 'skipped') counts.skipped++;
  else if (o.status === 'kept') counts.kept = (counts.kept ?? 0) + 1;
  else if (o.status === 'filtered') counts.filtered++;
  else if (o.status === 'failed') counts.failed++;
  counts.bytes += o.bytes;
}

export function copierHandler(load: () => Promise<CopierEnv>, opts: CopierHandlerOptions = {}) {
  let env: Promise<CopierEnv> | undefined;
  const environment = (): Promise<CopierEnv> => {
    env ??= load().catch((err: unknown) => {
      env = undefined;
      opts.logger?.fatal({ code: failureCode(err) }, `copier cannot start: ${errorMessage(err)}`);
      throw err;
    });
    return env;
  };
  const inner = async (event: SQSEvent, context: Context): Promise<PromiseSettledResult<void>[]> => {
    const base = await environment();
    const counts: MigrationCounts = { copied: 0, skipped: 0, filtered: 0, failed: 0, bytes: 0 };
    const onOutcome = (o: ImageOutcome) => {
      tally(counts, o);
      base.onOutcome?.(o);
    };
    try {
      return await processRecords(event.Records ?? [], { ...base, onOutcome }, context.getRemainingTimeInMillis());
    } finally {
      opts.metrics?.write(`${emfLine(counts, { service: opts.metrics.service })}\n`);
    }
  };
  return middy<SQSEvent, SQSBatchResponse, Error, Context>()
    .use(
      sqsPartialBatchFailure({
        // The default logs the whole record; a body may be anything a producer sent.
        logger: (reason: unknown, record: SQSRecord) =>
          opts.logger?.info({ messageId: record.messageId, code: reason instanceof RecordBackError ? reason.code : failureCode(reason) }, `record comes back: ${errorMessage(reason)}`),
      }),
    )
    .handler(inner as unknown as (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>);
}
