// The copier Lambda handler through middy (copierHandler = middy + sqs-partial-batch-failure), fed
// SQS events built from deliveries of a real embedded queue, copying between real registries on
// 127.0.0.1. It shows: a batch copies and acks; invalid bodies, unknown versions and missing
// sources go to the DLQ at once (not batch failures); a passing failure is a batch item failure
// with its backoff; at the deadline the unfinished record comes back and nothing is committed;
// the copy context is built once per container; the same message twice, even at once, is correct.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSBatchResponse } from 'aws-lambda';
import { DEFAULTS, type LoadedConfig } from '../../lib/config/types.js';
import { copierHandler } from '../../lib/lambda/copier-handler.js';
import { createCopierEnv } from '../../lib/lambda/copier-env.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { type PushedManifest, getManifest, blobExists, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext, sqsEvent } from '../helpers/sqs-events.js';

const MARGIN = 1000;
const config: LoadedConfig = { source: 'test', defaults: { ...DEFAULTS, retries: 2 }, registries: [], resolve: () => ({ insecure: true }), rules: [] };
const copy = (src: string, dst: string) => encodeMessage({ v: 1, kind: 'copy-image', source: src, destination: dst });

function setup(maxReceiveCount = 3) {
  const metrics: string[] = [];
  const dlq = new InMemoryDeadLetterStore();
  const queue = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount, dlq });
  let loads = 0;
  const envs: ReturnType<typeof createCopierEnv>[] = [];
  const handler = copierHandler(async () => {
    loads++;
    const env = createCopierEnv({ config, queue, maxReceiveCount, marginMs: MARGIN });
    envs.push(env);
    return env;
  }, { metrics: { service: 'swr-migrate-test', write: (line) => metrics.push(line) } });
  const invoke = async (bodies: string[], remainingMs = 60_000): Promise<{ res: SQSBatchResponse; ids: string[] }> => {
    await queue.send(bodies);
    const msgs = await queue.receive(bodies.length, 0);
    assert.equal(msgs.length, bodies.length);
    const res = (await handler(sqsEvent(msgs), lambdaContext(remainingMs))) as SQSBatchResponse;
    return { res, ids: msgs.map((m) => m.id) };
  };
  return { dlq, queue, handler, invoke, metrics, loads: () => loads, close: () => Promise.all(envs.map((e) => e.close())) };
}

