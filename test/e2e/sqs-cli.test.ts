// Issue 7 item 7 through the real CLI: the commands against SQS (local-aws-sqs on 127.0.0.1, reached
// through AWS_ENDPOINT_URL_SQS with dummy credentials) and real registries. sync --queue-url copies
// through the copier handler and exits 1 for a missing source, whose reason status lists; replay
// moves it back; work copies it once it exists; plan --enqueue only enqueues; bad input is one line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { CLI, type CliResult, runCli } from '../helpers/run-cli.js';
import { startProxy } from '../helpers/proxy.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';
import { startAwsSecretsServer } from '../helpers/aws-secrets-server.js';

describe('CLI against SQS (--queue-url)', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let sqs: SqsServerHandle;
  let dir: string;
  let awsEnv: Record<string, string>;
  before(async () => {
    [src, dst, sqs] = await Promise.all([startRegistry(), startRegistry(), startSqsServer()]);
    dir = tempDir('swrm-sqs-cli-');
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

  const cli = (args: string[]): Promise<CliResult> => runCli(args, awsEnv);
  const config = (name: string, rules: string, defaults = 'concurrency: 4, retries: 1') =>
    writeFile(
      dir,
      name,
      `version: 1
defaults: { ${defaults} }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
${rules}`,
    );
  const oneLine = (r: CliResult) => r.stderr.trim().split('\n');

  test('sync copies through the handler, a missing source exits 1 with its reason in the DLQ; replay moves it back and work copies it', async () => {
    const a = await pushImage(src, 'app/a', 'v1', { format: 'oci', layers: [randomLayer(40_000)] });
    const b = await pushImage(src, 'app/b', 'v1', { format: 'docker', layers: [randomLayer(40_000)] });
    await pushImage(src, 'app/b', 'v2', { format: 'docker', layers: [randomLayer(40_000)] });
    const q = await sqs.createQueuePair('cli-sync', { maxReceiveCount: 5 });
    const file = config(
      'sync.yaml',
      `  - source: ${src.host}/app/a:v1
    destination: ${dst.host}/mirror
  - source: ${src.host}/app/b
    destination: ${dst.host}/mirror
  - source: ${src.host}/app/ghost:v1
    destination: ${dst.host}/mirror
`,
    );
    const report = join(dir, 'report.json');
    const sync = await cli(['sync', '--config', file, '--queue-url', q.queueUrl, '--report', report]);
    assert.equal(sync.code, 1, sync.stderr + sync.stdout);
    assert.match(sync.stdout, /^sync: 4 image\(s\): 3 copied, 0 already present, 1 failed/m);
    assert.match(sync.stdout, /MANIFEST_UNKNOWN x 1/);
    assert.match(sync.stdout, new RegExp(`replay --queue-url ${q.queueUrl.replace(/[.?]/g, '\\$&')}`));
    assert.doesNotMatch(sync.stderr, /NodeVersionSupportWarning/);
    assert.equal((await getManifest(dst, 'mirror/a', 'v1'))?.digest, a.digest);
    assert.equal((await getManifest(dst, 'mirror/b', 'v1'))?.digest, b.digest);
    assert.ok(await getManifest(dst, 'mirror/b', 'v2'));
    const entries = (JSON.parse(readFileSync(report, 'utf8')) as { images: { status: string; source: string }[] }).images;
    assert.deepEqual(entries.filter((e) => e.status === 'failed').map((e) => e.source), [`${src.host}/app/ghost:v1`]);

    // status: nothing left on the queue, one letter with its reason, not consumed by looking.
    for (let i = 0; i < 2; i++) {
      const st = await cli(['status', '--queue-url', q.queueUrl]);
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, /: 0 visible, 0 in flight, 0 delayed/);
      assert.match(st.stdout, /-dlq: 1 message\(s\)/);
      assert.match(st.stdout, /MANIFEST_UNKNOWN x 1: e\.g\. .*ghost/);
    }
    const js = JSON.parse((await cli(['status', '--queue-url', q.queueUrl, '--json'])).stdout) as { dlq: { visible: number; reasons: { code: string }[] } };
    assert.equal(js.dlq.visible, 1);
    assert.equal(js.dlq.reasons[0]?.code, 'MANIFEST_UNKNOWN');

    const ghost = await pushImage(src, 'app/ghost', 'v1', { format: 'oci', layers: [randomLayer(30_000)] });
    const replay = await cli(['replay', '--queue-url', q.queueUrl]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /replay: moved 1 (of 1 )?message\(s\) .* \(COMPLETED\)/);
    const moved = await cli(['status', '--queue-url', q.queueUrl]);
    assert.match(moved.stdout, /: 1 visible, 0 in flight/);
    assert.match(moved.stdout, /-dlq: 0 message\(s\)/);

    const work = await cli(['work', '--auth', writeFile(dir, 'auth.json', { [src.host]: { insecure: true }, [dst.host]: { insecure: true } }), '--queue-url', q.queueUrl, '--until-empty']);
    assert.equal(work.code, 0, work.stderr + work.stdout);
    assert.match(work.stdout, /^work: 1 image\(s\): 1 copied/m);
    assert.equal((await getManifest(dst, 'mirror/ghost', 'v1'))?.digest, ghost.digest);
    const again = await cli(['replay', '--queue-url', q.queueUrl]);
    assert.match(again.stdout, /has no messages; nothing to do/);
  });

  test('Ctrl-C: the messages being copied go back on the queue at once, nothing in the DLQ; work finishes them', async () => {
    const layer = randomLayer(1024 * 1024);
    for (const tag of ['v1', 'v2']) await pushImage(src, 'slow/img', tag, { format: 'oci', layers: [layer, randomLayer(5_000)] });
    // Blob bodies trickle (64 KiB every 100 ms: about 1.6 s a layer), so the copies are still running.
    const slow = await startProxy(src, { trickleBlobs: { bytes: 64 * 1024, everyMs: 100 } });
    const q = await sqs.createQueuePair('cli-sigint', { visibilityTimeoutS: 60 });
    const queue = new SqsWorkQueue({ queueUrl: q.queueUrl, client: sqs.client, drainedReadings: 1 });
    const file = writeFile(
      dir,
      'slow.yaml',
      `version: 1
registries:
  "${slow.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${slow.host}/slow/img
    destination: ${dst.host}/slowmirror
`,
    );
    const child = spawn(process.execPath, [CLI, 'sync', '--config', file, '--queue-url', q.queueUrl, '--proc', '2'], { env: { ...process.env, ...awsEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    for (let i = 0; i < 100 && (await queue.counts()).inFlight < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await queue.counts()).inFlight, 2, 'both copies started');
    child.kill('SIGINT');
    assert.equal(await closed, 130, stderr);
    assert.match(stdout, /interrupted: unfinished messages stay on .*work --queue-url/);
    // Visible again at once (not after the 60 s visibility timeout), and not dead-lettered.
    assert.deepEqual(await queue.counts(), { visible: 2, inFlight: 0, delayed: 0 });
    assert.match((await cli(['status', '--queue-url', q.queueUrl])).stdout, /-dlq: 0 message\(s\)/);
    const work = await cli(['work', '--config', file, '--queue-url', q.queueUrl, '--until-empty']);
    assert.equal(work.code, 0, work.stderr);
    assert.match(work.stdout, /^work: 2 image\(s\): 2 copied/m);
    for (const tag of ['v1', 'v2']) assert.ok(await getManifest(dst, 'slowmirror/img', tag), tag);
    await slow.stop();
  });

  test('work answers re-checks from the queue (a receiver\'s, and an ECR EventBridge event as its rule delivers it)', async () => {
    const img = await pushImage(src, 'hook/app', 'h1', { format: 'oci', layers: [randomLayer(20_000)] });
    const q = await sqs.createQueuePair('cli-recheck', { maxReceiveCount: 5 });
    const file = config('recheck.yaml', `  - source: ${src.host}/hook/*\n    destination: ${dst.host}/hooked\n`);
    const queue = new SqsWorkQueue({ queueUrl: q.queueUrl, client: sqs.client });
    await queue.send([
      JSON.stringify({ v: 1, kind: 'recheck', source: `${src.host}/hook/app`, tags: ['h1'], action: 'push', via: 'harbor' }),
      // An ECR event for a repository no rule covers: acknowledged with a note, never the DLQ.
      JSON.stringify({ version: '0', id: 'e-1', 'detail-type': 'ECR Image Action', source: 'aws.ecr', account: '123456789012', region: 'us-east-1', time: '2026-12-07T00:00:00Z', resources: [], detail: { result: 'SUCCESS', 'repository-name': 'other', 'action-type': 'PUSH', 'image-tag': 'v1' } }),
    ]);
    const work = await cli(['work', '--config', file, '--queue-url', q.queueUrl, '--until-empty']);
    assert.equal(work.code, 0, work.stdout + work.stderr);
    assert.equal((await getManifest(dst, 'hooked/hook/app', 'h1'))?.digest, img.digest, work.stdout + work.stderr);
    assert.deepEqual(await (await queue.deadLetters()).list(), []);

    // A worker given only credentials cannot tell what a recheck covers: it is dead-lettered, to be
    // replayed with the rules, never acknowledged as covered by none.
    const q2 = await sqs.createQueuePair('cli-recheck-bare', { maxReceiveCount: 5 });
    const queue2 = new SqsWorkQueue({ queueUrl: q2.queueUrl, client: sqs.client });
    await queue2.send([JSON.stringify({ v: 1, kind: 'recheck', source: `${src.host}/hook/app`, action: 'push', via: 'harbor' })]);
    const bare = await cli(['work', '--auth', writeFile(dir, 'auth-only.json', { [src.host]: { insecure: true }, [dst.host]: { insecure: true } }), '--queue-url', q2.queueUrl, '--until-empty']);
    assert.equal(bare.code, 1, bare.stdout + bare.stderr);
    const letters = await (await queue2.deadLetters()).list();
    assert.deepEqual(letters.map((l) => l.reason.code), ['SWRM_CONFIG']);
  });

  test('plan --enqueue only enqueues; a second sync finds every image present', async () => {
    await pushImage(src, 'only/x', 'v1', { format: 'oci', layers: [randomLayer(10_000)] });
    const q = await sqs.createQueuePair('cli-plan');
    const file = config('plan.yaml', `  - source: ${src.host}/only/x\n    destination: ${dst.host}/planned\n`);
    const plan = await cli(['plan', '--enqueue', '--config', file, '--queue-url', q.queueUrl]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /plan: 1 message\(s\) enqueued on /);
    assert.equal(await getManifest(dst, 'planned/x', 'v1'), undefined, 'plan --enqueue copies nothing');
    assert.match((await cli(['status', '--queue-url', q.queueUrl])).stdout, /: 1 visible/);
    const noEnqueue = await cli(['plan', '--config', file, '--queue-url', q.queueUrl]);
    assert.equal(noEnqueue.code, 2);
    assert.match(noEnqueue.stderr, /only with --enqueue/);
  });

  test('bad input: a missing queue URL, a queue that does not exist, a queue without a DLQ, --queue-url where it means nothing', async () => {
    const file = config('bad.yaml', `  - source: ${src.host}/app/a:v1\n    destination: ${dst.host}/bad\n`);
    const missing = await cli(['status']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^swr-migrate: status needs --queue-url URL/);
    const work = await cli(['work', '--config', file]);
    assert.equal(work.code, 2);
    assert.match(work.stderr, /work needs --queue-url URL/);

    const nowhere = `${sqs.endpoint}/000000000000/no-such-queue`;
    const gone = await cli(['sync', '--config', file, '--queue-url', nowhere]);
    assert.equal(gone.code, 1);
    assert.equal(oneLine(gone).length, 1, gone.stderr);
    assert.match(gone.stderr, /no-such-queue.*\[SWRM_QUEUE\]$/m);

    const lone = await sqs.createQueue('no-dlq');
    for (const args of [['sync', '--config', file], ['status'], ['replay']]) {
      const r = await cli([...args, '--queue-url', lone.queueUrl]);
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      assert.equal(oneLine(r).length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`${lone.queueUrl.replace(/[.?]/g, '\\$&')} has no dead-letter queue .*\\[SWRM_NO_DLQ\\]$`, 'm'));
    }
    assert.equal(await getManifest(dst, 'bad/a', 'v1'), undefined, 'nothing copied without a DLQ');

    for (const args of [['copy', 'a', 'b'], ['verify', '--config', file], ['demo']]) {
      const r = await cli([...args, '--queue-url', lone.queueUrl]);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /Unknown option '--queue-url'/);
    }
    const notUrl = await cli(['status', '--queue-url', 'my-queue']);
    assert.equal(notUrl.code, 2);
    assert.match(notUrl.stderr, /--queue-url must be an SQS queue URL/);
  });

  test('a missing secret names the secret before anything is sent', async () => {
    // The Secrets Manager stand-in on 127.0.0.1 (no request leaves loopback), holding no secret.
    const aws = await startAwsSecretsServer({ secrets: {}, parameters: {} });
    const q = await sqs.createQueuePair('cli-secret');
    const file = writeFile(
      dir,
      'secret.yaml',
      `version: 1
registries:
  "${src.host}": { insecure: true }
  "${dst.host}":
    insecure: true
    username: bot
    password: \${secretsmanager:swrm/no-such-secret}
rules:
  - source: ${src.host}/app/a:v1
    destination: ${dst.host}/secret
`,
    );
    const r = await runCli(['sync', '--config', file, '--queue-url', q.queueUrl], { ...aws.env(), ...awsEnv });
    await aws.stop();
    // A config error (exit 2): the file, the field and the secret, as every config problem is listed.
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /secret\.yaml:\d+:\d+: registries\.[^ ]+\.password: secret "swrm\/no-such-secret" not found in Secrets Manager/);
    assert.match((await cli(['status', '--queue-url', q.queueUrl])).stdout, /: 0 visible, 0 in flight/);
  });
});
