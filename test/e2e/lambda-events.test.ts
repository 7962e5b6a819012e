// Issue 16 on Lambda: the receiver function (lib/lambda/receiver.ts, as functions/receiver.ts builds
// it) behind a function URL, with the copier handler on local-aws-sqs and the state table on
// dynalite. A forged webhook enqueues nothing; a burst of 50 events for one repository is one
// delayed re-check; the copier then copies exactly what the rule selects for that repository.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { type FunctionUrlEvent, receiverFromEnv } from '../../lib/lambda/receiver.js';
import { createLogger } from '../../lib/log.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { type LambdaStage, startLambdaStage } from '../helpers/lambda-stage.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext } from '../helpers/sqs-events.js';

const HARBOR_SECRET = 'harbor-webhook-secret-0123456789';
const GITHUB_SECRET = 'github-webhook-secret-0123456789';
const STATE_TABLE = 'events-state';

describe('Lambda: webhook receiver -> re-check -> copier', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let stage: LambdaStage;
  let env: Record<string, string>;
  const logger = createLogger('silent');
  const queue = () => stage.queue;

  before(async () => {
    [src, dst, stage] = await Promise.all([startRegistry(), startRegistry(), startLambdaStage('lambda-events', { stateTable: STATE_TABLE })]);
    await pushImage(src, 'team/app', 'v1', { format: 'docker', layers: [randomLayer(2_000)] });
    await pushImage(src, 'team/other', 'v1', { format: 'docker', layers: [randomLayer(2_000)] });
    await pushImage(src, 'gh/tool', 'v3', { format: 'docker', layers: [randomLayer(2_000)] });
    const config = writeFile(
      tempDir('swrm-lambda-events-'),
      'config.yaml',
      `version: 1
defaults: { retries: 1 }
events:
  harbor: { secret: "${HARBOR_SECRET}" }
  github: { secret: "${GITHUB_SECRET}" }
  windowSeconds: 1
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${src.host}/team/*
    destination: ${dst.host}/mirror
  - source: ${src.host}/gh/tool:v3
    destination: ${dst.host}/gh
`,
    );
    env = stage.env(config);
  });
  after(async () => {
    await stage?.stop();
    await stopAll();
  });

  const harborPush = (repo: string, tag: string) =>
    JSON.stringify({
      type: 'PUSH_ARTIFACT',
      occur_at: Math.floor(Date.now() / 1000),
      operator: 'admin',
      event_data: {
        resources: [{ digest: `sha256:${'a'.repeat(64)}`, tag, resource_url: `${src.host}/${repo}:${tag}` }],
        repository: { date_created: 1, name: repo.split('/')[1], namespace: repo.split('/')[0], repo_full_name: repo, repo_type: 'private' },
      },
    });
  const urlEvent = (path: string, body: string, headers: Record<string, string>): FunctionUrlEvent => ({
    rawPath: path,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
    requestContext: { http: { method: 'POST' } },
  });

  test('forged requests are refused and enqueue nothing', async () => {
    const receiver = receiverFromEnv({ env, handlerDir: '/nonexistent', queues: stage.queues, logger });
    const body = harborPush('team/app', 'v1');
    const wrong = await receiver(urlEvent('/hooks/harbor', body, { authorization: 'Bearer not-the-secret-at-all' }), lambdaContext(10_000));
    assert.equal(wrong.statusCode, 401);
    assert.doesNotMatch(wrong.body, /not-the-secret|harbor-webhook-secret/);
    const missing = await receiver(urlEvent('/hooks/harbor', body, {}), lambdaContext(10_000));
    assert.equal(missing.statusCode, 401);
    const malformed = await receiver(urlEvent('/hooks/harbor', '{"type":', { authorization: HARBOR_SECRET }), lambdaContext(10_000));
    assert.equal(malformed.statusCode, 400);
    const gh = JSON.stringify({ action: 'published', package: { name: 'tool', package_type: 'CONTAINER', owner: { login: 'gh' } } });
    const badSig = await receiver(urlEvent('/hooks/github', gh, { 'x-github-event': 'package', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }), lambdaContext(10_000));
    assert.equal(badSig.statusCode, 401);
    assert.deepEqual(await queue().counts(), { visible: 0, inFlight: 0, delayed: 0 });
    assert.equal(await getManifest(dst, 'mirror/team/app', 'v1').catch(() => undefined), undefined);
  });

  test('a burst of 50 pushes to one repository is one delayed re-check; the copier copies what the rule selects', async () => {
    const receiver = receiverFromEnv({ env, handlerDir: '/nonexistent', queues: stage.queues, logger });
    await pushImage(src, 'team/app', 'v2', { format: 'docker', layers: [randomLayer(2_000)] });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => receiver(urlEvent('/hooks/harbor', harborPush('team/app', i % 2 ? 'v1' : 'v2'), { authorization: `Bearer ${HARBOR_SECRET}` }), lambdaContext(10_000))),
    );
    assert.ok(answers.every((a) => a.statusCode === 202), answers.map((a) => a.statusCode).join(','));
    const sent = answers.map((a) => (JSON.parse(a.body) as { accepted: number }).accepted).reduce((x, y) => x + y, 0);
    assert.equal(sent, 1, 'one re-check for the burst');
    const c = await queue().counts();
    assert.equal(c.visible + c.delayed, 1, `one message, delayed by the window: ${JSON.stringify(c)}`);

    const started = Date.now();
    const batches = await stage.drain(env, logger);
    // The recheck's batch lists the repository and sends the copies; the next batch copies them.
    assert.ok(batches <= 2, `${batches} copier batches from the event to the images`);
    assert.ok(await getManifest(dst, 'mirror/team/app', 'v1'), 'v1 copied');
    assert.ok(await getManifest(dst, 'mirror/team/app', 'v2'), 'v2 copied');
    // Only the repository the event named: the other one under the same rule waits for the schedule.
    assert.equal(await getManifest(dst, 'mirror/team/other', 'v1').catch(() => undefined), undefined);
    process.stderr.write(`lambda events: ${batches} copier batches, ${Date.now() - started} ms from the event's window to the images\n`);
  });

  test('a GitHub package event signed with the secret, for a repository no rule covers: accepted, ignored, nothing enqueued', async () => {
    const receiver = receiverFromEnv({ env, handlerDir: '/nonexistent', queues: stage.queues, logger });
    // The registry host GitHub names is ghcr.io: our rules' sources are local registries, so no rule
    // covers it: a valid, signed event that is counted and ignored.
    const gh = JSON.stringify({ action: 'published', package: { name: 'tool', package_type: 'CONTAINER', owner: { login: 'gh' }, package_version: { container_metadata: { tag: { name: 'v3' } } } } });
    const sig = `sha256=${createHmac('sha256', GITHUB_SECRET).update(gh).digest('hex')}`;
    const ok = await receiver(urlEvent('/hooks/github', gh, { 'x-github-event': 'package', 'x-hub-signature-256': sig, 'x-github-delivery': 'd-1' }), lambdaContext(10_000));
    assert.equal(ok.statusCode, 202);
    // ghcr.io/gh/tool is no rule's source: ignored at the receiver, counted, nothing enqueued.
    assert.deepEqual(JSON.parse(ok.body), { accepted: 0, merged: 0, ignored: 1 });
    assert.deepEqual(await queue().counts(), { visible: 0, inFlight: 0, delayed: 0 });
    await stage.drain(env, logger);
    assert.equal(await getManifest(dst, 'gh/tool', 'v3').catch(() => undefined), undefined, 'ghcr.io/gh/tool is no rule\'s source: nothing copied');
    assert.equal((await (await queue().deadLetters()).list()).length, 0, 'an uncovered repository is ignored, not dead-lettered');
  });
});
