// The SWR management client and org-ensure against the API stand-in on 127.0.0.1, which verifies
// SDK-HMAC-SHA256 signatures the way the API gateway does.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError, ErrorCode, RegistryError, SwrOrgError, isRetryable } from '../../lib/errors.js';
import { SwrManagementClient } from '../../lib/vendors/swr/management.js';
import { parseSwrErrorBody } from '../../lib/vendors/swr/errors.js';
import { OrgEnsurer } from '../../lib/vendors/swr/org-ensure.js';
import { stopAllTracked } from '../helpers/cleanup.js';
import { startSwrApi, swrState, type SwrApiHandle } from '../helpers/swr-api-server.js';

after(() => stopAllTracked());
const FAST = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };
const SK = 'SKTEST-secret-0123456789';
const client = (api: SwrApiHandle, extra: Partial<ConstructorParameters<typeof SwrManagementClient>[0]> = {}) =>
  new SwrManagementClient({ endpoint: api.url, auth: { kind: 'aksk', key: { ak: 'AKTEST', sk: SK } }, projectId: 'proj1', retry: FAST, ...extra });

test('create answers created, then exists (409); get and list see it with manage rights', async () => {
  const api = await startSwrApi({ sk: SK });
  const c = client(api);
  assert.equal(await c.namespaceCreate('team-a'), 'created');
  assert.equal(await c.namespaceCreate('team-a'), 'exists');
  assert.deepEqual(await c.namespaceGet('team-a'), { name: 'team-a', auth: 7, repo_count: 0 });
  assert.equal(await c.namespaceGet('nope'), undefined);
  assert.deepEqual((await c.namespaceList()).map((n) => n.name), ['team-a']);
});

test('an IAM token authenticates with X-Auth-Token', async () => {
  const api = await startSwrApi({ sk: SK, token: 'iam-token-1' });
  const c = new SwrManagementClient({ endpoint: api.url, auth: { kind: 'token', token: 'iam-token-1' }, retry: FAST });
  assert.deepEqual(await c.namespaceList(), []);
});

test('quota exhausted on create is reported as quota; quotas endpoint read', async () => {
  const api = await startSwrApi({ sk: SK, state: swrState(1) });
  const c = client(api);
  assert.equal(await c.namespaceCreate('one'), 'created');
  assert.equal(await c.namespaceCreate('two'), 'quota');
  assert.deepEqual(await c.quotaNamespace(), { quota_key: 'namespace', quota_limit: 1, used: 1 });
});

test('repository listing follows offset/limit pages to the Content-Range total', async () => {
  const api = await startSwrApi({ sk: SK });
  for (let i = 0; i < 7; i++) api.state.repos.push({ name: `r${i}`, namespace: i < 5 ? 'a' : 'b', tags: ['v1'] });
  const c = client(api);
  const page = await c.repoPage(undefined, 0, 3);
  assert.equal(page.total, 7);
  assert.equal(page.repos.length, 3);
  assert.deepEqual((await c.repoList(undefined, 3)).map((r) => r.name), ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
  assert.equal(api.requests.filter((r) => r.path.startsWith('/v2/manage/repos')).length, 1 + 3);
  assert.deepEqual((await c.repoList('b', 3)).map((r) => r.name), ['r5', 'r6']);
});

test('a wrong SK gets a one-line 401 that names the host and says to check the clock', async () => {
  const api = await startSwrApi({ sk: SK });
  const c = new SwrManagementClient({ endpoint: api.url, auth: { kind: 'aksk', key: { ak: 'AKTEST', sk: 'wrong' } }, retry: FAST });
  const err = await c.namespaceList().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof AuthError);
  assert.equal(err.code, ErrorCode.AUTH);
  assert.match(err.message, /127\.0\.0\.1:\d+.*APIGW\.0301.*clock/);
  assert.doesNotMatch(err.message, /wrong|\n/);
  assert.equal(api.requests.length, 1, 'a 401 is not retried');
});

test('a clock 16 minutes off is refused by the gateway (APIGW.0303); 14 minutes passes', async () => {
  const api = await startSwrApi({ sk: SK });
  const skewed = client(api, { now: () => new Date(Date.now() - 16 * 60_000) });
  await assert.rejects(skewed.namespaceList(), (e: unknown) => e instanceof AuthError && /APIGW\.0303.*clock/.test(e.message));
  assert.deepEqual(await client(api, { now: () => new Date(Date.now() - 14 * 60_000) }).namespaceList(), []);
});

