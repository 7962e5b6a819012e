// Issue 14, item 4: an image too long for Lambda. The copier handler (middy, SQS events built from a
// real embedded queue's deliveries) with a small `remainingMs`, copying from a source that trickles
// its blobs: on the first delivery a record the deadline cuts comes back as before; on the second it
// moves to the long-haul queue with its reason and is deleted from the work queue, so it is not
// downloaded again and again until SQS drops it into the DLQ without a word.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSBatchResponse } from 'aws-lambda';
import { DEFAULTS, type LoadedConfig } from '../../lib/config/types.js';
import { ErrorCode } from '../../lib/errors.js';
import type { LongHaulQueue } from '../../lib/lambda/copier-batch.js';
import { copierHandler } from '../../lib/lambda/copier-handler.js';
import { createCopierEnv } from '../../lib/lambda/copier-env.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import type { DeadLetter } from '../../lib/queue/types.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { type PushedManifest, blobExists, getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext, sqsEvent } from '../helpers/sqs-events.js';

const MARGIN = 1000;
// The handler gets MARGIN + 700 ms: the trickled 300 kB layer (20 kB/s) needs 15 s.
const CUT = MARGIN + 700;
const config: LoadedConfig = { source: 'test', defaults: { ...DEFAULTS, retries: 2 }, registries: [], resolve: () => ({ insecure: true }), rules: [] };
const copy = (src: string, dst: string) => encodeMessage({ v: 1, kind: 'copy-image', source: src, destination: dst });
const LONG_URL = 'https://sqs.eu-west-1.amazonaws.com/000000000000/swr-migrate-dev-long';

/** A long-haul queue that keeps what it is sent (or refuses it, like an SQS that denies the send). */
class LongHaulStub implements LongHaulQueue {
  readonly url = LONG_URL;
  readonly letters: DeadLetter[] = [];
  refuse = false;
  async add(letter: DeadLetter): Promise<void> {
    if (this.refuse) throw new Error('AccessDenied: not authorized to perform sqs:SendMessage');
    this.letters.push(structuredClone(letter));
  }
}

function setup(longHaul: LongHaulStub | undefined) {
  const dlq = new InMemoryDeadLetterStore();
  const queue = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 10, dlq });
  const envs: ReturnType<typeof createCopierEnv>[] = [];
  const handler = copierHandler(async () => {
    const env = createCopierEnv({ config, queue, maxReceiveCount: 10, marginMs: MARGIN, ...(longHaul ? { longHaul } : {}) });
    envs.push(env);
    return env;
  });
  /** One delivery of whatever is visible, as Lambda's poller would hand it over. */
  const deliver = async (remainingMs: number): Promise<{ res: SQSBatchResponse; ids: string[]; counts: number[] }> => {
    const msgs = await queue.receive(10, 0);
    assert.ok(msgs.length > 0, 'a message to deliver');
    const res = (await handler(sqsEvent(msgs), lambdaContext(remainingMs))) as SQSBatchResponse;
    return { res, ids: msgs.map((m) => m.id), counts: msgs.map((m) => m.receiveCount) };
  };
  return { dlq, queue, deliver, close: () => Promise.all(envs.map((e) => e.close())) };
}

