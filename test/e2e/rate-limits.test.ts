// Rate limits with one meaning (issue 13, item 1), through the CLI and the Lambda copier:
//   - a 429 that states no budget (GHCR, Quay, Harbor, ECR under load) is a throttle: backed off
//     (Retry-After) and retried; never "left for later" (it made `sync` copy 0 of 20 and exit 0);
//   - a 429 whose Docker Hub headers say some is left is a throttle too;
//   - a warm Lambda copier reads a spent budget again once its window has turned over.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseNativeConfig } from '../../lib/config/native.js';
import { createCopierEnv } from '../../lib/lambda/copier-env.js';
import { processMessage } from '../../lib/pipeline/copier.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { type DockerHubHandle, startDockerHub } from '../helpers/docker-hub-registry.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

const TAGS = ['t1', 't2', 't3', 't4', 't5', 't6'];

describe('rate limits', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  const dir = tempDir();
  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    for (const tag of TAGS) await pushImage(src, 'library/app', tag, { format: 'docker', layers: [randomLayer(1_500)] });
  });
  after(stopAll);

  const sync = async (proxy: ProxyHandle | DockerHubHandle, destination: string, extra: string[] = []) => {
    const file = writeFile(
      dir,
      `${destination}.yaml`,
      `version: 1
registries:
  "${proxy.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${proxy.host}/library/app
    destination: ${dst.host}/${destination}
`,
    );
    return runCli(['sync', '--config', file, '--dlq', join(dir, `${destination}.dlq`), '--proc', '3', ...extra]);
  };

  test('a 429 without rate-limit headers is a throttle: every image copied, nothing left for later', async () => {
    const proxy = await startProxy(src, { throttle: { manifestGets: 4, retryAfterS: 1 } });
    try {
      const r = await sync(proxy, 'throttled');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /6 image\(s\): 6 copied, 0 already present, 0 failed/);
      assert.doesNotMatch(r.stdout + r.stderr, /left for later|SWRM_RATE_BUDGET|pull budget/);
      for (const tag of TAGS) assert.ok(await getManifest(dst, 'throttled/app', tag), `throttled/app:${tag} missing`);
    } finally {
      await proxy.stop();
    }
  });

  test('a 429 whose budget headers say some is left is a throttle too', async () => {
    const proxy = await startProxy(src, { throttle: { manifestGets: 3, retryAfterS: 1, budget: { limit: 100, remaining: 50, windowS: 3600 } } });
    try {
      const r = await sync(proxy, 'budgeted');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /6 image\(s\): 6 copied, 0 already present, 0 failed/);
      assert.doesNotMatch(r.stdout, /left for later/);
    } finally {
      await proxy.stop();
    }
  });

  test('a warm Lambda copier reads a spent budget again once the window has turned over', async () => {
    const windowS = 2;
    const hub = await startDockerHub(src, { anonymous: 2, authenticated: 4, windowS });
    const config = parseNativeConfig(
      { version: 1, registries: { [hub.host]: { insecure: true }, [dst.host]: { insecure: true } }, rules: [{ source: `${hub.host}/library/app:t1`, destination: `${dst.host}/warm` }] },
      'c.yaml',
    );
    const env = createCopierEnv({ config, queue: {} as never, maxReceiveCount: 3 });
    const run = async (tag: string, id: string) => {
      const body = encodeMessage({ v: 1, kind: 'copy-image', source: `${hub.host}/library/app:${tag}`, destination: `${dst.host}/warm/app:${tag}` });
      const { outcome } = await processMessage({ id, body, receiptHandle: id, receiveCount: 1 }, { ...env.runtime, send: async () => {} });
      return outcome!.status;
    };
    try {
      const first = [await run('t1', 'a'), await run('t2', 'b'), await run('t3', 'c')];
      assert.deepEqual(first, ['copied', 'copied', 'deferred']);
      await sleep(windowS * 1000 + 300);
      const headsBefore = hub.manifests.filter((m) => m.method === 'HEAD').length;
      const later = [await run('t3', 'c2'), await run('t4', 'd')];
      assert.deepEqual(later, ['copied', 'copied'], 'the warm container still deferred after the window refilled');
      assert.ok(hub.manifests.filter((m) => m.method === 'HEAD').length > headsBefore, 'the budget was not read again');
      assert.equal(hub.refused, 0, 'a GET went out past the budget');
    } finally {
      await env.close();
      await hub.stop();
    }
  });
});
