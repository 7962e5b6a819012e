// The Lambda planner never lets one rule stop the others (issue 14, item 3), through the handlers on
// local-aws-sqs with real registries:
//   - a namespace rule over a registry that answers 404 goes to the DLQ as its expand letter with
//     the reason; the other rules are planned and copied; the planner's EMF line counts it;
//   - listed rules that map onto one destination repository are planned as one expand-group
//     message: the copier lists them together and holds back the tag both claim
//     (SWRM_DESTINATION_CONFLICT), as `sync` does, instead of the last push winning.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type QueueFactory, copierFromEnv, plannerFromEnv } from '../../lib/lambda/handlers.js';
import { runBatch } from '../../lib/lambda/local-workers.js';
import { createLogger } from '../../lib/log.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext } from '../helpers/sqs-events.js';
import { type SqsQueuePair, type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';

describe('Lambda planner: rules that fail or overlap', () => {
  let src: RegistryHandle;
  let other: RegistryHandle;
  let dst: RegistryHandle;
  let sqs: SqsServerHandle;
  let pair: SqsQueuePair;
  let queue: SqsWorkQueue;
  let queues: QueueFactory;
  let gone: Server;
  let goneHost: string;
  let env: Record<string, string>;
  const logger = createLogger('silent');

  before(async () => {
    [src, other, dst, sqs] = await Promise.all([startRegistry(), startRegistry(), startRegistry(), startSqsServer()]);
    pair = await sqs.createQueuePair('lambda-rules', { maxReceiveCount: 3, visibilityTimeoutS: 30 });
    queue = new SqsWorkQueue({ queueUrl: pair.queueUrl, client: sqs.client, drainedReadings: 1 });
    queues = { workQueue: () => queue, deadLetters: () => queue.deadLetters() };
    // A registry whose catalog is gone (404 NAME_UNKNOWN: permanent).
    gone = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
    });
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    goneHost = `127.0.0.1:${(gone.address() as { port: number }).port}`;
    await pushImage(src, 'team/app', 'v1', { format: 'docker', layers: [randomLayer(2_000)] });
    await pushImage(src, 'team/app', 'shared', { format: 'docker', layers: [randomLayer(2_000)] });
    await pushImage(other, 'team/app', 'v2', { format: 'docker', layers: [randomLayer(2_000)] });
    await pushImage(other, 'team/app', 'shared', { format: 'docker', layers: [randomLayer(2_000)] });
    await pushImage(src, 'solo/tool', 'v1', { format: 'docker', layers: [randomLayer(2_000)] });
    const config = writeFile(
      tempDir('swrm-lambda-rules-'),
      'config.yaml',
      `version: 1
defaults: { retries: 1 }
registries:
  "${src.host}": { insecure: true }
  "${other.host}": { insecure: true }
  "${dst.host}": { insecure: true }
  "${goneHost}": { insecure: true }
rules:
  - source: ${goneHost}/lost/*
    destination: ${dst.host}/lost
  - source: ${src.host}/team/app
    destination: ${dst.host}/mirror
  - source: ${other.host}/team/app
    destination: ${dst.host}/mirror
  - source: ${src.host}/solo/tool:v1
    destination: ${dst.host}/mirror
`,
    );
    env = { QUEUE_URL: pair.queueUrl, SWRM_CONFIG: config, MAX_RECEIVE_COUNT: '3' };
  });
  after(async () => {
    gone?.close();
    await sqs?.stop();
    await stopAll();
  });

  async function drain(handler: ReturnType<typeof copierFromEnv>): Promise<void> {
    for (let i = 0; i < 50 && !(await queue.drained()); i++) {
      const messages = await queue.receive(10, 1000);
      if (messages.length) await runBatch({ queue, queueArn: pair.queueArn, handler: (e) => handler(e, lambdaContext(900_000)) }, messages);
    }
    assert.ok(await queue.drained(), 'the queue drained');
  }

  test('a 404 namespace goes to the DLQ with its reason; overlapping rules are listed together', async () => {
    const metrics: string[] = [];
    const planner = plannerFromEnv({ env, handlerDir: '/nonexistent', queues, logger, writeMetrics: (l) => void metrics.push(l) });
    const summary = await planner({}, lambdaContext(900_000));
    assert.equal(summary.failedRules, 1);
    assert.equal(summary.images, 1, 'the exact rule is planned');
    assert.equal(summary.groups, 1, 'the two rules onto mirror/app are one group');
    const emf = JSON.parse(metrics.find((l) => l.includes('RulesFailed'))!) as Record<string, unknown>;
    assert.equal(emf.RulesFailed, 1);
    assert.equal(emf.ImagesPlanned, 1);

    const dlq = await queue.deadLetters();
    const planned = await dlq.list();
    assert.equal(planned.length, 1);
    assert.equal(planned[0]!.reason.code, 'NAME_UNKNOWN');
    const letter = JSON.parse(planned[0]!.body) as { kind: string; source: string };
    assert.equal(letter.kind, 'expand-namespace');
    assert.equal(letter.source, `${goneHost}/lost/*`);

    await drain(copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger }));
    assert.ok(await getManifest(dst, 'mirror/tool', 'v1'), 'the exact rule was copied');
    assert.ok(await getManifest(dst, 'mirror/app', 'v1'), 'v1 (one source only) was copied');
    assert.ok(await getManifest(dst, 'mirror/app', 'v2'), 'v2 (one source only) was copied');
    assert.equal(await getManifest(dst, 'mirror/app', 'shared'), undefined, 'a tag two sources claim was pushed');
    const reasons = (await dlq.list()).map((l) => [l.reason.code, (JSON.parse(l.body) as { source: string }).source]).sort();
    assert.deepEqual(reasons, [
      ['NAME_UNKNOWN', `${goneHost}/lost/*`],
      ['SWRM_DESTINATION_CONFLICT', `${other.host}/team/app:shared`],
      ['SWRM_DESTINATION_CONFLICT', `${src.host}/team/app:shared`],
    ].sort());
  });
});
