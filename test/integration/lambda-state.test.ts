// The Lambda handlers with the state table (issue 14, item 2), through the real DynamoDB client on
// dynalite, local-aws-sqs, real registries and the SWR Basic stand-in: a COLD copier container
// makes 0 source manifest GETs on a no-op run of an image converted for SWR Basic, because the
// first run's container left the converted digest in the table; the runs are recorded, counted
// once per message, and read by the planner; a missing or refused table stops the cold start with
// one line naming the table and the action, and nothing is copied from a memory of its own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { type QueueFactory, copierFromEnv, plannerFromEnv } from '../../lib/lambda/handlers.js';
import { runBatch } from '../../lib/lambda/local-workers.js';
import { createLogger } from '../../lib/log.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { DynamoStateStore } from '../../lib/state/dynamo-store.js';
import { RunTracker, newRunId, runInProgress, settledTotal } from '../../lib/state/runs.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { MT, getManifest, pushImage, pushIndex, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext } from '../helpers/sqs-events.js';
import { type SqsQueuePair, type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';
import { type DynamoServerHandle, startDynamoServer } from '../helpers/dynamo-server.js';
import { type SwrApiHandle, type SwrState, startSwrApi, swrState } from '../helpers/swr-api-server.js';
import { type SwrRegistryProxyHandle, startSwrRegistryProxy } from '../helpers/swr-registry-proxy.js';

const TABLE = 'swr-migrate-test-state';

/** A logger whose JSON lines the test can read. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

describe('Lambda handlers with the DynamoDB state table', () => {
  let src: RegistryHandle;
  let back: RegistryHandle;
  let swr: SwrRegistryProxyHandle;
  let api: SwrApiHandle;
  let state: SwrState;
  let sqs: SqsServerHandle;
  let dynamo: DynamoServerHandle;
  let pair: SqsQueuePair;
  let queue: SqsWorkQueue;
  let queues: QueueFactory;
  let env: Record<string, string>;
  const logger = createLogger('silent');

  before(async () => {
    [src, back, sqs, dynamo] = await Promise.all([startRegistry(), startRegistry(), startSqsServer(), startDynamoServer()]);
    await dynamo.createStateTable(TABLE);
    state = swrState();
    api = await startSwrApi({ ak: 'AKL', sk: 'SKL', projectId: 'p1', state });
    swr = await startSwrRegistryProxy(back, { state });
    pair = await sqs.createQueuePair('state-lambda', { maxReceiveCount: 3, visibilityTimeoutS: 30 });
    queue = new SqsWorkQueue({ queueUrl: pair.queueUrl, client: sqs.client, drainedReadings: 1 });
    queues = { workQueue: () => queue, deadLetters: () => queue.deadLetters() };
    const dir = tempDir('swrm-state-lambda-');
    const config = writeFile(dir, 'config.yaml', `version: 1
registries:
  "${src.host}": { insecure: true }
  "${swr.host}": { type: swr, insecure: true, accessKey: AKL, secretKey: SKL, project: cn-north-4, projectId: p1, managementEndpoint: "${api.url}" }
rules:
  - { source: "${src.host}/apps/web", destination: "${swr.host}/state-team", mapping: path }
  - { source: "${src.host}/apps/api:v1", destination: "${swr.host}/state-team" }
`);
    env = { QUEUE_URL: pair.queueUrl, SWRM_CONFIG: config, MAX_RECEIVE_COUNT: '3', SWRM_STATE_TABLE: TABLE };
  });
  after(async () => {
    await sqs?.stop();
    await dynamo?.stop();
    await stopAll();
  });

  async function drain(handler: ReturnType<typeof copierFromEnv>): Promise<void> {
    for (let i = 0; i < 50 && !(await queue.drained()); i++) {
      const messages = await queue.receive(10, 1000);
      if (messages.length) await runBatch({ queue, queueArn: pair.queueArn, handler: (e) => handler(e, lambdaContext(900_000)) }, messages);
    }
    assert.ok(await queue.drained(), 'the queue drained');
  }
  const runs = () => new RunTracker(new DynamoStateStore({ table: TABLE }));
  const sourceManifestGets = async (mark: number) => {
    await src.settle();
    return src.requestsSince(mark).filter((e) => e.method === 'GET' && e.path.includes('/manifests/'));
  };

  test('day 2 in a cold container: 0 source manifest GETs for the SWR Basic conversion; runs recorded and read by the planner', async () => {
    await pushIndex(src, 'apps/web', 'v1', { format: 'oci', platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm', variant: 'v7' }], attestation: true });
    await pushImage(src, 'apps/api', 'v1', { format: 'oci', layers: [randomLayer(20_000)] });

    // Day 1: a planner container and a copier container.
    const first = await plannerFromEnv({ env, handlerDir: '/nonexistent', queues, logger })({}, lambdaContext(900_000));
    assert.ok(first.run, 'the run has an id');
    // A schedule firing while day 1 is queued is skipped, naming the run.
    const early = await plannerFromEnv({ env, handlerDir: '/nonexistent', queues, logger })({}, lambdaContext(900_000));
    assert.equal(early.sent, 0);
    assert.match(early.skipped ?? '', new RegExp(`previous run ${first.run} is still in progress`));
    await drain(copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger }));
    assert.equal((await getManifest(back, 'state-team/apps/web', 'v1'))?.mediaType, MT.dockerList);
    const [day1] = await runs().last(1);
    assert.equal(day1!.id, first.run);
    // 2 planned messages, plus the 1 tag the listed rule's expansion added.
    assert.equal(day1!.enqueued, 3);
    assert.deepEqual({ copied: day1!.settled.copied, expanded: day1!.settled.expanded }, { copied: 2, expanded: 1 });
    assert.equal(runInProgress(day1!), false);

    // Day 2: new containers for both (cold: nothing in memory).
    const mark = src.mark();
    const backMark = back.mark();
    const second = await plannerFromEnv({ env, handlerDir: '/nonexistent', queues, logger })({}, lambdaContext(900_000));
    assert.equal(second.skipped, undefined, 'the last run is done: planned');
    await drain(copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger }));
    assert.deepEqual(await sourceManifestGets(mark), [], 'a cold container GETs no source manifest: the table knows the converted digests');
    await back.settle();
    assert.deepEqual(back.requestsSince(backMark).filter((e) => e.method !== 'GET' && e.method !== 'HEAD'), [], 'and writes nothing');
    const [day2, again] = await runs().last(2);
    assert.equal(day2!.id, second.run);
    assert.equal(again!.id, first.run);
    assert.deepEqual({ enqueued: day2!.enqueued, skipped: day2!.settled.skipped, expanded: day2!.settled.expanded, total: settledTotal(day2!) }, { enqueued: 3, skipped: 2, expanded: 1, total: 3 });
  });

  test('the same message delivered twice, to two containers at once, counts once; a failure that later copies moves its count', async () => {
    const run = newRunId();
    await runs().start(run, 2, { images: 2, repositories: 0 });
    await pushImage(src, 'apps/dup', 'v1', { format: 'docker', layers: [randomLayer(10_000)] });
    const dup = encodeMessage({ v: 1, kind: 'copy-image', source: `${src.host}/apps/dup:v1`, destination: `${swr.host}/state-team/dup:v1`, run });
    const late = encodeMessage({ v: 1, kind: 'copy-image', source: `${src.host}/apps/late:v1`, destination: `${swr.host}/state-team/late:v1`, run });
    await queue.send([dup, dup, late]);
    const a = copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger });
    const b = copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger });
    const got = await queue.receive(10, 1000);
    assert.equal(got.length, 3);
    const invoke = (h: typeof a, ms: typeof got) => runBatch({ queue, queueArn: pair.queueArn, handler: (e) => h(e, lambdaContext(900_000)) }, ms);
    await Promise.all([invoke(a, got.filter((m) => m.body === dup).slice(0, 1)), invoke(b, got.filter((m) => m.body === dup).slice(1)), invoke(a, got.filter((m) => m.body === late))]);
    let [rec] = await runs().last(1);
    assert.equal(rec!.id, run);
    assert.deepEqual({ copied: rec!.settled.copied, skipped: rec!.settled.skipped, failed: rec!.settled.failed }, { copied: 1, skipped: 0, failed: 1 }, 'the duplicate counted once; the missing source failed');
    assert.equal(runInProgress(rec!), false);
    // The source appears; the letter comes back (as the DLQ move sends it: a new id, the same body).
    await pushImage(src, 'apps/late', 'v1', { format: 'docker', layers: [randomLayer(10_000)] });
    const dlq = await queue.deadLetters();
    const letters = await dlq.list();
    assert.equal(letters.length, 1);
    await dlq.remove(letters.map((l) => l.id));
    await queue.send([late]);
    await drain(b);
    [rec] = await runs().last(1);
    assert.deepEqual({ copied: rec!.settled.copied, failed: rec!.settled.failed, total: settledTotal(rec!) }, { copied: 2, failed: 0, total: 2 });
  });

  for (const why of ['missing', 'refused'] as const) {
    test(`a ${why} state table stops the cold start with one line naming the table and the action; nothing is copied`, async () => {
      await pushImage(src, 'apps/never', 'v1', { format: 'docker', layers: [randomLayer(10_000)] });
      const table = why === 'missing' ? 'swr-migrate-absent-state' : TABLE;
      if (why === 'refused') dynamo.refuse.add('GetItem');
      try {
        const { logger: log, lines } = capture();
        const e = { ...env, SWRM_STATE_TABLE: table };
        await queue.send([encodeMessage({ v: 1, kind: 'copy-image', source: `${src.host}/apps/never:v1`, destination: `${swr.host}/state-team/never:v1` })]);
        const [m] = await queue.receive(1, 1000);
        const copier = copierFromEnv({ env: e, handlerDir: '/nonexistent', queues, logger: log });
        // The batch comes back whole (sqs-partial-batch-failure reports every record).
        const back1 = await runBatch({ queue, queueArn: pair.queueArn, handler: (ev) => copier(ev, lambdaContext(900_000)) }, [m!]);
        assert.deepEqual([...back1], [m!.id]);
        const planner = plannerFromEnv({ env: e, handlerDir: '/nonexistent', queues, logger: log });
        await assert.rejects(planner({}, lambdaContext(900_000)), { code: 'SWRM_STATE' });
        const expected =
          why === 'missing'
            ? `state table ${table} does not exist (dynamodb:GetItem: ResourceNotFoundException)`
            : `state table ${table}: dynamodb:GetItem refused (AccessDeniedException)`;
        const fatal = lines.filter((l) => l.level === 60);
        assert.deepEqual(fatal.map((l) => [l.msg, l.code]), [
          [`copier cannot start: ${expected}`, 'SWRM_STATE'],
          [`planner cannot start: ${expected}`, 'SWRM_STATE'],
        ]);
        assert.equal(await getManifest(back, 'state-team/never', 'v1'), undefined, 'no fall back to a memory of its own: nothing copied');
        // The record comes back (after its visibility): it is not lost.
        await queue.release(m!, 0);
      } finally {
        dynamo.refuse.clear();
      }
      await queue.deadLetters().then(async (d) => d.remove((await d.list()).map((l) => l.id)));
      for (const m of await queue.receive(10, 1000)) await queue.ack(m);
    });
  }
});
