// SQS events as Lambda delivers them (the event source mapping's record shape), built from the
// messages a WorkQueue handed out, so a handler test settles on a real (embedded) queue: the
// record's receiptHandle is the delivery's, and ApproximateReceiveCount its receive count. The
// shapes are the local workers' own (lib/lambda/local-workers.ts), so tests and `work` agree.
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { localContext, recordFor } from '../../lib/lambda/local-workers.js';
import type { QueueMessage } from '../../lib/queue/types.js';

const ARN = 'arn:aws:sqs:eu-west-1:000000000000:swr-migrate-work';

export function sqsRecord(msg: QueueMessage, overrides: Partial<SQSRecord> = {}): SQSRecord {
  return { ...recordFor(msg, ARN), ...overrides };
}

export function sqsEvent(messages: readonly QueueMessage[]): SQSEvent {
  return { Records: messages.map((m) => sqsRecord(m)) };
}

/** A Lambda context whose deadline is `remainingMs` from now. */
export function lambdaContext(remainingMs: number): Context {
  return localContext(remainingMs, 'swr-migrate-copier');
}
