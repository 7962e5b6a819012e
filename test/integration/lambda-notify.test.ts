// Issue 16, item 5 on the queue path: the Lambda copier that settles a run's last message announces
// the run, once. The planner handler plans a run (a listed rule whose expansion adds copies, and an
// image that does not exist); three copier containers (each its own copierFromEnv, sharing only the
// DynamoDB state table on dynalite) settle its messages in concurrent batches from local-aws-sqs.
// Exactly one Publish (status=failed, the missing image under MANIFEST_UNKNOWN) and one webhook POST
// follow, whichever container settles last; the missing image, replayed once it exists, is copied
// and its count moves, and nothing is sent again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copierFromEnv, plannerFromEnv, type QueueFactory } from '../../lib/lambda/handlers.js';
import { runBatch } from '../../lib/lambda/local-workers.js';
import { createLogger } from '../../lib/log.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { DynamoStateStore } from '../../lib/state/dynamo-store.js';
import { RunTracker } from '../../lib/state/runs.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext } from '../helpers/sqs-events.js';
import { type SqsQueuePair, type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';
import { type DynamoServerHandle, startDynamoServer } from '../helpers/dynamo-server.js';
import { type SnsServerHandle, startSnsServer } from '../helpers/sns-server.js';
import { type WebhookServerHandle, startWebhookServer } from '../helpers/webhook-server.js';
import type { QueueMessage } from '../../lib/queue/types.js';

const TABLE = 'swr-migrate-notify-state';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:swrm-runs';

describe('a queue run is announced once, by the copier that settles its last message', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let sqs: SqsServerHandle;
  let dynamo: DynamoServerHandle;
  let sns: SnsServerHandle;
  let hook: WebhookServerHandle;
  let pair: SqsQueuePair;
  let queue: SqsWorkQueue;
  let queues: QueueFactory;
  let env: Record<string, string>;
  const saved = process.env.AWS_ENDPOINT_URL_SNS;
  const logger = createLogger('silent');

  before(async () => {
    [src, dst, sqs, dynamo, sns, hook] = await Promise.all([startRegistry(), startRegistry(), startSqsServer(), startDynamoServer(), startSnsServer({ topics: [TOPIC] }), startWebhookServer()]);
    process.env.AWS_ENDPOINT_URL_SNS = sns.url;
    await dynamo.createStateTable(TABLE);
    pair = await sqs.createQueuePair('notify-lambda', { maxReceiveCount: 3, visibilityTimeoutS: 30 });
    queue = new SqsWorkQueue({ queueUrl: pair.queueUrl, client: sqs.client, drainedReadings: 1 });
    queues = { workQueue: () => queue, deadLetters: () => queue.deadLetters() };
    for (const tag of ['v1', 'v2', 'v3']) await pushImage(src, 'apps/listed', tag, { format: 'docker', layers: [randomLayer(3_000)] });
    for (const repo of ['apps/a', 'apps/b', 'apps/c']) await pushImage(src, repo, 'v1', { format: 'docker', layers: [randomLayer(3_000)] });
    const config = writeFile(tempDir('swrm-notify-lambda-'), 'config.yaml', `version: 1
defaults: { retries: 0 }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
notify:
  on: failure
  sns: "${TOPIC}"
  webhook: "${hook.url}"
rules:
  - { source: "${src.host}/apps/listed", destination: "${dst.host}/team" }
  - { source: "${src.host}/apps/a:v1", destination: "${dst.host}/team" }
  - { source: "${src.host}/apps/b:v1", destination: "${dst.host}/team" }
  - { source: "${src.host}/apps/c:v1", destination: "${dst.host}/team" }
  - { source: "${src.host}/apps/ghost:v1", destination: "${dst.host}/team" }
`);
    env = { QUEUE_URL: pair.queueUrl, SWRM_CONFIG: config, MAX_RECEIVE_COUNT: '3', SWRM_STATE_TABLE: TABLE };
  });
  after(async () => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SNS;
    else process.env.AWS_ENDPOINT_URL_SNS = saved;
    await Promise.all([sqs?.stop(), dynamo?.stop(), sns?.stop(), hook?.stop()]);
    await stopAll();
  });

  /** Three containers; each round, the visible messages are dealt out one per batch, all at once. */
  async function drainConcurrently(): Promise<void> {
    const containers = [0, 1, 2].map(() => copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger }));
    for (let i = 0; i < 40 && !(await queue.drained()); i++) {
      const messages = await queue.receive(10, 500);
      const batches: QueueMessage[][] = [[], [], []];
      messages.forEach((m, n) => batches[n % 3]!.push(m));
      await Promise.all(
        batches.flatMap((ms, n) => ms.map((m) => runBatch({ queue, queueArn: pair.queueArn, handler: (e) => containers[n]!(e, lambdaContext(900_000)) }, [m]))),
      );
    }
    assert.ok(await queue.drained(), 'the queue drained');
  }

  test('one SNS publish and one webhook POST for the run, status=failed; a later replay sends nothing', async () => {
    const planned = await plannerFromEnv({ env, handlerDir: '/nonexistent', queues, logger })({}, lambdaContext(900_000));
    assert.ok(planned.run);
    await drainConcurrently();
    assert.ok(await getManifest(dst, 'team/listed', 'v3'), 'the listed rule was expanded and copied');
    const [rec] = await new RunTracker(new DynamoStateStore({ table: TABLE })).last(1);
    // 4 copies and 1 listing planned, 3 tags the listing added.
    assert.deepEqual({ enqueued: rec!.enqueued, copied: rec!.settled.copied, failed: rec!.settled.failed, expanded: rec!.settled.expanded }, { enqueued: 8, copied: 6, failed: 1, expanded: 1 });
    assert.ok((rec!.bytes ?? 0) > 0, 'the run counts its bytes');

    assert.equal(sns.published.length, 1, 'exactly one summary');
    const p = sns.published[0]!;
    assert.deepEqual(p.attributes.status, { dataType: 'String', value: 'failed' });
    assert.equal(p.attributes.run?.value, planned.run);
    assert.match(p.message, new RegExp(`^swr-migrate run ${planned.run}: 6 copied, 1 failed, [\\d.]+ KiB, .+\\nMANIFEST_UNKNOWN x 1\\n  ${src.host}/apps/ghost:v1 -> ${dst.host}/team/ghost:v1: `));
    assert.equal(hook.posts.length, 1);
    assert.equal(hook.posts[0]!.body.text, p.message);

    // The missing image now exists; its letter, replayed, copies and moves its count: announced once.
    const dlq = await queue.deadLetters();
    const letters = await dlq.list();
    assert.equal(letters.length, 1);
    await pushImage(src, 'apps/ghost', 'v1', { format: 'docker', layers: [randomLayer(1_000)] });
    await queue.send([letters[0]!.body]);
    await drainConcurrently();
    const [after] = await new RunTracker(new DynamoStateStore({ table: TABLE })).last(1);
    assert.deepEqual({ copied: after!.settled.copied, failed: after!.settled.failed }, { copied: 7, failed: 0 });
    assert.equal(sns.published.length, 1, 'no second summary');
    assert.equal(hook.posts.length, 1);
  });
});