describe('copier handler (middy, SQS events, real registries)', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let slow: ProxyHandle;
  let flaky: ProxyHandle;
  let one: PushedManifest;
  let big: PushedManifest;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    // A source that trickles blob bodies (the deadline case), and one that answers 503 to manifests.
    slow = await startProxy(src, { trickleBlobs: { bytes: 1024, everyMs: 50 } });
    flaky = await startProxy(src, { always503: /^\S+ \/v2\/.+\/manifests\// });
    const base = randomLayer(40_000);
    one = await pushImage(src, 'app/one', 'v1', { format: 'oci', layers: [base, randomLayer(10_000)] });
    await pushImage(src, 'app/one', 'v2', { format: 'oci', layers: [base, randomLayer(10_000)] });
    big = await pushImage(src, 'app/big', 'v1', { format: 'oci', layers: [randomLayer(400_000)] });
  });
  after(async () => {
    await Promise.all([slow.stop(), flaky.stop()]);
    await stopAll();
  });

  test('a batch is copied and acked: no batch item failures, the queue is empty', async () => {
    const t = setup();
    const { res } = await t.invoke([copy(`${src.host}/app/one:v1`, `${dst.host}/batch/one:v1`), copy(`${src.host}/app/one:v2`, `${dst.host}/batch/one:v2`)]);
    assert.deepEqual(res, { batchItemFailures: [] });
    assert.equal((await getManifest(dst, 'batch/one', 'v1'))?.digest, one.digest);
    assert.ok(await getManifest(dst, 'batch/one', 'v2'));
    assert.ok(t.queue.idle(), 'every record was acked');
    // One EMF line per invocation, with the figures the dashboard plots (lambda/metrics.ts).
    assert.equal(t.metrics.length, 1);
    const emf = JSON.parse(t.metrics[0]!) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string }[] } };
    assert.equal(emf._aws.CloudWatchMetrics[0]?.Namespace, 'swr-migrate');
    assert.equal(emf.Service, 'swr-migrate-test');
    assert.equal(emf.ImagesCopied, 2);
    assert.equal(emf.ImagesFailed, 0);
    assert.ok((emf.BytesCopied as number) > 50_000, `bytes ${String(emf.BytesCopied)}`);
    await t.close();
  });

  // Issue 13 item 2: an image the platform filter wants none of is acked, not dead-lettered, and
  // counted on the dashboard as filtered (lambda/metrics.ts ImagesFiltered), not as failed or copied.
  test('a filtered image is acked and counted as filtered, not failed', async () => {
    const t = setup();
    const filtered = encodeMessage({ v: 1, kind: 'copy-image', source: `${src.host}/app/one:v1`, destination: `${dst.host}/filtered/one:v1`, platforms: ['linux/arm64'] });
    const { res } = await t.invoke([filtered, copy(`${src.host}/app/one:v2`, `${dst.host}/filtered/two:v2`)]);
    assert.deepEqual(res, { batchItemFailures: [] });
    assert.deepEqual(await t.dlq.list(), []);
    assert.equal(await getManifest(dst, 'filtered/one', 'v1'), undefined, 'amd64 only: not pushed');
    const emf = JSON.parse(t.metrics[0]!) as Record<string, number>;
    assert.deepEqual([emf.ImagesCopied, emf.ImagesFiltered, emf.ImagesFailed], [1, 1, 0]);
    await t.close();
  });

  test('invalid bodies, an unknown version and a missing source go to the DLQ at once, not as batch failures', async () => {
    const t = setup();
    const bad = ['{not json', JSON.stringify({ v: 2, kind: 'copy-image', source: 'a', destination: 'b' }), JSON.stringify({ v: 1, kind: 'copy-image', source: 'x', destination: 'y', password: 'hunter2-canary' })];
    const missing = copy(`${src.host}/app/none:v9`, `${dst.host}/dl/none:v9`);
    const { res } = await t.invoke([...bad, missing]);
    assert.deepEqual(res, { batchItemFailures: [] });
    const letters = await t.dlq.list();
    assert.deepEqual(letters.map((l) => l.reason.code).sort(), ['MANIFEST_UNKNOWN', 'SWRM_INVALID_MESSAGE', 'SWRM_INVALID_MESSAGE', 'SWRM_INVALID_MESSAGE']);
    assert.ok(letters.every((l) => l.receiveCount === 1), 'dead-lettered on the first delivery');
    assert.ok(!JSON.stringify(letters).includes('hunter2-canary'), 'an invalid body is stored masked');
    assert.ok(t.queue.idle());
    // Every dead letter counts on the dashboard, invalid bodies too: each is work that did not happen.
    assert.equal((JSON.parse(t.metrics[0]!) as { ImagesFailed: number }).ImagesFailed, 4);
    await t.close();
  });

  test('a passing failure (503) is a batch item failure, held back for its backoff, not dead-lettered', async () => {
    const t = setup();
    const { res, ids } = await t.invoke([copy(`${flaky.host}/app/one:v1`, `${dst.host}/flaky/one:v1`), copy(`${src.host}/app/one:v1`, `${dst.host}/flaky/ok:v1`)]);
    assert.deepEqual(res, { batchItemFailures: [{ itemIdentifier: ids[0] }] });
    const counts = await t.queue.counts();
    assert.equal(counts.delayed, 1, 'ChangeMessageVisibility to the backoff');
    assert.deepEqual(await t.dlq.list(), []);
    assert.ok(await getManifest(dst, 'flaky/ok', 'v1'), 'the good record of the same batch was copied');
    await t.close();
  });

  test('at the deadline the unfinished record is aborted, comes back, and nothing is committed', async () => {
    const t = setup();
    const started = Date.now();
    // 400 kB at 20 kB/s takes 20 s; the handler has MARGIN + 700 ms.
    const { res, ids } = await t.invoke([copy(`${slow.host}/app/big:v1`, `${dst.host}/late/big:v1`), copy(`${src.host}/app/one:v1`, `${dst.host}/late/one:v1`)], MARGIN + 700);
    const took = Date.now() - started;
    assert.deepEqual(res, { batchItemFailures: [{ itemIdentifier: ids[0] }] });
    assert.ok(took < 5000, `aborted promptly (${took} ms)`);
    assert.equal(await getManifest(dst, 'late/big', 'v1'), undefined, 'no manifest was pushed');
    assert.equal(await blobExists(dst, 'late/big', big.blobs.at(-1)!.digest), false, 'the cut-short layer was not committed');
    assert.ok(await getManifest(dst, 'late/one', 'v1'), 'the quick record finished');
    const counts = await t.queue.counts();
    assert.equal(counts.visible, 1, 'visible again at once');
    assert.deepEqual(await t.dlq.list(), []);
    await t.close();
  });

  test('a warm container reuses its copy context: built once, and known blobs are not asked about again', async () => {
    const t = setup();
    await t.invoke([copy(`${src.host}/app/one:v1`, `${dst.host}/warm/one:v1`)]);
    const mark = dst.mark();
    const { res } = await t.invoke([copy(`${src.host}/app/one:v2`, `${dst.host}/warm/one:v2`)]);
    assert.deepEqual(res, { batchItemFailures: [] });
    assert.equal(t.loads(), 1, 'the environment was built once');
    await dst.settle();
    const baseHeads = dst.requestsSince(mark).filter((r) => r.method === 'HEAD' && r.path.includes(one.blobs[1]!.digest));
    assert.deepEqual(baseHeads, [], 'the shared base layer is in the ledger from the first event');
    await t.close();
  });

  test('the same message twice, in one batch and in two events at once, leaves a correct destination', async () => {
    const t = setup();
    const body = copy(`${src.host}/app/one:v1`, `${dst.host}/dup/one:v1`);
    const [a, b] = await Promise.all([t.invoke([body, body]), t.invoke([body])]);
    assert.deepEqual(a.res, { batchItemFailures: [] });
    assert.deepEqual(b.res, { batchItemFailures: [] });
    const got = await getManifest(dst, 'dup/one', 'v1');
    assert.equal(got?.digest, one.digest);
    for (const blob of one.blobs) assert.ok(await blobExists(dst, 'dup/one', blob.digest), blob.digest);
    assert.ok(t.queue.idle());
    await t.close();
  });
});