test('system busy and throttling codes, 429 and 503 are retried; other 4xx are not', async () => {
  const api = await startSwrApi({ sk: SK });
  const c = client(api);
  api.faults.push({ status: 500, code: 'SVCSTG.SWR.4090023' }, { status: 403, code: 'SVCSTG.SWR.4031032' });
  assert.deepEqual(await c.namespaceList(), []);
  api.faults.push({ status: 429, code: 'SVCSTG.SWR.4031042' }, { status: 503, code: 'APIGW.0201' });
  assert.deepEqual(await c.namespaceList(), []);
  const before = api.requests.length;
  api.faults.push({ status: 403, code: 'SVCSTG.SWR.4031042' }, { status: 403, code: 'SVCSTG.SWR.4031042' }, { status: 403, code: 'SVCSTG.SWR.4031042' });
  const err = await c.namespaceList().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof RegistryError && err.hasCode('SVCSTG.SWR.4031042') && isRetryable(err));
  assert.equal(api.requests.length - before, 3, 'the attempt budget is kept');
  // System busy with the 400 status POST create otherwise expects for quota: still retried.
  api.faults.push({ status: 400, code: 'SVCSTG.SWR.4090023' });
  assert.equal(await c.namespaceCreate('after-busy'), 'created');
  api.faults.push({ status: 400, code: 'SVCSTG.SWR.4001028' });
  const bad = await c.namespaceList().then(() => undefined, (e: unknown) => e);
  assert.ok(bad instanceof RegistryError && !isRetryable(bad));
});

test('error bodies: array, errors[0], APIGW', () => {
  assert.equal(parseSwrErrorBody('[{"errorCode":"SVCSTG.SWR.4090060","errorMessage":"x"}]')[0]?.code, 'SVCSTG.SWR.4090060');
  assert.equal(parseSwrErrorBody('{"errors":[{"errorCode":"SVCSTG.SWR.4000097"}]}')[0]?.code, 'SVCSTG.SWR.4000097');
  assert.equal(parseSwrErrorBody('{"error_code":"APIGW.0301","error_msg":"m"}')[0]?.code, 'APIGW.0301');
  assert.deepEqual(parseSwrErrorBody('<html>'), []);
});

test('org-ensure: a plan whose new organizations exceed the quota fails up front, naming them', async () => {
  const api = await startSwrApi({ sk: SK, state: swrState(3) });
  api.state.orgs.set('have', { auth: 7, mine: true });
  const e = new OrgEnsurer(client(api));
  const err = await e.ensureAll(['have', 'new-b', 'new-a', 'new-c']).then(() => undefined, (x: unknown) => x);
  assert.ok(err instanceof SwrOrgError);
  assert.equal(err.code, ErrorCode.SWR_ORG_QUOTA);
  assert.deepEqual(err.orgs, ['new-a', 'new-b', 'new-c']);
  assert.match(err.message, /needs 3 new organization\(s\) \(new-a, new-b, new-c\) but 2 can be created \(limit 3\)/);
  assert.equal(api.requests.filter((r) => r.method === 'POST').length, 0, 'nothing created before failing');
});

test('org-ensure: where quotas do not answer, a 4000097 on create gives the same error', async () => {
  const api = await startSwrApi({ sk: SK, state: swrState(0), quotas: false });
  const err = await new OrgEnsurer(client(api)).ensureAll(['x']).then(() => undefined, (x: unknown) => x);
  assert.ok(err instanceof SwrOrgError && err.code === ErrorCode.SWR_ORG_QUOTA && err.orgs[0] === 'x');
});

test('org-ensure: concurrent ensures of one organization share one POST', async () => {
  const api = await startSwrApi({ sk: SK });
  const e = new OrgEnsurer(client(api));
  const states = await Promise.all(Array.from({ length: 10 }, () => e.ensure('shared')));
  assert.deepEqual(new Set(states), new Set(['created']));
  assert.equal(api.requests.filter((r) => r.method === 'POST').length, 1);
  // Listed with push rights: present, without another POST; only `other` is created.
  assert.deepEqual([...(await e.ensureAll(['shared', 'other']))], [['other', 'created'], ['shared', 'present']]);
  assert.equal(api.requests.filter((r) => r.method === 'POST').length, 2);
});

test('org-ensure: an organization that exists but is not ours is reported clearly', async () => {
  const api = await startSwrApi({ sk: SK });
  api.state.orgs.set('theirs', { auth: 0, mine: false });
  api.state.orgs.set('readonly', { auth: 1, mine: false });
  api.state.orgs.set('writable', { auth: 3, mine: false });
  const e = new OrgEnsurer(client(api));
  await assert.rejects(e.ensure('theirs'), (x: unknown) => x instanceof SwrOrgError && x.code === ErrorCode.SWR_ORG_NO_PUSH
    && /"theirs" on 127\.0\.0\.1:\d+ exists but this account cannot push there \(owned by another account\)/.test(x.message));
  await assert.rejects(e.ensure('readonly'), /cannot push there \(permission 1: read only\)/);
  assert.equal(await e.ensure('writable'), 'present');
});
