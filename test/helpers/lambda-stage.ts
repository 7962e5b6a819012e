// The Lambda handlers' surroundings for an e2e test, as functions/ build them: a queue pair on
// local-aws-sqs (the work queue and its DLQ), optionally the state table on dynalite, the handlers'
// environment, and Lambda's event source mapping by hand (drain: batches to a copier until the
// queue is empty). Older Lambda tests set this up themselves; new ones use this.
import assert from 'node:assert/strict';
import { type QueueFactory, copierFromEnv } from '../../lib/lambda/handlers.js';
import { runBatch } from '../../lib/lambda/local-workers.js';
import type { Logger } from 'pino';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { type DynamoServerHandle, startDynamoServer } from './dynamo-server.js';
import { lambdaContext } from './sqs-events.js';
import { type SqsQueuePair, type SqsServerHandle, startSqsServer } from './sqs-server.js';

export interface LambdaStage {
  sqs: SqsServerHandle;
  dynamo?: DynamoServerHandle;
  pair: SqsQueuePair;
  queue: SqsWorkQueue;
  queues: QueueFactory;
  /** The handlers' environment for a config file (QUEUE_URL, SWRM_CONFIG, the state table's). */
  env(config: string): Record<string, string>;
  /**
   * Batches of up to 10 to a copier until the queue is drained; returns how many batches it took.
   * `fresh`: a new copier (a cold container) per batch, so only the state table carries over.
   */
  drain(env: Record<string, string>, logger: Logger, opts?: { fresh?: boolean }): Promise<number>;
  stop(): Promise<void>;
}

export async function startLambdaStage(name: string, opts: { stateTable?: string } = {}): Promise<LambdaStage> {
  const [sqs, dynamo] = await Promise.all([startSqsServer(), opts.stateTable ? startDynamoServer() : Promise.resolve(undefined)]);
  if (dynamo) await dynamo.createStateTable(opts.stateTable!);
  const pair = await sqs.createQueuePair(name, { maxReceiveCount: 3, visibilityTimeoutS: 30 });
  const queue = new SqsWorkQueue({ queueUrl: pair.queueUrl, client: sqs.client, drainedReadings: 1 });
  const queues: QueueFactory = { workQueue: () => queue, deadLetters: () => queue.deadLetters() };
  return {
    sqs,
    ...(dynamo ? { dynamo } : {}),
    pair,
    queue,
    queues,
    env: (config) => ({
      QUEUE_URL: pair.queueUrl,
      SWRM_CONFIG: config,
      MAX_RECEIVE_COUNT: '3',
      ...(dynamo ? { SWRM_STATE_TABLE: opts.stateTable!, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint } : {}),
    }),
    async drain(env, logger, { fresh = false } = {}) {
      let batches = 0;
      let copier = copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger, writeMetrics: () => undefined });
      for (let i = 0; i < 60 && !(await queue.drained()); i++) {
        const messages = await queue.receive(10, 1000);
        if (!messages.length) continue;
        batches++;
        if (fresh && batches > 1) copier = copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger, writeMetrics: () => undefined });
        await runBatch({ queue, queueArn: pair.queueArn, handler: (e) => copier(e, lambdaContext(900_000)) }, messages);
      }
      assert.ok(await queue.drained(), 'the queue drained');
      return batches;
    },
    async stop() {
      await Promise.all([sqs.stop(), dynamo?.stop()]);
    },
  };
}
