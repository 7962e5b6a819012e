// The copier's settlement of a message, with the real embedded queue and copy engine over a fake
// registry port (the cases here are about the decision, not HTTP).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { handleMessage, type CopierDeps } from '../../lib/pipeline/copier.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { createCopyContext } from '../../lib/copy/context.js';
import { decodeMessage, encodeMessage } from '../../lib/queue/messages.js';
import { NetworkError, InvalidMessageError } from '../../lib/errors.js';
import type { ClientPool } from '../../lib/registry/pool.js';
import type { RegistryClient } from '../../lib/registry/types.js';

function fakePool(manifestHead: RegistryClient['manifestHead']): ClientPool {
  const client = { registry: 'r.io', manifestHead } as unknown as RegistryClient;
  return { client: () => client, access: () => ({}) } as unknown as ClientPool;
}

async function setup(manifestHead: RegistryClient['manifestHead'], maxReceiveCount = 3) {
  const dlq = new InMemoryDeadLetterStore();
  const queue = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount, dlq });
  const outcomes: string[] = [];
  const deps: CopierDeps = {
    queue,
    pool: fakePool(manifestHead),
    ctx: createCopyContext(),
    maxReceiveCount,
    list: async () => [],
    onOutcome: (o) => outcomes.push(o.status),
  };
  return { dlq, queue, deps, outcomes };
}

const body = encodeMessage({ v: 1, kind: 'copy-image', source: 'r.io/a/b:1', destination: 'd.io/a/b:1' });

describe('copier', () => {
  test('a bad message goes to the DLQ with the reason and never throws', async () => {
    for (const bad of ['not json', '{"v":2,"kind":"copy-image"}', JSON.stringify({ v: 1, kind: 'copy-image', source: 'x', destination: 'y', token: 's3cret' })]) {
      const { dlq, queue, deps, outcomes } = await setup(async () => undefined);
      await queue.send([bad]);
      const [msg] = await queue.receive(1, 0);
      await handleMessage(msg!, deps);
      const [letter] = await dlq.list();
      assert.equal(letter?.reason.code, 'SWRM_INVALID_MESSAGE', bad);
      assert.deepEqual(outcomes, ['failed']);
      assert.ok(queue.idle());
    }
  });
  test('a permanent failure (manifest unknown) goes straight to the DLQ on the first delivery', async () => {
    const { dlq, queue, deps } = await setup(async () => undefined);
    await queue.send([body]);
    const [msg] = await queue.receive(1, 0);
    await handleMessage(msg!, deps);
    const [letter] = await dlq.list();
    assert.equal(letter?.reason.code, 'MANIFEST_UNKNOWN');
    assert.equal(letter?.receiveCount, 1);
  });
  test('a passing failure is released with a delay, then dead-lettered with its own code at maxReceiveCount', async () => {
    const { dlq, queue, deps, outcomes } = await setup(async () => {
      throw new NetworkError('r.io', 'connection reset');
    }, 2);
    await queue.send([body]);
    const [first] = await queue.receive(1, 0);
    await handleMessage(first!, deps);
    assert.deepEqual(await dlq.list(), []);
    const counts = await queue.counts();
    assert.equal(counts.delayed + counts.inFlight, 1, 'the message was not kept for a retry');
    // Make it visible now instead of waiting for the backoff.
    await queue.release(first!, 0);
    const [second] = await queue.receive(1, 100);
    assert.equal(second?.receiveCount, 2);
    await handleMessage(second!, deps);
    const [letter] = await dlq.list();
    assert.equal(letter?.reason.code, 'SWRM_NETWORK');
    assert.match(letter?.reason.message ?? '', /cannot reach r\.io/);
    assert.deepEqual(outcomes, ['retrying', 'failed']);
  });
});

describe('message schema', () => {
  test('valid messages decode; every other shape is an InvalidMessageError', () => {
    assert.equal(decodeMessage(body).kind, 'copy-image');
    for (const bad of ['', '[]', '{"v":1,"kind":"nope"}', '{"v":1,"kind":"expand-repository","source":"a","destinations":[]}']) {
      assert.throws(() => decodeMessage(bad), InvalidMessageError, bad);
    }
  });
});
