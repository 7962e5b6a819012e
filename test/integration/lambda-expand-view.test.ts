// Issue 15, item 2 on the Lambda path: each copy message is taken by whichever container is free,
// often a cold one, so a copier's own view of the destination lasts one message. The copier that
// expands a listed rule reads the destination repository's tag list once and writes what each tag
// holds into its copy messages (destinationSeen); the copiers then ask the destination nothing for
// an unchanged image. Day 2 of a 4-tag repository, every message in a fresh container sharing only
// the state table: 1 destination request (the expansion's tag list), against 1 per image before.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSBatchResponse } from 'aws-lambda';
import { DEFAULTS, type LoadedConfig } from '../../lib/config/types.js';
import { copierHandler } from '../../lib/lambda/copier-handler.js';
import { createCopierEnv } from '../../lib/lambda/copier-env.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { decodeMessage, encodeMessage } from '../../lib/queue/messages.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext, sqsEvent } from '../helpers/sqs-events.js';

const config: LoadedConfig = { source: 'test', defaults: { ...DEFAULTS }, registries: [], resolve: () => ({ insecure: true }), rules: [] };
const TAGS = ['v1', 'v2', 'v3', 'v4'];

describe('a listed rule on Lambda: the expansion reads the destination once for all its copies', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  const state = new MemoryStateStore(); // the state table: the only thing containers share
  const queue = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 3, dlq: new InMemoryDeadLetterStore() });

  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    const base = randomLayer(4_000);
    for (const tag of TAGS) await pushImage(src, 'team/app', tag, { format: 'oci', layers: [base, randomLayer(1_000)] });
  });
  after(stopAll);

  /** One invocation in a cold container (a new env), with the records it is given. */
  const invoke = async (bodies: string[]): Promise<void> => {
    const env = createCopierEnv({ config, queue, maxReceiveCount: 3, marginMs: 1000, state });
    const handler = copierHandler(async () => env, { metrics: { service: 'test', write: () => undefined } });
    await queue.send(bodies);
    const msgs = await queue.receive(bodies.length, 0);
    const res = (await handler(sqsEvent(msgs), lambdaContext(60_000))) as SQSBatchResponse;
    assert.deepEqual(res, { batchItemFailures: [] });
    await env.close();
  };
  /** The expansion, then each copy message it sent in a container of its own. */
  const day = async () => {
    const expand = encodeMessage({ v: 1, kind: 'expand-repository', source: `${src.host}/team/app`, destinations: [`${dst.host}/mirror/app`] });
    await invoke([expand]);
    const copies = await queue.receive(10, 0);
    assert.equal(copies.length, TAGS.length);
    for (const c of copies) await queue.release(c, 0);
    const bodies: string[] = [];
    for (const c of await queue.receive(10, 0)) {
      bodies.push(c.body);
      await queue.ack(c);
    }
    for (const b of bodies) await invoke([b]);
    return bodies.map((b) => decodeMessage(b));
  };

  test('day 1 copies with the repository known to be fresh; day 2 asks the destination once', async (t) => {
    let mark = dst.mark();
    const first = await day();
    assert.ok(first.every((m) => m.kind === 'copy-image' && m.destinationSeen === 'fresh'), 'day 1: the expansion saw a fresh repository');
    for (const tag of TAGS) assert.ok(await getManifest(dst, 'mirror/app', tag), `${tag} copied`);
    await dst.settle();
    assert.equal(dst.requestsSince(mark).filter((e) => e.method === 'HEAD' && e.status === 404).length, 0, 'day 1: no HEAD answered 404');

    await dst.settle();
    mark = dst.mark();
    const second = await day();
    await dst.settle();
    const log = dst.requestsSince(mark).filter((e) => e.path !== '/v2/');
    t.diagnostic(`day 2: ${log.length} destination request(s) for ${TAGS.length} images: ${log.map((e) => `${e.method} ${e.path}`).join(', ')}`);
    assert.ok(second.every((m) => m.kind === 'copy-image' && m.destinationSeen?.startsWith('sha256:')), 'day 2: each copy carries the digest its tag holds');
    assert.deepEqual(log.map((e) => `${e.method} ${e.path.replace(/\?.*/, '')}`), ['GET /v2/mirror/app/tags/list'], 'one tag list, no HEAD, no write');
  });
});
