// The handlers as functions/*.ts build them (lib/lambda/handlers.ts), called through middy with an
// embedded queue as the factory: the planner reads QUEUE_URL and SWRM_CONFIG (or the bundled
// config.yaml), a missing queue URL or an unreadable config fails with one clear log line, and a
// copier that cannot start fails its batch (the records come back) without a stack trace.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSBatchResponse } from 'aws-lambda';
import { createLogger } from '../../lib/log.js';
import { type QueueFactory, copierFromEnv, plannerFromEnv, replayFromEnv } from '../../lib/lambda/handlers.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import type { RedriveStatus } from '../../lib/queue/types.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { lambdaContext, sqsEvent } from '../helpers/sqs-events.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

function factory() {
  const dlq = Object.assign(new InMemoryDeadLetterStore(), {
    redrive: async (): Promise<RedriveStatus> => ({ status: 'RUNNING', moved: 0, toMove: 3 }),
    redriveStatus: async (): Promise<RedriveStatus | undefined> => undefined,
  });
  const queue = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 3, dlq });
  const urls: string[] = [];
  const queues: QueueFactory = {
    workQueue: (url) => (urls.push(url), queue),
    deadLetters: async (url) => (urls.push(url), dlq),
  };
  return { queue, dlq, queues, urls };
}

const CONFIG = 'version: 1\nrules:\n  - source: src.example/team/app:v1\n    destination: dst.example/mirror\n  - source: src.example/team/db\n    destination: dst.example/mirror\n';

describe('handlers from the environment', () => {
  test('planner: QUEUE_URL and the config.yaml bundled next to the handler; logs a summary', async () => {
    const dir = tempDir('swrm-lambda-');
    writeFile(dir, 'config.yaml', CONFIG);
    const { queue, queues, urls } = factory();
    const { logger, lines } = capture();
    const metrics: string[] = [];
    const handler = plannerFromEnv({ env: { QUEUE_URL: 'https://sqs.example/q' }, handlerDir: dir, queues, logger, writeMetrics: (l) => void metrics.push(l) });
    const summary = await handler({}, lambdaContext(60_000));
    assert.equal(summary.images, 1);
    assert.equal(summary.repositories, 1);
    assert.equal(summary.sent, 2);
    // The work queue, and its DLQ for rules that cannot be listed for good.
    assert.deepEqual(urls, ['https://sqs.example/q', 'https://sqs.example/q']);
    assert.equal(JSON.parse(metrics[0]!).ImagesPlanned, 1, 'one EMF line per run');
    assert.equal((await queue.counts()).visible, 2);
    assert.ok(lines.some((l) => l.sent === 2 && /planned 1 image/.test(String(l.msg))), 'summary logged');
  });

  test('planner: SWRM_CONFIG names the config; a missing QUEUE_URL is one line naming it', async () => {
    const dir = tempDir('swrm-lambda-');
    const path = writeFile(dir, 'elsewhere.yaml', CONFIG);
    const { queues } = factory();
    const ok = plannerFromEnv({ env: { QUEUE_URL: 'q', SWRM_CONFIG: path }, handlerDir: '/nonexistent', queues, logger: capture().logger, writeMetrics: () => undefined });
    assert.equal((await ok({}, lambdaContext(60_000))).sent, 2);
    const { logger, lines } = capture();
    const bad = plannerFromEnv({ env: { SWRM_CONFIG: path }, handlerDir: dir, queues, logger });
    await assert.rejects(bad({}, lambdaContext(60_000)), /QUEUE_URL is not set/);
    assert.equal(lines.length, 1);
    assert.match(String(lines[0]!.msg), /^planner cannot start: QUEUE_URL is not set/);
  });

  test('copier: an unreadable config fails the batch fast with one log line; the records come back', async () => {
    const { queue, queues } = factory();
    const { logger, lines } = capture();
    const handler = copierFromEnv({ env: { QUEUE_URL: 'q', SWRM_CONFIG: '/nonexistent/config.yaml' }, handlerDir: '/x', queues, logger });
    await queue.send(['{}']);
    const msgs = await queue.receive(1, 0);
    const res = (await handler(sqsEvent(msgs), lambdaContext(60_000))) as SQSBatchResponse;
    assert.deepEqual(res, { batchItemFailures: [{ itemIdentifier: msgs[0]!.id }] });
    const fatal = lines.filter((l) => l.level === 60 || l.level === 'fatal');
    assert.equal(fatal.length, 1);
    assert.match(String(fatal[0]!.msg), /^copier cannot start: .*\/nonexistent\/config\.yaml/);
    assert.ok(!lines.some((l) => JSON.stringify(l).includes('    at ')), 'no stack trace');
  });

  test('replay: starts the DLQ move and reports its status', async () => {
    const { queues, urls } = factory();
    const handler = replayFromEnv({ env: { QUEUE_URL: 'https://sqs.example/q' }, handlerDir: '/x', queues, logger: capture().logger });
    assert.deepEqual(await handler({}, lambdaContext(60_000)), { status: 'RUNNING', moved: 0, toMove: 3, alreadyRunning: false });
    assert.deepEqual(urls, ['https://sqs.example/q']);
  });
});
