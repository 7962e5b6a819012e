// Issue 14, item 5: `work --queue-url URL` without --until-empty runs until SIGINT/SIGTERM, as the
// README says, long-polling an empty queue; it used to exit at once with `0 image(s)`. Through the
// built CLI against local-aws-sqs and real registries: started on an empty queue it keeps running, a
// message sent meanwhile is copied, SIGTERM exits 143 and SIGINT 130, and a message being copied at
// the signal goes back on the queue at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { CLI } from '../helpers/run-cli.js';
import { startProxy } from '../helpers/proxy.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { encodeMessage } from '../../lib/queue/messages.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running {
  child: ChildProcess;
  exited: Promise<number>;
  out: () => { stdout: string; stderr: string };
}

describe('work --queue-url runs until a signal', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let sqs: SqsServerHandle;
  let dir: string;
  let awsEnv: Record<string, string>;
  const children: ChildProcess[] = [];
  before(async () => {
    [src, dst, sqs] = await Promise.all([startRegistry(), startRegistry(), startSqsServer()]);
    dir = tempDir('swrm-work-signal-');
    awsEnv = {
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ACCESS_KEY_ID: 'test-access-key',
      AWS_SECRET_ACCESS_KEY: 'test-secret-key',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await sqs?.stop();
    await stopAll();
  });

  function work(args: string[]): Running {
    const child = spawn(process.execPath, [CLI, 'work', ...args], { env: { ...process.env, ...awsEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    return { child, exited, out: () => ({ stdout, stderr }) };
  }
  const running = (r: Running) => r.child.exitCode === null && r.child.signalCode === null;
  const auth = () => writeFile(dir, 'auth.json', { [src.host]: { insecure: true }, [dst.host]: { insecure: true } });

  test('on an empty queue it keeps running; a message sent meanwhile is copied; SIGTERM exits 143', async () => {
    const img = await pushImage(src, 'later/app', 'v1', { format: 'oci', layers: [randomLayer(20_000)] });
    const q = await sqs.createQueuePair('work-forever');
    const queue = new SqsWorkQueue({ queueUrl: q.queueUrl, client: sqs.client });
    const w = work(['--auth', auth(), '--queue-url', q.queueUrl, '--proc', '2']);
    // Longer than a start-up, a first empty receive and the old exit.
    await sleep(4000);
    assert.ok(running(w), `work exited on an empty queue: ${JSON.stringify(w.out())}`);

    await queue.send([encodeMessage({ v: 1, kind: 'copy-image', source: `${src.host}/later/app:v1`, destination: `${dst.host}/later/app:v1` })]);
    let copied;
    for (let i = 0; i < 150 && !(copied = await getManifest(dst, 'later/app', 'v1')); i++) await sleep(100);
    assert.equal(copied?.digest, img.digest, 'the message sent to the running worker was copied');
    for (let i = 0; i < 50 && (await queue.counts()).inFlight > 0; i++) await sleep(100);
    assert.deepEqual(await queue.counts(), { visible: 0, inFlight: 0, delayed: 0 }, 'settled');
    assert.ok(running(w), 'still running after the copy');

    w.child.kill('SIGTERM');
    assert.equal(await w.exited, 143, w.out().stderr);
    assert.match(w.out().stdout, /^work: 1 image\(s\): 1 copied/m);
  });

  // With two workers one is idle in a 20 s long poll when the signal comes. Aborting it closes only
  // our side: SQS (local-aws-sqs too) would hand the released message to that dead poll and hide it
  // for the whole visibility timeout. So it is released once the abandoned poll has run out.
  test('SIGINT while a copy runs: exit 130, and the message comes back once the aborted long polls have run out, not after its visibility timeout', async (t) => {
    await pushImage(src, 'slowwork/app', 'v1', { format: 'oci', layers: [randomLayer(1024 * 1024)] });
    // Blob bodies trickle (64 KiB every 100 ms: about 1.6 s), so the copy is still running.
    const slow = await startProxy(src, { trickleBlobs: { bytes: 64 * 1024, everyMs: 100 } });
    try {
      const q = await sqs.createQueuePair('work-sigint', { visibilityTimeoutS: 60 });
      const queue = new SqsWorkQueue({ queueUrl: q.queueUrl, client: sqs.client });
      const file = writeFile(dir, 'slow-auth.json', { [slow.host]: { insecure: true }, [dst.host]: { insecure: true } });
      const w = work(['--auth', file, '--queue-url', q.queueUrl, '--proc', '2']);
      await queue.send([encodeMessage({ v: 1, kind: 'copy-image', source: `${slow.host}/slowwork/app:v1`, destination: `${dst.host}/slowwork/app:v1` })]);
      for (let i = 0; i < 100 && (await queue.counts()).inFlight < 1; i++) await sleep(50);
      assert.equal((await queue.counts()).inFlight, 1, 'the copy started');
      w.child.kill('SIGINT');
      const signalled = Date.now();
      assert.equal(await w.exited, 130, w.out().stderr);
      assert.match(w.out().stdout, /interrupted: unfinished messages stay on /);
      // Back within the 20 s poll (and a margin), well before the 60 s visibility timeout.
      // (local-aws-sqs counts a message in flight as visible too: inFlight is what tells.)
      for (let i = 0; i < 300 && (await queue.counts()).inFlight > 0; i++) await sleep(100);
      const back = Date.now() - signalled;
      assert.deepEqual(await queue.counts(), { visible: 1, inFlight: 0, delayed: 0 }, `after ${back} ms`);
      assert.ok(back < 30_000, `came back after ${back} ms`);
      t.diagnostic(`visible again ${back} ms after the signal`);
      assert.equal(await getManifest(dst, 'slowwork/app', 'v1'), undefined);
      assert.equal((await new SqsWorkQueue({ queueUrl: q.dlqUrl, client: sqs.client }).counts()).visible, 0, 'nothing dead-lettered');
    } finally {
      await slow.stop();
    }
  });
});
