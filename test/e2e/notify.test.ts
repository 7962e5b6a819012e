// Issue 16, item 5: `sync` says how its run ended, once, where the config's `notify` says: an SNS
// topic (a stand-in speaking the Query API's Publish, reached through AWS_ENDPOINT_URL_SNS as the
// SDK reads it) and a Slack-compatible webhook (a stand-in on 127.0.0.1). A failed run: one Publish
// with status=failed and one POST; a clean run with `on: failure`: nothing; with `on: always`: one
// with status=ok. A webhook that answers 500 or cannot be reached is a warning (SWRM_NOTIFY) and
// leaves the exit code alone. The webhook's URL (a secret) never appears in any output.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { type SnsServerHandle, startSnsServer } from '../helpers/sns-server.js';
import { type WebhookServerHandle, startWebhookServer } from '../helpers/webhook-server.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:swrm-runs';
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'test-access-key', AWS_SECRET_ACCESS_KEY: 'test-secret-key', AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('sync notifies its run summary', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let sns: SnsServerHandle;
  let hook: WebhookServerHandle;
  const dir = tempDir('swrm-notify-');

  before(async () => {
    [src, dst, sns, hook] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' }), startSnsServer({ topics: [TOPIC] }), startWebhookServer()]);
    await pushImage(src, 'apps/a', 'v1', { format: 'docker', layers: [randomLayer(2_000)] });
    await pushImage(src, 'apps/b', 'v1', { format: 'docker', layers: [randomLayer(2_000)] });
  });
  after(async () => {
    await Promise.all([sns?.stop(), hook?.stop()]);
    await stopAll();
  });

  function config(name: string, notify: string, ghost: boolean): string {
    return writeFile(
      dir,
      `${name}.yaml`,
      `version: 1
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
notify:
${notify}
rules:
  - { source: "${src.host}/apps/a:v1", destination: "${dst.host}/${name}" }
  - { source: "${src.host}/apps/b:v1", destination: "${dst.host}/${name}" }
${ghost ? `  - { source: "${src.host}/apps/ghost:v1", destination: "${dst.host}/${name}" }\n` : ''}`,
    );
  }

  async function sync(name: string, notify: string, ghost = false) {
    sns.published.length = 0;
    hook.posts.length = 0;
    const file = config(name, notify, ghost);
    const r = await runCli(['sync', '--config', file, '--dlq', join(dir, `${name}.dlq.jsonl`), '--retries', '0', '--log-level', 'info'], { ...AWS_ENV, AWS_ENDPOINT_URL_SNS: sns.url });
    assert.ok(!`${r.stdout}${r.stderr}`.includes(hook.secret), 'the webhook URL appears in the output');
    assert.ok(!`${r.stdout}${r.stderr}`.includes('/services/T000'), 'the webhook path appears in the output');
    return r;
  }

  test('a run with a failure: one SNS publish with status=failed and one webhook POST', async () => {
    const r = await sync('failed', `  sns: "${TOPIC}"\n  webhook: "${hook.url}"`, true);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(sns.published.length, 1, r.stderr);
    const p = sns.published[0]!;
    assert.equal(p.topicArn, TOPIC);
    assert.deepEqual(p.attributes.status, { dataType: 'String', value: 'failed' });
    assert.match(p.attributes.run?.value ?? '', /^\d{8}T\d{9}Z-[0-9a-f]{6}$/);
    assert.match(p.message, /^swr-migrate run \S+: 2 copied, 1 failed, [\d.]+ KiB, [\d.]+ (ms|s)\nMANIFEST_UNKNOWN x 1\n {2}\S+apps\/ghost:v1 -> \S+failed\/ghost:v1: /);
    assert.equal(p.subject, p.message.split('\n')[0]);
    assert.equal(hook.posts.length, 1);
    assert.equal(hook.posts[0]!.contentType, 'application/json');
    assert.equal(hook.posts[0]!.body.text, p.message);
    assert.ok(Array.isArray(hook.posts[0]!.body.blocks));
  });

  test('a clean run with on: failure sends nothing; with on: always one with status=ok', async () => {
    const quiet = await sync('quiet', `  on: failure\n  sns: "${TOPIC}"\n  webhook: "${hook.url}"`);
    assert.equal(quiet.code, 0, quiet.stdout + quiet.stderr);
    assert.equal(sns.published.length + hook.posts.length, 0);
    assert.deepEqual(sns.actions.filter((a) => a !== 'Publish'), []);
    const always = await sync('always', `  on: always\n  sns: "${TOPIC}"\n  webhook: "${hook.url}"`);
    assert.equal(always.code, 0, always.stdout + always.stderr);
    assert.equal(sns.published.length, 1);
    assert.equal(sns.published[0]!.attributes.status?.value, 'ok');
    assert.match(sns.published[0]!.message, /^swr-migrate run \S+: 2 copied, 0 failed, /);
    assert.equal(hook.posts.length, 1);
  });

  test('a webhook that answers 500, or cannot be reached, is a warning; the exit code is the run\'s', async () => {
    hook.status = 500;
    try {
      const r = await sync('hook500', `  on: always\n  webhook: "${hook.url}"`);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(hook.posts.length, 2, 'one retry, no more');
      assert.match(r.stderr, new RegExp(`warning: the notify webhook at 127\\.0\\.0\\.1:\\d+ answered 500 \\[SWRM_NOTIFY\\]`));
      const failed = await sync('hook500f', `  on: always\n  webhook: "${hook.url}"`, true);
      assert.equal(failed.code, 1, 'a failed run stays failed');
    } finally {
      hook.status = 200;
    }
    const gone = `http://127.0.0.1:${await closedPort()}/services/T000/B000/${hook.secret}`;
    const r = await sync('hookdown', `  on: always\n  webhook: "${gone}"\n  sns: "arn:aws:sns:us-east-1:123456789012:no-such-topic"`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /warning: cannot reach the notify webhook at 127\.0\.0\.1:\d+ \(ECONNREFUSED\) \[SWRM_NOTIFY\]/);
    assert.match(r.stderr, /warning: cannot publish the run summary to arn:aws:sns:us-east-1:123456789012:no-such-topic: .*Topic does not exist.* \[SWRM_NOTIFY\]/);
    // A redirect is not a delivery, and is not followed.
    hook.status = 302;
    try {
      const redirected = await sync('hook302', `  on: always\n  webhook: "${hook.url}"`);
      assert.equal(redirected.code, 0);
      assert.equal(hook.posts.length, 1);
      assert.match(redirected.stderr, /answered 302 \(a redirect, not followed\) \[SWRM_NOTIFY\]/);
    } finally {
      hook.status = 200;
    }
  });
});
