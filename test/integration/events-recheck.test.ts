// Issue 16 end to end, below the HTTP server: an image pushed to a real source registry, the Harbor
// webhook that announces it through receiveWebhook, the burst window, and the rechecks run through
// the embedded queue and copiers (pipeline/sync.ts runMessages) -> the image is at the destination.
// A forged request is refused and changes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, type LoadedConfig } from '../../lib/config/types.js';
import { Coalescer } from '../../lib/events/coalesce.js';
import { receiveWebhook, type WebhookRequest } from '../../lib/events/receive.js';
import { runMessages } from '../../lib/pipeline/sync.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { listTags, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';

const SECRET = 'harbor-auth-header-0123456789';

describe('a Harbor webhook re-checks a listed rule\'s repository', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let config: LoadedConfig;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    config = {
      source: 'test',
      defaults: { ...DEFAULTS },
      registries: [],
      resolve: () => ({ insecure: true }),
      rules: [{ origin: 'sync.yaml: rules[0]', source: { registry: src.host, repository: 'team/app' }, filter: {}, destinations: [{ registry: dst.host, repository: 'mirror/app' }] }],
      events: { secrets: { harbor: SECRET }, windowMs: 20 },
    };
    await pushImage(src, 'team/app', 'v1', { format: 'oci', layers: [randomLayer(4096)] });
    await pushImage(src, 'team/app', 'v2', { format: 'docker', layers: [randomLayer(2048)] });
  });
  after(stopAll);

  const webhook = (authorization: string, tag: string): WebhookRequest => ({
    path: '/hooks/harbor',
    headers: { authorization, 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ type: 'PUSH_ARTIFACT', occur_at: 1, operator: 'ci', event_data: { resources: [{ tag, digest: 'sha256:x', resource_url: `${src.host}/team/app:${tag}` }], repository: { name: 'app', namespace: 'team', repo_full_name: 'team/app', repo_type: 'private' } } })),
  });

  test('a forged request is refused and nothing reaches the destination', async () => {
    const forged = receiveWebhook(webhook('Bearer not-the-secret', 'v1'), config.events);
    assert.equal(forged.status, 401);
    assert.ok(!('rechecks' in forged));
    assert.deepEqual(await listTags(dst, 'mirror/app').catch(() => []), []);
  });

  test('the genuine events, collapsed by the window, run through the embedded queue: every tag the rule keeps is copied', async () => {
    const bodies: string[] = [];
    const window = new Coalescer({ windowMs: config.events!.windowMs, send: async (m) => void bodies.push(encodeMessage(m)) });
    for (const tag of ['v1', 'v2']) {
      const r = receiveWebhook(webhook(`Bearer ${SECRET}`, tag), config.events);
      assert.equal(r.status, 202);
      for (const m of 'rechecks' in r ? r.rechecks : []) window.offer(m);
    }
    await window.flush();
    assert.equal(bodies.length, 1, 'two events for one repository within the window: one recheck');
    const dlq = new InMemoryDeadLetterStore();
    const run = await runMessages({ config, proc: 2, retries: 0, dlq }, bodies);
    assert.deepEqual(await dlq.list(), []);
    assert.deepEqual(run.outcomes.map((o) => `${o.kind} ${o.status}`).sort(), ['copy-image copied', 'copy-image copied', 'recheck expanded'], 'the recheck lists the repository itself: one hop to the copies');
    assert.deepEqual((await listTags(dst, 'mirror/app')).sort(), ['v1', 'v2']);
  });
});
