// The one place that builds the SQS adapter for the handlers (functions/*.ts). One SqsWorkQueue
// per queue URL per container, so a warm container keeps its SQS client and connections.
import type { QueueFactory } from './handlers.js';
import { SqsWorkQueue } from '../queue/sqs-queue.js';
import { sqsLongHaulQueue } from '../queue/sqs-long-haul.js';

const queues = new Map<string, SqsWorkQueue>();

function workQueue(queueUrl: string): SqsWorkQueue {
  let q = queues.get(queueUrl);
  if (!q) queues.set(queueUrl, (q = new SqsWorkQueue({ queueUrl })));
  return q!;
}

export const sqsQueues: QueueFactory = {
  workQueue,
  // The DLQ is found from the queue's RedrivePolicy; a queue without one is SWRM_NO_DLQ, naming it.
  deadLetters: (queueUrl) => workQueue(queueUrl).deadLetters(),
  // Asked for once per container, when the copier's environment is built.
  longHaul: (queueUrl) => sqsLongHaulQueue(queueUrl),
};
