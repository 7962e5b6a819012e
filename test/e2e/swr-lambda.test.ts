// Issue 8 through the Lambda handlers (middy) on local-aws-sqs: the scheduled planner creates the
// missing SWR organization through the management API stand-in before it enqueues; the copier
// handler, fed SQS events as the event source mapping would, converts an OCI index into Docker media
// types for the SWR Basic stand-in (which refuses OCI); a second planner run plus copier uploads
// nothing, because the copier container's digest memo knows the converted digest.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type QueueFactory, copierFromEnv, plannerFromEnv } from '../../lib/lambda/handlers.js';
import { runBatch } from '../../lib/lambda/local-workers.js';
import { createLogger } from '../../lib/log.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { MT, getManifest, pushIndex, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext } from '../helpers/sqs-events.js';
import { type SqsQueuePair, type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';
import { type SwrApiHandle, type SwrState, startSwrApi, swrState } from '../helpers/swr-api-server.js';
import { type SwrRegistryProxyHandle, startSwrRegistryProxy } from '../helpers/swr-registry-proxy.js';

describe('Lambda handlers into SWR Basic: organizations, conversion, idempotence', () => {
  let src: RegistryHandle;
  let back: RegistryHandle;
  let swr: SwrRegistryProxyHandle;
  let api: SwrApiHandle;
  let state: SwrState;
  let sqs: SqsServerHandle;
  let pair: SqsQueuePair;
  let queue: SqsWorkQueue;
  let queues: QueueFactory;
  let env: Record<string, string>;
  const logger = createLogger('silent');

  before(async () => {
    [src, back, sqs] = await Promise.all([startRegistry(), startRegistry(), startSqsServer()]);
    state = swrState();
    api = await startSwrApi({ ak: 'AKL', sk: 'SKL', projectId: 'p1', state });
    swr = await startSwrRegistryProxy(back, { state });
    pair = await sqs.createQueuePair('swr-lambda', { maxReceiveCount: 3, visibilityTimeoutS: 30 });
    queue = new SqsWorkQueue({ queueUrl: pair.queueUrl, client: sqs.client, drainedReadings: 1 });
    queues = { workQueue: () => queue, deadLetters: () => queue.deadLetters() };
    const dir = tempDir('swrm-swr-lambda-');
    const config = writeFile(dir, 'config.yaml', `version: 1
registries:
  "${src.host}": { insecure: true }
  "${swr.host}": { type: swr, insecure: true, accessKey: AKL, secretKey: SKL, project: cn-north-4, projectId: p1, managementEndpoint: "${api.url}" }
rules:
  - { source: "${src.host}/apps/web", destination: "${swr.host}/lambda-team", mapping: path }
  - { source: "${src.host}/apps/api:v1", destination: "${swr.host}/lambda-team" }
`);
    env = { QUEUE_URL: pair.queueUrl, SWRM_CONFIG: config, MAX_RECEIVE_COUNT: '3' };
  });
  after(async () => {
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

  test('planner creates the organization; copier converts; a second run uploads nothing', async () => {
    await pushIndex(src, 'apps/web', 'v1', { format: 'oci', platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }], attestation: true });
    await pushImage(src, 'apps/api', 'v1', { format: 'oci', layers: [randomLayer(20_000)] });
    const planner = plannerFromEnv({ env, handlerDir: '/nonexistent', queues, logger });
    const copier = copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger });

    assert.equal(state.orgs.has('lambda-team'), false);
    const first = await planner({}, lambdaContext(900_000));
    assert.equal(first.sent, 2);
    assert.equal(state.orgs.get('lambda-team')?.mine, true, 'the planner created the organization before enqueueing');
    await drain(copier);
    assert.equal(swr.refused.oci, 0, 'no OCI manifest reached SWR');
    assert.deepEqual(await (await queue.deadLetters()).list(), []);
    assert.equal((await getManifest(back, 'lambda-team/apps/web', 'v1'))?.mediaType, MT.dockerList);
    assert.equal((await getManifest(back, 'lambda-team/api', 'v1'))?.mediaType, MT.dockerManifest);

    const mark = back.mark();
    const second = await planner({}, lambdaContext(900_000));
    assert.equal(second.sent, 2);
    await drain(copier);
    await back.settle();
    const writes = back.requestsSince(mark).filter((e) => e.method !== 'GET' && e.method !== 'HEAD');
    assert.deepEqual(writes, [], 'a converted re-run uploads nothing');
    assert.equal(api.requests.filter((r) => r.method === 'POST').length, 1, 'the organization was created once');
  });
});
