// The one place that builds the SQS adapter for the handlers (functions/*.ts). One SqsWorkQueue
// per queue URL per container, so a warm container keeps its SQS client and connections.
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { QueueFactory } from './handlers.js';
import { type Env, deadLetterQueueFrom } from './env.js';
import { SqsWorkQueue } from '../queue/sqs-queue.js';
import { sqsLongHaulQueue } from '../queue/sqs-long-haul.js';

export interface SqsQueuesOptions {
  /** Default: each queue's own sqsClient() (AWS_REGION, AWS_ENDPOINT_URL_SQS, the role's credentials). */
  client?: SQSClient;
}

/**
 * The SQS factory for an environment. The work queue (QUEUE_URL) gets its DLQ from DLQ_URL,
 * DLQ_ARN and QUEUE_ARN (env.ts deadLetterQueueFrom), so no function looks it up with GetQueueUrl;
 * without them it is found from the queue's RedrivePolicy (SWRM_NO_DLQ naming the queue if none).
 */
export function sqsQueuesFrom(env: Env, options: SqsQueuesOptions = {}): QueueFactory {
  const queues = new Map<string, SqsWorkQueue>();
  const workQueue = (queueUrl: string): SqsWorkQueue => {
    let q = queues.get(queueUrl);
    if (!q) {
      const known = queueUrl === env.QUEUE_URL?.trim() ? deadLetterQueueFrom(env) : undefined;
      q = new SqsWorkQueue({ queueUrl, ...(options.client ? { client: options.client } : {}), ...(known ? { deadLetterQueue: known } : {}) });
      queues.set(queueUrl, q);
    }
    return q;
  };
  return {
    workQueue,
    deadLetters: (queueUrl) => workQueue(queueUrl).deadLetters(),
    // LONG_QUEUE_URL (copier-batch.ts): asked for once per container, when the copier's environment is built.
    longHaul: (queueUrl) => sqsLongHaulQueue(queueUrl, options.client),
  };
}

/** The Lambda functions' factory: the process environment serverless.yml gives them. */
export const sqsQueues: QueueFactory = sqsQueuesFrom(process.env);
