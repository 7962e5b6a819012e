// SWR's push limits (issue 8, item 7): a per-tenant budget of concurrent layer pushes and push
// requests/s, and 503s waited out without spending the image's retries. A real distribution
// registry is the source; the SWR stand-in proxy (in front of another one) is the destination,
// with `type: swr` in a native config, answering 503 above its upload limit and in a "storm".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadedConfig } from '../../lib/config/types.js';
import { parseNativeConfig } from '../../lib/config/native.js';
import { runSync } from '../../lib/pipeline/sync.js';
import type { DeadLetter, DeadLetterStore } from '../../lib/queue/types.js';
import { getManifest, MT, pushImage, randomLayer, type PushedManifest } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { startSwrRegistryProxy, type SwrRegistryProxyHandle, type SwrRegistryProxyOptions } from '../helpers/swr-registry-proxy.js';
import { swrState } from '../helpers/swr-api-server.js';

function memoryDlq(): DeadLetterStore & { letters: DeadLetter[] } {
  const letters: DeadLetter[] = [];
  return { letters, add: async (l) => void letters.push(l), list: async () => [...letters], remove: async () => undefined };
}

let src: RegistryHandle;
let dst: RegistryHandle;
before(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
});
after(() => stopAll());

async function swrProxy(opts: Omit<SwrRegistryProxyOptions, 'state'>): Promise<SwrRegistryProxyHandle> {
  const state = swrState();
  // The organization exists (as `organizations: ensure` would have made it): only busy answers here.
  state.orgs.set('org', { auth: 7, mine: true });
  return startSwrRegistryProxy(dst, { state, ...opts });
}

function config(proxy: SwrRegistryProxyHandle, sources: string[], swr: Record<string, unknown>): LoadedConfig {
  return parseNativeConfig({
    version: 1,
    registries: { [src.host]: { insecure: true }, [proxy.host]: { type: 'swr', insecure: true, ...swr } },
    rules: sources.map((s) => ({ source: `${src.host}/${s}:v1`, destination: `${proxy.host}/org` })),
  }, 'swr-push-budget.yaml', {});
}

/** The most timestamps that fall within any `windowMs` (half-open). */
function peakInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

describe('SWR push budget', () => {
  test('a 503 storm from the SWR proxy: every image still arrives; concurrent uploads never exceed the budget', async (t) => {
    const proxy = await swrProxy({ maxUploads: 3, busyFirst: 2, busyEvery: 4 });
    // A layer shared by every image: after the first upload it is mounted, under the budget too.
    const shared = randomLayer(32 * 1024);
    const names = Array.from({ length: 6 }, (_, i) => `lib/app${i}`);
    const pushed = new Map<string, PushedManifest>();
    for (const n of names) {
      pushed.set(n, await pushImage({ url: src.url }, n, 'v1', { format: 'docker', layers: [shared, randomLayer(96 * 1024), randomLayer(64 * 1024)] }));
    }
    const dlq = memoryDlq();
    // --retries 0: one delivery each, so any busy answer that spent an image's retry fails it.
    const run = await runSync({ config: config(proxy, names, { pushConcurrency: 3, pushRate: 200 }), proc: 4, retries: 0, dlq });

    assert.deepEqual(run.outcomes.map((o) => o.status), names.map(() => 'copied'), JSON.stringify(run.outcomes.map((o) => o.error)));
    assert.ok(run.outcomes.every((o) => o.attempt === 1));
    assert.equal(dlq.letters.length, 0);
    for (const n of names) {
      const got = await getManifest({ url: dst.url }, `org/${n.split('/')[1]}`, 'v1');
      assert.equal(got?.digest, pushed.get(n)!.digest, `${n}: the Docker manifest arrives byte-exact`);
      assert.equal(got?.mediaType, MT.dockerManifest);
    }
    assert.ok(proxy.refused.busy >= 2 + 5, `the storm answered 503 (${proxy.refused.busy} times)`);
    assert.ok(proxy.peakUploads <= 3, `peak upload requests ${proxy.peakUploads}`);
    assert.ok(proxy.peakSessions <= 3, `peak upload sessions ${proxy.peakSessions}`);
    t.diagnostic(`busy ${proxy.refused.busy}, peak uploads ${proxy.peakUploads}, peak sessions ${proxy.peakSessions}, pushes ${proxy.pushTimes.length}`);
    await proxy.stop();
  });

  test('push requests per second stay within pushRate, re-sends after a 503 included', async (t) => {
    const proxy = await swrProxy({ maxUploads: 20, busyEvery: 5 });
    const names = ['lib/rate0', 'lib/rate1', 'lib/rate2'];
    for (const n of names) await pushImage({ url: src.url }, n, 'v1', { format: 'docker', layers: [randomLayer(4096)] });
    const rate = 5;
    const run = await runSync({ config: config(proxy, names, { pushConcurrency: 20, pushRate: rate }), proc: 3, retries: 0, dlq: memoryDlq() });
    assert.deepEqual(run.outcomes.map((o) => o.status), ['copied', 'copied', 'copied']);
    const times = proxy.pushTimes;
    // 3 images x (2 blobs x POST+PUT + manifest PUT) = 15 pushes, plus the storm's re-sends.
    assert.ok(times.length >= 15 + 3, `${times.length} push requests`);
    // Tokens start at least 1/rate apart at the client; arrival jitter (a first request that opened
    // its connection) can put rate + 1 of them within one second at the proxy, never more.
    assert.ok(peakInWindow(times, 1000) <= rate + 1, `peak ${peakInWindow(times, 1000)} push requests in one second`);
    const span = Math.max(...times) - Math.min(...times);
    t.diagnostic(`${times.length} pushes over ${Math.round(span)} ms, peak ${peakInWindow(times, 1000)}/s, busy ${proxy.refused.busy}`);
    assert.ok(span >= ((times.length - 1) * 1000) / rate - 250, `${times.length} pushes over ${Math.round(span)} ms`);
    await proxy.stop();
  });
});
