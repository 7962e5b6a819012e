// The long-haul queue on SQS (issue 14, item 4): where the copier Lambda sends an image the deadline
// cut twice. No Lambda consumes it; `swr-migrate work --queue-url LONG_QUEUE_URL` drains it on a
// machine without a deadline. Its URL comes from the environment (LONG_QUEUE_URL, a `Ref` in the
// stack), never from GetQueueUrl: the copier's role allows exactly sqs:SendMessage on it.
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { LongHaulQueue } from '../lambda/copier-batch.js';
import { sqsClient } from './sqs-client.js';
import { SqsDeadLetterStore } from './sqs-dlq.js';

/**
 * A send with the reason in the DLQ's message attributes (swrm-code, swrm-message, ...), so `status
 * --queue-url LONG_QUEUE_URL` can group them by reason like letters, and the body byte for byte, so
 * `work` copies it as it would have on the work queue. One SendMessage; nothing is looked up.
 */
export function sqsLongHaulQueue(url: string, client: SQSClient = sqsClient()): LongHaulQueue {
  // The DLQ store's add() is exactly that send; only its target URL is used.
  const sender = new SqsDeadLetterStore({ client, queueUrl: url, queueArn: '', dlqUrl: url, dlqArn: '', maxReceiveCount: 0 });
  return { url, add: (letter) => sender.add(letter) };
}