describe('long images leave Lambda (copier handler, deadline, long-haul queue)', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let slow: ProxyHandle;
  let big: PushedManifest;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    slow = await startProxy(src, { trickleBlobs: { bytes: 1024, everyMs: 50 } });
    big = await pushImage(src, 'long/big', 'v1', { format: 'oci', layers: [randomLayer(300_000)] });
    await pushImage(src, 'long/small', 'v1', { format: 'oci', layers: [randomLayer(5_000)] });
  });
  after(async () => {
    await slow.stop();
    await stopAll();
  });

  test('cut on its first delivery it comes back; cut again it moves to the long-haul queue with its reason and leaves the work queue', async () => {
    const longHaul = new LongHaulStub();
    const t = setup(longHaul);
    const body = copy(`${slow.host}/long/big:v1`, `${dst.host}/haul/big:v1`);
    await t.queue.send([body]);

    const first = await t.deliver(CUT);
    assert.deepEqual(first.counts, [1]);
    assert.deepEqual(first.res, { batchItemFailures: [{ itemIdentifier: first.ids[0] }] }, 'the first cut comes back');
    assert.equal(longHaul.letters.length, 0, 'not moved on the first cut');
    assert.equal((await t.queue.counts()).visible, 1, 'visible again at once');

    const second = await t.deliver(CUT);
    assert.deepEqual(second.counts, [2]);
    assert.deepEqual(second.res, { batchItemFailures: [] }, 'settled: moved, not a batch item failure');
    assert.ok(t.queue.idle(), 'deleted from the work queue');
    assert.equal(longHaul.letters.length, 1);
    const letter = longHaul.letters[0]!;
    assert.equal(letter.body, body, 'the body byte for byte, so `work` copies it as it is');
    assert.equal(letter.id, second.ids[0]);
    assert.equal(letter.receiveCount, 2);
    assert.equal(letter.reason.code, ErrorCode.LAMBDA_DEADLINE);
    assert.match(letter.reason.message, /unfinished at the Lambda deadline on delivery 2: .*'swr-migrate work --queue-url https:\/\/sqs\.eu-west-1\.amazonaws\.com\/000000000000\/swr-migrate-dev-long'/);
    assert.deepEqual(await t.dlq.list(), [], 'not a failure');
    assert.equal(await getManifest(dst, 'haul/big', 'v1'), undefined, 'nothing half-committed');
    assert.equal(await blobExists(dst, 'haul/big', big.blobs.at(-1)!.digest), false);
    await t.close();
  });

  test('a record that finishes in time on its second delivery is copied, not moved; its batch neighbour cut twice is moved', async () => {
    const longHaul = new LongHaulStub();
    const t = setup(longHaul);
    const bigBody = copy(`${slow.host}/long/big:v1`, `${dst.host}/mixed/big:v1`);
    await t.queue.send([bigBody]);
    await t.deliver(CUT);
    await t.queue.send([copy(`${src.host}/long/small:v1`, `${dst.host}/mixed/small:v1`)]);
    const both = await t.deliver(CUT);
    assert.deepEqual([...both.counts].sort(), [1, 2]);
    assert.deepEqual(both.res, { batchItemFailures: [] });
    assert.ok(await getManifest(dst, 'mixed/small', 'v1'), 'the quick record was copied');
    assert.deepEqual(longHaul.letters.map((l) => l.body), [bigBody]);
    assert.ok(t.queue.idle());
    await t.close();
  });

  test('without a long-haul queue (LONG_QUEUE_URL unset) a record cut again comes back, as before', async () => {
    const t = setup(undefined);
    await t.queue.send([copy(`${slow.host}/long/big:v1`, `${dst.host}/nolong/big:v1`)]);
    await t.deliver(CUT);
    const second = await t.deliver(CUT);
    assert.deepEqual(second.counts, [2]);
    assert.deepEqual(second.res, { batchItemFailures: [{ itemIdentifier: second.ids[0] }] });
    assert.equal((await t.queue.counts()).visible, 1);
    await t.close();
  });

  test('a long-haul send that fails leaves the record on the work queue: it comes back, nothing is lost', async () => {
    const longHaul = new LongHaulStub();
    longHaul.refuse = true;
    const t = setup(longHaul);
    await t.queue.send([copy(`${slow.host}/long/big:v1`, `${dst.host}/refused/big:v1`)]);
    await t.deliver(CUT);
    const second = await t.deliver(CUT);
    assert.deepEqual(second.res, { batchItemFailures: [{ itemIdentifier: second.ids[0] }] });
    assert.equal((await t.queue.counts()).visible, 1, 'still on the work queue, visible again');
    assert.deepEqual(await t.dlq.list(), []);
    await t.close();
  });
});
