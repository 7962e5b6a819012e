// The pre-flight against the SWR management API stand-in, from the two other entry points: the
// Lambda planner (before it enqueues) and replay's runMessages (over the dead letters' destinations).
import { after, beforeEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNativeConfig } from '../../lib/config/native.js';
import { ErrorCode, SwrOrgError } from '../../lib/errors.js';
import { runScheduledPlan } from '../../lib/lambda/planner.js';
import { runMessages } from '../../lib/pipeline/sync.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { stopAllTracked } from '../helpers/cleanup.js';
import { startForwardProxy } from '../helpers/forward-proxy.js';
import { ruleDestinations, swrPreflight } from '../../lib/vendors/swr/preflight.js';
import { startSwrApi, swrState, type SwrApiHandle } from '../helpers/swr-api-server.js';

const HOST = '127.0.0.1:1';
const state = swrState(5);
let api: SwrApiHandle;
before(async () => {
  api = await startSwrApi({ ak: 'AK1', sk: 'SK1', projectId: 'p1', state });
});
after(stopAllTracked);
beforeEach(() => {
  state.orgs.clear();
  state.quotaLimit = 5;
  api.requests.length = 0;
});

const config = (orgs: string[]) => parseNativeConfig({
  version: 1,
  registries: { [HOST]: { type: 'swr', insecure: true, accessKey: 'AK1', secretKey: 'SK1', project: 'cn-north-4', projectId: 'p1', managementEndpoint: api.url } },
  rules: orgs.map((o) => ({ source: 'src.example/team/app', tags: ['v1'], destination: `${HOST}/${o}` })),
}, 'c.yaml');
const queue = () => new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 3, dlq: new InMemoryDeadLetterStore() });
const posts = () => api.requests.filter((r) => r.method === 'POST').length;

test('the Lambda planner creates the missing organizations before it enqueues', async () => {
  const q = queue();
  const summary = await runScheduledPlan({ config: config(['la', 'lb', 'la']), queue: q });
  assert.equal(summary.sent, 2);
  assert.equal(posts(), 2);
  assert.deepEqual([...state.orgs.keys()].sort(), ['la', 'lb']);
});

test('the Lambda planner with an exhausted quota enqueues nothing and names the organizations', async () => {
  state.quotaLimit = 1;
  const q = queue();
  await assert.rejects(runScheduledPlan({ config: config(['qa', 'qb']), queue: q }), (err: unknown) => {
    assert.ok(err instanceof SwrOrgError);
    assert.equal(err.code, ErrorCode.SWR_ORG_QUOTA);
    assert.deepEqual(err.orgs, ['qa', 'qb']);
    return true;
  });
  assert.equal((await q.receive(10, 0)).length, 0);
  assert.equal(posts(), 0);
});

test('replay checks the dead letters\' organizations first: a full quota copies nothing', async () => {
  state.quotaLimit = 0;
  const bodies = [JSON.stringify({ v: 1, kind: 'copy-image', source: 'src.example/team/app:v1', destination: `${HOST}/ra/app:v1` })];
  const dlq = new InMemoryDeadLetterStore();
  await assert.rejects(runMessages({ config: config(['unused']), proc: 1, retries: 0, dlq }, bodies), /needs 1 new organization\(s\) \(ra\)/);
  assert.equal((await dlq.list()).length, 0);
  assert.equal(posts(), 0);
});

test('behind HTTP_PROXY the management API is reached through the proxy (CONNECT tunnel)', async () => {
  const proxy = await startForwardProxy();
  try {
    const c = config(['team']);
    await swrPreflight(ruleDestinations(c.rules), c.resolve, { env: { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url } });
    assert.equal(state.orgs.get('team')?.mine, true);
    assert.ok(proxy.tunnels.includes(new URL(api.url).host), `tunnels: ${proxy.tunnels.join(', ')}`);
  } finally {
    await proxy.stop();
  }
});
