// Issue 7, end to end through the Lambda handlers (lib/lambda/handlers.ts, through middy) on
// local-aws-sqs with the real SqsWorkQueue and real registries: the scheduled planner fans out one
// message per image and one per listed repository; the copier handler, fed SQS events as the event
// source mapping would, copies them all; a missing source and an invalid body end in the DLQ with
// their reasons; the replay handler moves both back, and once the source exists the image is copied;
// a scheduled run while the first is still queued is skipped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type QueueFactory, copierFromEnv, plannerFromEnv, replayFromEnv } from '../../lib/lambda/handlers.js';
import { runBatch } from '../../lib/lambda/local-workers.js';
import { createLogger } from '../../lib/log.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext } from '../helpers/sqs-events.js';
import { type SqsQueuePair, type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';

describe('Lambda pipeline on local-aws-sqs: planner -> queue -> copier -> DLQ -> replay', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let sqs: SqsServerHandle;
  let pair: SqsQueuePair;
  let queue: SqsWorkQueue;
  let queues: QueueFactory;
  let env: Record<string, string>;
  const logger = createLogger('silent');

  before(async () => {
    [src, dst, sqs] = await Promise.all([startRegistry(), startRegistry(), startSqsServer()]);
    pair = await sqs.createQueuePair('lambda-e2e', { maxReceiveCount: 3, visibilityTimeoutS: 30 });
    // The stand-in's counts are exact: one reading is enough for drained().
    queue = new SqsWorkQueue({ queueUrl: pair.queueUrl, client: sqs.client, drainedReadings: 1 });
    queues = { workQueue: () => queue, deadLetters: () => queue.deadLetters() };
    const dir = tempDir('swrm-lambda-e2e-');
    const config = writeFile(
      dir,
      'config.yaml',
      `version: 1
defaults: { retries: 1 }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${src.host}/app/a:v1
    destination: ${dst.host}/mirror
  - source: ${src.host}/app/ghost:v1
    destination: ${dst.host}/mirror
  - source: ${src.host}/app/b
    destination: ${dst.host}/mirror
`,
    );
    env = { QUEUE_URL: pair.queueUrl, SWRM_CONFIG: config, MAX_RECEIVE_COUNT: '3' };
  });
  after(async () => {
    await sqs?.stop();
    await stopAll();
  });

  /** Lambda's event source mapping, by hand: batches of up to 10 to the copier until the queue drains. */
  async function drain(handler: ReturnType<typeof copierFromEnv>): Promise<void> {
    for (let i = 0; i < 50 && !(await queue.drained()); i++) {
      const messages = await queue.receive(10, 1000);
      if (messages.length) await runBatch({ queue, queueArn: pair.queueArn, handler: (e) => handler(e, lambdaContext(900_000)) }, messages);
    }
    assert.ok(await queue.drained(), 'the queue drained');
  }

  test('fan-out, copies, DLQ reasons, skipped overlap, replay', async () => {
    const a = await pushImage(src, 'app/a', 'v1', { format: 'oci', layers: [randomLayer(30_000)] });
    const b1 = await pushImage(src, 'app/b', 'v1', { format: 'docker', layers: [randomLayer(30_000)] });
    const b2 = await pushImage(src, 'app/b', 'v2', { format: 'oci', layers: [randomLayer(30_000)] });

    const planner = plannerFromEnv({ env, handlerDir: '/nonexistent', queues, logger });
    const first = await planner({}, lambdaContext(900_000));
    // Two levels: a message per exact image, one per repository whose tags must be listed.
    assert.deepEqual({ images: first.images, repositories: first.repositories, sent: first.sent, skipped: first.skipped }, { images: 2, repositories: 1, sent: 3, skipped: undefined });
    assert.equal((await queue.counts()).visible, 3);

    const second = await planner({}, lambdaContext(900_000));
    assert.match(second.skipped ?? '', /previous run is still in progress \(3 visible/);
    assert.equal(second.sent, 0);
    assert.equal((await queue.counts()).visible, 3, 'the skipped run sent nothing');

    // A producer's broken message, next to ours.
    await queue.send(['{"kind":"copy-image","v":99,"password":"hunter2-canary"}']);
    const copier = copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger });
    await drain(copier);

    assert.equal((await getManifest(dst, 'mirror/a', 'v1'))?.digest, a.digest);
    assert.equal((await getManifest(dst, 'mirror/b', 'v1'))?.digest, b1.digest);
    assert.equal((await getManifest(dst, 'mirror/b', 'v2'))?.digest, b2.digest);
    assert.equal(await getManifest(dst, 'mirror/ghost', 'v1'), undefined);

    const dlq = await queue.deadLetters();
    const letters = await dlq.list();
    assert.deepEqual(letters.map((l) => l.reason.code).sort(), ['MANIFEST_UNKNOWN', 'SWRM_INVALID_MESSAGE']);
    assert.match(letters.find((l) => l.reason.code === 'MANIFEST_UNKNOWN')!.body, /app\/ghost:v1/);
    assert.ok(letters.every((l) => !l.body.includes('hunter2-canary')), 'the invalid body is kept masked');
    // The invalid body went there at once, on its first delivery (no retries spent on it).
    assert.equal(letters.find((l) => l.reason.code === 'SWRM_INVALID_MESSAGE')!.receiveCount, 1);

    const ghost = await pushImage(src, 'app/ghost', 'v1', { format: 'oci', layers: [randomLayer(20_000)] });
    const replay = replayFromEnv({ env, handlerDir: '/nonexistent', queues, logger });
    const started = await replay({}, lambdaContext(60_000));
    assert.equal(started.alreadyRunning, false);
    let status = started;
    for (let i = 0; i < 50 && status.status === 'RUNNING'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = { ...((await dlq.redriveStatus()) ?? status), alreadyRunning: false };
    }
    assert.equal(status.status, 'COMPLETED');
    assert.equal(status.moved, 2);
    assert.equal((await queue.counts()).visible, 2, 'both letters are back on the queue');

    await drain(copier);
    assert.equal((await getManifest(dst, 'mirror/ghost', 'v1'))?.digest, ghost.digest);
    // The invalid body is still invalid: back in the DLQ with its reason, alone.
    assert.deepEqual((await dlq.reasons()).map((r) => [r.code, r.count]), [['SWRM_INVALID_MESSAGE', 1]]);
  });
});
