// SWR pre-flight through the built CLI (issue 8): a real distribution registry behind the SWR
// registry stand-in, with the management API stand-in sharing one organization state. Organizations
// are created before the first push; a full quota, a foreign organization, bad names, a refused
// signature, a skewed clock and a wrong login each stop the run with one line saying what to do,
// and (except the login, which only a request can test) before any request reaches the registry.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { startSwrRegistryProxy, type SwrRegistryProxyHandle } from '../helpers/swr-registry-proxy.js';
import { startSwrApi, swrState, type SwrApiHandle } from '../helpers/swr-api-server.js';
import { swrLoginPassword } from '../../lib/vendors/swr/login.js';

const AK = 'AKPREFLIGHT';
const SK = 'SK-preflight-secret-0123456789';
const PROJECT = 'cn-north-4';
const LOGIN = { username: `${PROJECT}@${AK}`, password: swrLoginPassword(AK, SK) };

describe('SWR pre-flight', () => {
  const dir = tempDir();
  const state = swrState(5);
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let swr: SwrRegistryProxyHandle;
  let api: SwrApiHandle;

  before(async () => {
    src = await startRegistry();
    // The registry behind the stand-in accepts exactly the login derived from AK/SK.
    dst = await startRegistry({ auth: 'basic', ...LOGIN });
    swr = await startSwrRegistryProxy(dst, { state });
    api = await startSwrApi({ ak: AK, sk: SK, projectId: 'p1', state });
    await pushImage({ url: src.url }, 'app/one', 'v1', { format: 'docker', layers: [randomLayer(512)] });
    await pushImage({ url: src.url }, 'app/two', 'v1', { format: 'docker', layers: [randomLayer(512)] });
  });
  after(stopAll);
  beforeEach(() => {
    state.orgs.clear();
    state.quotaLimit = 5;
    api.requests.length = 0;
  });

  /** A native config whose SWR entry is `entry` (YAML flow mapping body) and whose rules are `rules`. */
  const config = (name: string, entry: string, rules: string): string =>
    writeFile(dir, name, `version: 1
defaults: { concurrency: 2, retries: 0 }
registries:
  "${src.host}": { insecure: true }
  "${swr.host}": { type: swr, insecure: true, ${entry} }
rules:
${rules}`);
  const keyed = (endpoint = api.url, sk = SK) =>
    `accessKey: ${AK}, secretKey: "${sk}", project: ${PROJECT}, projectId: p1, managementEndpoint: "${endpoint}"`;
  const rule = (source: string, destination: string, extra = '') =>
    `  - source: ${src.host}/${source}\n    destination: ${swr.host}/${destination}\n${extra}`;

  const sync = async (file: string): Promise<CliResult & { registryRequests: number }> => {
    const mark = dst.mark();
    const r = await runCli(['sync', '--config', file, '--dlq', join(dir, `${Math.random().toString(36).slice(2)}.jsonl`)]);
    await dst.settle();
    return { ...r, registryRequests: dst.requestsSince(mark).length };
  };
  const noSecret = (r: CliResult) => {
    for (const text of [r.stdout, r.stderr]) {
      assert.ok(!text.includes(SK), 'the secret key leaked');
      assert.ok(!text.includes(LOGIN.password), 'the derived password leaked');
    }
  };
  const posts = () => api.requests.filter((q) => q.method === 'POST' && q.path === '/v2/manage/namespaces').length;

  test('keys configured: each missing organization is created once, then the images arrive', async () => {
    const r = await sync(config('create.yaml', keyed(), rule('app/one:v1', 'team') + rule('app/two:v1', 'team') + rule('app/one:v1', 'other')));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(posts(), 2, 'one POST per organization');
    assert.deepEqual([...state.orgs.keys()].sort(), ['other', 'team']);
    for (const repo of ['team/one', 'team/two', 'other/one']) {
      assert.ok(await getManifest({ url: dst.url, ...LOGIN }, repo, 'v1'), `${repo}:v1 missing`);
    }
    noSecret(r);
  });

  test('an exhausted quota fails before any request reaches the registry and names the organizations', async () => {
    state.quotaLimit = 1;
    state.orgs.set('existing', { auth: 7, mine: true });
    const r = await sync(config('quota.yaml', keyed(), rule('app/one:v1', 'qa') + rule('app/two:v1', 'qb')));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /needs 2 new organization\(s\) \(qa, qb\) but 0 can be created \(limit 1\).*\[SWRM_SWR_ORG_QUOTA\]/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.registryRequests, 0);
    assert.equal(posts(), 0);
    noSecret(r);
  });

  test('an organization another account owns: one line, nothing pushed', async () => {
    state.orgs.set('taken', { auth: 1, mine: false });
    const r = await sync(config('foreign.yaml', keyed(), rule('app/one:v1', 'taken')));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /organization "taken" .* exists but this account cannot push there \(permission 1: read only\); choose another organization name \[SWRM_SWR_ORG_NO_PUSH\]/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.registryRequests, 0);
  });

  test('an organization invisible to us (another account\'s) is reported as owned by another account', async () => {
    state.orgs.set('hidden', { auth: 0, mine: false });
    const r = await sync(config('hidden.yaml', keyed(), rule('app/one:v1', 'hidden')));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /"hidden" .*owned by another account.*\[SWRM_SWR_ORG_NO_PUSH\]/);
    assert.equal(r.registryRequests, 0);
  });

  test('names SWR refuses are all listed, exit 2, no request to the API or the registry', async () => {
    const r = await sync(config('names.yaml', keyed(), rule('app/one:v1', '9team') + rule('app/two:v1', 'team', '    name: my__app\n')));
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /2 SWR destination name\(s\) break SWR's naming rules; rename them in the config/);
    assert.match(r.stderr, /9team\/one: SWR name "9team": an organization name starts with a lowercase letter/);
    assert.match(r.stderr, /team\/my__app: SWR name "my__app": a repository name has no two separators in a row/);
    assert.equal(r.registryRequests, 0);
    assert.equal(api.requests.length, 0);
  });

  test('plan (dry run) checks names and quota and creates nothing', async () => {
    state.quotaLimit = 0;
    const file = config('plan.yaml', keyed(), rule('app/one:v1', 'planned'));
    const r = await runCli(['plan', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\(planned\).*\[SWRM_SWR_ORG_QUOTA\]/);
    state.quotaLimit = 5;
    const ok = await runCli(['plan', '--config', file]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /app\/one:v1 -> .*planned\/one:v1/);
    assert.equal(posts(), 0);
    assert.equal(state.orgs.size, 0);
  });

  test('a signature the API refuses (wrong SK) says to check the keys, without the key', async () => {
    const strict = await startSwrApi({ ak: AK, sk: 'a-different-secret', projectId: 'p1', state });
    try {
      const r = await sync(config('sig.yaml', keyed(strict.url), rule('app/one:v1', 'team')));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /SWR management API 127\.0\.0\.1:\d+ refused the request: signature rejected \(APIGW\.0301\): check accessKey\/secretKey/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.registryRequests, 0);
      noSecret(r);
    } finally {
      await strict.stop();
    }
  });

  test('a clock 20 minutes off says to fix the clock, without the key', async () => {
    const skewed = await startSwrApi({ ak: AK, sk: SK, projectId: 'p1', state, now: () => Date.now() + 20 * 60_000 });
    try {
      const r = await sync(config('skew.yaml', keyed(skewed.url), rule('app/one:v1', 'team')));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /signature expired \(APIGW\.0303\): this machine's clock is more than 15 minutes off UTC; fix the clock/);
      assert.equal(r.registryRequests, 0);
      noSecret(r);
    } finally {
      await skewed.stop();
    }
  });

  test('a wrong AK/SK for the registry login is explained as the derived login, without the key', async () => {
    state.orgs.set('team', { auth: 7, mine: true });
    // No managementEndpoint: nothing checks the keys before the registry does.
    const r = await sync(config('login.yaml', `accessKey: ${AK}, secretKey: "wrong-${SK}", project: ${PROJECT}`, rule('app/one:v1', 'team')));
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, /SWR refused the login derived from accessKey\/secretKey on 127\.0\.0\.1:\d+: check the keys and project "cn-north-4"/);
    assert.match(r.stderr, /organizations on 127\.0\.0\.1:\d+ are not checked: no managementEndpoint/);
    assert.ok(!(r.stdout + r.stderr).includes(swrLoginPassword(AK, `wrong-${SK}`)));
    noSecret(r);
  });

  test('a console login into a missing organization: the 401 is explained as the organization, not the password', async () => {
    const r = await sync(config('console.yaml', `username: "${LOGIN.username}", password: "${LOGIN.password}"`, rule('app/one:v1', 'ghost')));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /refused a push to ghost\/one: the organization "ghost" may not exist or this login cannot push to it \(swr-migrate creates organizations when accessKey\/secretKey are configured\), or the login is wrong/);
    assert.doesNotMatch(r.stdout, /check the credentials given with --auth/);
    assert.match(r.stderr, /organizations on 127\.0\.0\.1:\d+ are not checked: a console login cannot call the management API/);
    assert.equal(swr.refused.noOrg > 0, true);
  });
});
