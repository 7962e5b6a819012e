// Issue 14, item 6: the queue commands do what `sync` does first. `sync --queue-url` and `plan
// --enqueue` run SWR's pre-flight (names, quota, organization creation) before anything is sent, as
// the embedded `sync` and the Lambda planner do, with the same errors and exit codes. Through the
// built CLI, against local-aws-sqs and the SWR stand-ins (a real distribution registry behind the SWR
// registry proxy, which refuses a push into a missing organization as SWR does, and the management
// API sharing its organization state).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type CliResult, runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';
import { startSwrRegistryProxy, type SwrRegistryProxyHandle } from '../helpers/swr-registry-proxy.js';
import { startSwrApi, swrState, type SwrApiHandle } from '../helpers/swr-api-server.js';
import { swrLoginPassword } from '../../lib/vendors/swr/login.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';

const AK = 'AKQUEUEPREFLIGHT';
const SK = 'SK-queue-preflight-0123456789';
const PROJECT = 'cn-north-4';
const LOGIN = { username: `${PROJECT}@${AK}`, password: swrLoginPassword(AK, SK) };

describe('SWR pre-flight on the queue commands (sync --queue-url, plan --enqueue)', () => {
  const dir = tempDir('swrm-queue-preflight-');
  const state = swrState(5);
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let swr: SwrRegistryProxyHandle;
  let api: SwrApiHandle;
  let sqs: SqsServerHandle;
  let awsEnv: Record<string, string>;

  before(async () => {
    [src, sqs] = await Promise.all([startRegistry(), startSqsServer()]);
    dst = await startRegistry({ auth: 'basic', ...LOGIN });
    swr = await startSwrRegistryProxy(dst, { state });
    api = await startSwrApi({ ak: AK, sk: SK, projectId: 'p1', state });
    await pushImage({ url: src.url }, 'app/one', 'v1', { format: 'docker', layers: [randomLayer(512)] });
    await pushImage({ url: src.url }, 'app/two', 'v1', { format: 'docker', layers: [randomLayer(512)] });
    awsEnv = {
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ACCESS_KEY_ID: 'test-access-key',
      AWS_SECRET_ACCESS_KEY: 'test-secret-key',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
  });
  after(async () => {
    await sqs?.stop();
    await stopAll();
  });
  beforeEach(() => {
    state.orgs.clear();
    api.requests.length = 0;
    swr.refused.noOrg = 0;
  });

  const config = (name: string, rules: string): string =>
    writeFile(dir, name, `version: 1
defaults: { concurrency: 2, retries: 0 }
registries:
  "${src.host}": { insecure: true }
  "${swr.host}": { type: swr, insecure: true, accessKey: ${AK}, secretKey: "${SK}", project: ${PROJECT}, projectId: p1, managementEndpoint: "${api.url}" }
rules:
${rules}`);
  const rule = (source: string, destination: string, extra = '') => `  - source: ${src.host}/${source}\n    destination: ${swr.host}/${destination}\n${extra}`;
  const cli = (args: string[]): Promise<CliResult> => runCli(args, awsEnv);
  const posts = () => api.requests.filter((q) => q.method === 'POST' && q.path === '/v2/manage/namespaces').length;
  const noSecret = (r: CliResult) => {
    for (const text of [r.stdout, r.stderr]) assert.ok(!text.includes(SK) && !text.includes(LOGIN.password), 'a secret leaked');
  };
  const waiting = async (queueUrl: string) => {
    const c = await new SqsWorkQueue({ queueUrl, client: sqs.client }).counts();
    return c.visible + c.inFlight + c.delayed;
  };

  test('sync --queue-url into a fresh SWR account: the organization is created before any push, then the images arrive', async () => {
    const q = await sqs.createQueuePair('pf-sync');
    const r = await cli(['sync', '--config', config('sync.yaml', rule('app/one:v1', 'fresh') + rule('app/two:v1', 'fresh')), '--queue-url', q.queueUrl]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^sync: 2 image\(s\): 2 copied/m);
    assert.equal(posts(), 1, 'one POST for the one organization');
    assert.deepEqual([...state.orgs.keys()], ['fresh']);
    assert.equal(swr.refused.noOrg, 0, 'no push met a missing organization');
    for (const repo of ['fresh/one', 'fresh/two']) assert.ok(await getManifest({ url: dst.url, ...LOGIN }, repo, 'v1'), repo);
    noSecret(r);
  });

  test('plan --enqueue into a fresh SWR account creates the organization before enqueueing; work then pushes without a refusal', async () => {
    const q = await sqs.createQueuePair('pf-plan');
    const file = config('plan.yaml', rule('app/one:v1', 'planned'));
    const plan = await cli(['plan', '--enqueue', '--config', file, '--queue-url', q.queueUrl]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /plan: 1 message\(s\) enqueued on /);
    assert.equal(posts(), 1);
    assert.ok(state.orgs.has('planned'), 'created by plan --enqueue, before any copier runs');
    const work = await cli(['work', '--config', file, '--queue-url', q.queueUrl, '--until-empty']);
    assert.equal(work.code, 0, work.stdout + work.stderr);
    assert.match(work.stdout, /^work: 1 image\(s\): 1 copied/m);
    assert.equal(swr.refused.noOrg, 0);
    assert.ok(await getManifest({ url: dst.url, ...LOGIN }, 'planned/one', 'v1'));
    noSecret(plan);
  });

  test('bad SWR names: both commands list every one, exit 2, and send nothing to the queue, the API or the registry', async () => {
    const q = await sqs.createQueuePair('pf-names');
    const file = config('names.yaml', rule('app/one:v1', '9team') + rule('app/two:v1', 'team', '    name: my__app\n'));
    for (const args of [['sync', '--config', file, '--queue-url', q.queueUrl], ['plan', '--enqueue', '--config', file, '--queue-url', q.queueUrl]]) {
      const mark = dst.mark();
      const r = await cli(args);
      await dst.settle();
      assert.equal(r.code, 2, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /2 SWR destination name\(s\) break SWR's naming rules; rename them in the config/);
      assert.match(r.stderr, /9team\/one: SWR name "9team": an organization name starts with a lowercase letter/);
      assert.match(r.stderr, /team\/my__app: SWR name "my__app": a repository name has no two separators in a row/);
      assert.equal(await waiting(q.queueUrl), 0, `${args[0]} sent nothing to the queue`);
      assert.equal(await waiting(q.dlqUrl), 0, `${args[0]} sent nothing to the DLQ`);
      assert.equal(api.requests.length, 0);
      assert.equal(dst.requestsSince(mark).length, 0);
    }
  });

  test('an exhausted quota stops both commands with SWRM_SWR_ORG_QUOTA (exit 1) before anything is sent', async () => {
    state.quotaLimit = 1;
    state.orgs.set('existing', { auth: 7, mine: true });
    try {
      const q = await sqs.createQueuePair('pf-quota');
      const file = config('quota.yaml', rule('app/one:v1', 'qa') + rule('app/two:v1', 'qb'));
      for (const args of [['sync', '--config', file, '--queue-url', q.queueUrl], ['plan', '--enqueue', '--config', file, '--queue-url', q.queueUrl]]) {
        const r = await cli(args);
        assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /needs 2 new organization\(s\) \(qa, qb\) but 0 can be created \(limit 1\).*\[SWRM_SWR_ORG_QUOTA\]/);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.equal(await waiting(q.queueUrl), 0, `${args[0]} sent nothing`);
        assert.equal(posts(), 0);
      }
    } finally {
      state.quotaLimit = 5;
    }
  });
});
