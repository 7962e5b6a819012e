// SQS events as Lambda delivers them (the event source mapping's record shape), built from the
// messages a WorkQueue handed out, so a handler test settles on a real (embedded) queue: the
// record's receiptHandle is the delivery's, and ApproximateReceiveCount its receive count.
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import type { QueueMessage } from '../../lib/queue/types.js';

const ARN = 'arn:aws:sqs:eu-west-1:000000000000:swr-migrate-work';

export function sqsRecord(msg: QueueMessage, overrides: Partial<SQSRecord> = {}): SQSRecord {
  return {
    messageId: msg.id,
    receiptHandle: msg.receiptHandle,
    body: msg.body,
    attributes: {
      ApproximateReceiveCount: String(msg.receiveCount),
      SentTimestamp: String(Date.now()),
      SenderId: 'AIDATEST',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: ARN,
    awsRegion: 'eu-west-1',
    ...overrides,
  };
}

export function sqsEvent(messages: readonly QueueMessage[]): SQSEvent {
  return { Records: messages.map((m) => sqsRecord(m)) };
}

/** A Lambda context whose deadline is `remainingMs` from now. */
export function lambdaContext(remainingMs: number): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'swr-migrate-copier',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:swr-migrate-copier',
    memoryLimitInMB: '1024',
    awsRequestId: 'test-request',
    logGroupName: '/aws/lambda/swr-migrate-copier',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
