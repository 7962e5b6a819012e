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
import { type CopierEnv, RecordBackError, processRecords } from './copier-batch.js';

export interface CopierHandlerOptions {
  logger?: Logger;
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
  const inner = async (event: SQSEvent, context: Context): Promise<PromiseSettledResult<void>[]> =>
    processRecords(event.Records ?? [], await environment(), context.getRemainingTimeInMillis());
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
