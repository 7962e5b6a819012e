import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedQueue, MAX_RECEIVES_CODE } from '../../lib/queue/embedded.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import type { DeadLetter, DeadLetterStore } from '../../lib/queue/types.js';

const VT = 30_000;

function setup(opts: { maxReceiveCount?: number; dlq?: DeadLetterStore; visibilityTimeoutMs?: number } = {}) {
  const clock = { t: 1_700_000_000_000 };
  const dlq = opts.dlq ?? new InMemoryDeadLetterStore();
  const q = new EmbeddedQueue({
    visibilityTimeoutMs: opts.visibilityTimeoutMs ?? VT,
    maxReceiveCount: opts.maxReceiveCount ?? 3,
    dlq,
    now: () => clock.t,
  });
  return { q, dlq, clock };
}

describe('EmbeddedQueue', () => {
  test('delivers in send order with ids, fresh receipt handles and receiveCount 1', async () => {
    const { q } = setup();
    await q.send(['a', 'b', 'c']);
    const got = await q.receive(2, 0);
    assert.deepEqual(got.map((m) => m.body), ['a', 'b']);
    assert.ok(got.every((m) => m.receiveCount === 1 && m.id && m.receiptHandle));
    assert.notEqual(got[0]!.id, got[1]!.id);
    assert.deepEqual((await q.receive(10, 0)).map((m) => m.body), ['c']);
    assert.deepEqual(await q.receive(10, 0), []);
  });

  test('visibility timeout hides the message, then re-delivers it with receiveCount 2', async () => {
    const { q, clock } = setup();
    await q.send(['a']);
    const [first] = await q.receive(1, 0);
    clock.t += VT - 1;
    assert.deepEqual(await q.receive(1, 0), []);
    clock.t += 1;
    const [second] = await q.receive(1, 0);
    assert.equal(second!.id, first!.id);
    assert.equal(second!.receiveCount, 2);
    assert.notEqual(second!.receiptHandle, first!.receiptHandle);
  });

  test('release with a delay: delayed, then visible again', async () => {
    const { q, clock } = setup();
    await q.send(['a']);
    const [m] = await q.receive(1, 0);
    await q.release(m!, 5_000);
    assert.deepEqual(await q.counts(), { visible: 0, inFlight: 0, delayed: 1 });
    clock.t += 4_999;
    assert.deepEqual(await q.receive(1, 0), []);
    clock.t += 1;
    const [again] = await q.receive(1, 0);
    assert.equal(again!.receiveCount, 2);
  });

  test('send with delaySeconds: counted delayed, invisible until then (SQS DelaySeconds); out of range is refused', async () => {
    const { q, clock } = setup();
    await q.send(['later'], { delaySeconds: 2 });
    await q.send(['now']);
    assert.deepEqual(await q.counts(), { visible: 1, inFlight: 0, delayed: 1 });
    assert.deepEqual((await q.receive(10, 0)).map((m) => m.body), ['now']);
    clock.t += 1999;
    assert.deepEqual(await q.receive(10, 0), []);
    clock.t += 1;
    assert.deepEqual((await q.receive(10, 0)).map((m) => m.body), ['later']);
    await assert.rejects(q.send(['x'], { delaySeconds: 901 }), RangeError);
    await assert.rejects(q.send(['x'], { delaySeconds: 1.5 }), RangeError);
  });

  test('release with 0 makes it visible at once', async () => {
    const { q } = setup();
    await q.send(['a']);
    const [m] = await q.receive(1, 0);
    await q.release(m!, 0);
    assert.equal((await q.receive(1, 0))[0]?.id, m!.id);
  });

  test('a stale receipt handle neither deletes nor releases the newer delivery', async () => {
    const { q, clock } = setup();
    await q.send(['a']);
    const [old] = await q.receive(1, 0);
    clock.t += VT;
    const [fresh] = await q.receive(1, 0);
    await q.ack(old!);
    await q.release(old!, 0);
    assert.deepEqual(await q.counts(), { visible: 0, inFlight: 1, delayed: 0 });
    assert.equal(q.idle(), false);
    await q.ack(fresh!);
    assert.equal(q.idle(), true);
  });

  test('ack with the latest handle still works after the visibility timeout (not yet re-received)', async () => {
    const { q, clock } = setup();
    await q.send(['a']);
    const [m] = await q.receive(1, 0);
    clock.t += VT + 1;
    await q.ack(m!);
    assert.equal(q.idle(), true);
  });

  test('redrive: the delivery after maxReceiveCount goes to the DLQ with SWRM_MAX_RECEIVES', async () => {
    const { q, dlq, clock } = setup({ maxReceiveCount: 2 });
    await q.send(['a', 'b']);
    for (let i = 1; i <= 2; i++) {
      const got = await q.receive(10, 0);
      assert.equal(got.length, 2);
      await q.ack(got.find((m) => m.body === 'b')!); // b always succeeds; a never does
      if (i === 1) await q.send(['b']);
      clock.t += VT;
    }
    assert.deepEqual(await q.receive(10, 0), []);
    const letters = await dlq.list();
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.body, 'a');
    assert.equal(letters[0]!.receiveCount, 2);
    assert.equal(letters[0]!.reason.code, MAX_RECEIVES_CODE);
    assert.match(letters[0]!.reason.message, /2 times/);
    assert.equal(letters[0]!.at, new Date(clock.t).toISOString());
    assert.equal(q.idle(), true);
  });

  test('redrive does not count against max: the next message is delivered instead', async () => {
    const { q, dlq, clock } = setup({ maxReceiveCount: 1 });
    await q.send(['a']);
    await q.receive(1, 0);
    clock.t += VT;
    assert.deepEqual(await q.counts(), { visible: 1, inFlight: 0, delayed: 0 }); // a is first in line
    await q.send(['b']);
    const got = await q.receive(1, 0);
    assert.deepEqual(got.map((m) => m.body), ['b']);
    assert.equal((await dlq.list()).length, 1);
  });

  test('deadLetter goes straight to the store with the reason', async () => {
    const { q, dlq } = setup();
    await q.send(['a']);
    const [m] = await q.receive(1, 0);
    await q.deadLetter(m!, { code: 'MANIFEST_UNKNOWN', message: 'gone' });
    const [letter] = await dlq.list();
    assert.deepEqual({ ...letter!, at: undefined }, {
      id: m!.id,
      body: 'a',
      receiveCount: 1,
      reason: { code: 'MANIFEST_UNKNOWN', message: 'gone' },
      at: undefined,
    });
    assert.equal(q.idle(), true);
  });

  test('a failing DLQ write keeps the message in the queue', async () => {
    const failing: DeadLetterStore = {
      add: async (_l: DeadLetter) => {
        throw new Error('disk full');
      },
      list: async () => [],
      remove: async () => {},
    };
    const { q } = setup({ dlq: failing });
    await q.send(['a']);
    const [m] = await q.receive(1, 0);
    await assert.rejects(q.deadLetter(m!, { code: 'X', message: 'y' }), /disk full/);
    assert.deepEqual(await q.counts(), { visible: 0, inFlight: 1, delayed: 0 });
    assert.equal(q.remaining().length, 1);
  });

  test('long poll wakes on send', async () => {
    const { q } = setup();
    const started = performance.now();
    const pending = q.receive(5, 5_000);
    setTimeout(() => void q.send(['late']), 10);
    const got = await pending;
    assert.deepEqual(got.map((m) => m.body), ['late']);
    assert.ok(performance.now() - started < 1_000);
  });

  test('long poll wakes when a release delay elapses (real clock)', async () => {
    const q = new EmbeddedQueue({ visibilityTimeoutMs: VT, maxReceiveCount: 5, dlq: new InMemoryDeadLetterStore() });
    await q.send(['a']);
    const [m] = await q.receive(1, 0);
    await q.release(m!, 20);
    const got = await q.receive(1, 2_000);
    assert.equal(got[0]?.receiveCount, 2);
  });

  test('long poll gives up with [] after waitMs', async () => {
    const { q } = setup();
    const started = performance.now();
    assert.deepEqual(await q.receive(1, 30), []);
    assert.ok(performance.now() - started >= 25);
  });

  test('abort resolves [] (pending or already aborted) and takes nothing', async () => {
    const { q } = setup();
    const ac = new AbortController();
    const pending = q.receive(1, 10_000, ac.signal);
    setTimeout(() => ac.abort(), 10);
    assert.deepEqual(await pending, []);
    await q.send(['a']);
    assert.deepEqual(await q.receive(1, 0, ac.signal), []);
    assert.deepEqual(await q.counts(), { visible: 1, inFlight: 0, delayed: 0 });
  });

  test('onIdle resolves after the last ack', async () => {
    const { q } = setup();
    await q.onIdle(); // empty queue: already idle
    await q.send(['a', 'b']);
    let resolved = false;
    const idle = q.onIdle().then(() => (resolved = true));
    const [a, b] = await q.receive(2, 0);
    await q.ack(a!);
    await new Promise((r) => setImmediate(r));
    assert.equal(resolved, false);
    await q.ack(b!);
    await idle;
    assert.equal(resolved, true);
  });

  test('counts and remaining()', async () => {
    const { q } = setup();
    await q.send(['a', 'b', 'c', 'd']);
    const [a, b, c] = await q.receive(3, 0);
    await q.release(b!, 1_000);
    await q.ack(c!);
    assert.deepEqual(await q.counts(), { visible: 1, inFlight: 1, delayed: 1 });
    const left = q.remaining().sort((x, y) => x.body.localeCompare(y.body));
    assert.deepEqual(
      left.map(({ body, receiveCount }) => ({ body, receiveCount })),
      [
        { body: 'a', receiveCount: 1 },
        { body: 'b', receiveCount: 1 },
        { body: 'd', receiveCount: 0 },
      ],
    );
    assert.equal(left.find((l) => l.body === 'a')!.id, a!.id);
  });

  test('concurrent receives never share a delivery', async () => {
    const { q } = setup();
    const polls = [q.receive(3, 50), q.receive(3, 50), q.receive(3, 50)];
    await q.send(['1', '2', '3', '4', '5', '6']);
    const got = (await Promise.all(polls)).flat().map((m) => m.body);
    assert.equal(new Set(got).size, got.length);
    assert.ok(got.length >= 3);
  });

  test('rejects bodies over the SQS size limit, enqueueing none of the batch', async () => {
    const { q } = setup();
    await assert.rejects(q.send(['ok', 'x'.repeat(1024 * 1024 + 1)]), RangeError);
    assert.equal(q.idle(), true);
  });
});
