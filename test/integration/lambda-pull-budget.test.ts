// Issue 9 item 5 on the Lambda copier: a Docker Hub source whose pull budget runs out mid-batch.
// The copier container plans nothing, so it cannot warn up front; what it must do is leave the rest
// for later: the images past the budget are dead-lettered as SWRM_RATE_BUDGET (replayable after the
// window), and none is a failure.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNativeConfig } from '../../lib/config/native.js';
import { createCopierEnv } from '../../lib/lambda/copier-env.js';
import { processMessage } from '../../lib/pipeline/copier.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { type DockerHubHandle, startDockerHub } from '../helpers/docker-hub-registry.js';
import { pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';

let src: RegistryHandle;
let dst: RegistryHandle;
let hub: DockerHubHandle;
const TAGS = ['t1', 't2', 't3', 't4', 't5'];

before(async () => {
  [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
  for (const tag of TAGS) await pushImage(src, 'library/app', tag, { format: 'docker', layers: [randomLayer(1_000)] });
  hub = await startDockerHub(src, { anonymous: 2, authenticated: 4, windowS: 120 });
});
after(async () => {
  await hub.stop();
  await stopAll();
});

test('Lambda copier: past the pull budget, images are deferred as SWRM_RATE_BUDGET, never failed', async () => {
  const config = parseNativeConfig({
    version: 1,
    registries: { [hub.host]: { insecure: true }, [dst.host]: { insecure: true } },
    rules: [{ source: `${hub.host}/library/app:t1`, destination: `${dst.host}/mirror` }],
  }, 'c.yaml');
  const env = createCopierEnv({ config, queue: {} as never, maxReceiveCount: 3 });
  try {
    const statuses: string[] = [];
    const codes: string[] = [];
    for (const [i, tag] of TAGS.entries()) {
      const body = encodeMessage({ v: 1, kind: 'copy-image', source: `${hub.host}/library/app:${tag}`, destination: `${dst.host}/mirror/app:${tag}` });
      const { outcome, settlement } = await processMessage({ id: String(i), body, receiveCount: 1 } as never, { ...env.runtime, send: async () => {} });
      statuses.push(outcome!.status);
      if (settlement.action === 'dead-letter') codes.push(settlement.reason.code);
    }
    assert.deepEqual(statuses.filter((s) => s === 'copied').length, 2, `statuses: ${statuses.join(',')}`);
    assert.ok(!statuses.includes('failed'), `statuses: ${statuses.join(',')}`);
    assert.deepEqual(codes, ['SWRM_RATE_BUDGET', 'SWRM_RATE_BUDGET', 'SWRM_RATE_BUDGET']);
  } finally {
    await env.close();
  }
});
