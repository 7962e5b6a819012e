// Issue 13 items 5 and 6 through the CLI: an image whose name holds a key word
// (`thomseddon/traefik-forward-auth:2.2`) keeps its name in the logs and the DLQ, a re-failure
// replaces its letter instead of adding a second, and replay counts each letter once when the DLQ
// holds duplicates (as an older version left them): N letters in, N accounted for.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile, readLetters } from '../helpers/files.js';
import { startSqsServer } from '../helpers/sqs-server.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { encodeMessage } from '../../lib/queue/messages.js';

const letters = readLetters;

describe('DLQ: one letter per image, names intact, replay counts each letter once', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'basic' })]);
    dir = tempDir();
  });
  after(stopAll);

  test('sync twice, seed duplicates, replay while missing, then replay once it exists', async () => {
    const source = `${src.host}/thomseddon/traefik-forward-auth:2.2`;
    const destination = `${dst.host}/mirror/traefik-forward-auth:2.2`;
    const config = writeFile(
      dir,
      'sync.yaml',
      `version: 1
defaults: { concurrency: 2, retries: 0 }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true, username: "\${env:DST_USER}", password: "\${env:DST_PASS}" }
rules:
  - source: ${source}
    destination: ${dst.host}/mirror
`,
    );
    const env = { DST_USER: dst.username!, DST_PASS: dst.password! };
    const dlq = join(dir, 'dlq.jsonl');

    const first = await runCli(['sync', '--config', config, '--dlq', dlq, '--log-level', 'info'], env);
    assert.equal(first.code, 1, first.stderr);
    const logged = first.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; source?: string; destination?: string })
      .find((l) => l.msg === 'image failed, sent to the DLQ');
    assert.ok(logged, first.stderr);
    assert.equal(logged.source, source);
    assert.equal(logged.destination, destination);
    assert.doesNotMatch(first.stderr + first.stdout, /\[redacted\]/);
    const [stored] = letters(dlq);
    const body = stored!.body;
    const message = JSON.parse(body) as { kind: string; source: string; destination: string };
    assert.deepEqual([message.kind, message.source, message.destination], ['copy-image', source, destination]);

    // The same image fails again: its letter is replaced, not doubled.
    const second = await runCli(['sync', '--config', config, '--dlq', dlq], env);
    assert.equal(second.code, 1, second.stderr);
    const again = letters(dlq);
    assert.equal(again.length, 1);
    assert.notEqual(again[0]!.id, stored!.id, 'the newer letter replaced the older one');
    assert.equal(again[0]!.body, body);

    // Duplicates as an older version left them: the same body again, and the same image under another rule.
    const other = JSON.stringify({ ...(JSON.parse(body) as object), origin: 'rules[9]' });
    const seed = (b: string, at: string) => `${JSON.stringify({ id: `seed-${at}`, body: b, receiveCount: 1, reason: { code: 'MANIFEST_UNKNOWN', message: 'old' }, at })}\n`;
    appendFileSync(dlq, seed(body, '2020-01-01T00:00:00.000Z') + seed(other, '2020-01-02T00:00:00.000Z'));
    assert.equal(letters(dlq).length, 3);

    const early = await runCli(['replay', '--config', config, '--dlq', dlq], env);
    assert.equal(early.code, 1, early.stderr);
    assert.match(early.stdout, /replay: 3 message\(s\) from .*: 0 recovered, 1 still in the DLQ, 2 duplicate\(s\) of the same image merged\n/);
    assert.match(early.stdout, /^replay: 1 image\(s\): 0 copied, 0 already present, 1 failed/m);
    assert.equal(letters(dlq).length, 1);
    assert.equal(letters(dlq)[0]!.body, body, 'the newest letter ran, byte for byte');

    const pushed = await pushImage(src, 'thomseddon/traefik-forward-auth', '2.2', { format: 'oci', layers: [randomLayer(20_000)] });
    appendFileSync(dlq, seed(other, '2020-01-03T00:00:00.000Z'));
    const replay = await runCli(['replay', '--config', config, '--dlq', dlq], env);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /replay: 2 message\(s\) from .*: 1 recovered, 0 still in the DLQ, 1 duplicate\(s\) of the same image merged\n/);
    assert.match(replay.stdout, /^replay: 1 image\(s\): 1 copied, 0 already present, 0 failed/m);
    assert.deepEqual(letters(dlq), []);
    assert.equal((await getManifest(dst, 'mirror/traefik-forward-auth', '2.2'))?.digest, pushed.digest);
  });
});

describe('SQS DLQ through the CLI: status and replay count images', () => {
  test('status says how many images and duplicates it read; replay deletes the duplicates, then moves each image once', async () => {
    const sqs = await startSqsServer();
    try {
      const env = {
        AWS_ENDPOINT_URL_SQS: sqs.endpoint,
        AWS_ACCESS_KEY_ID: 'test-access-key',
        AWS_SECRET_ACCESS_KEY: 'test-secret-key',
        AWS_REGION: 'us-east-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      };
      const q = await sqs.createQueuePair('one-letter');
      const dlq = await new SqsWorkQueue({ queueUrl: q.queueUrl, client: sqs.client }).deadLetters();
      const body = (name: string, origin?: string) => encodeMessage({ v: 1, kind: 'copy-image', source: `r.io/${name}`, destination: `d.io/m/${name.split('/')[1]!}`, ...(origin ? { origin } : {}) });
      // The same image planned by two runs (two rules), and once more; another image once.
      const seeded = [body('thomseddon/traefik-forward-auth:2.2'), body('thomseddon/traefik-forward-auth:2.2', 'rules[1]'), body('thomseddon/traefik-forward-auth:2.2'), body('acme/oauth:3')];
      for (const [i, b] of seeded.entries()) {
        await dlq.add({ id: `s${i}`, body: b, receiveCount: 1, reason: { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }, at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() });
      }
      const status = await runCli(['status', '--queue-url', q.queueUrl], env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /-dlq: 4 message\(s\); 4 read: 2 image\(s\), 2 duplicate\(s\) of the same image\n/);
      assert.match(status.stdout, /MANIFEST_UNKNOWN x 2: /);
      const json = JSON.parse((await runCli(['status', '--queue-url', q.queueUrl, '--json'], env)).stdout) as { dlq: { read: number; images: number; duplicates: number } };
      assert.deepEqual([json.dlq.read, json.dlq.images, json.dlq.duplicates], [4, 2, 2]);

      const replay = await runCli(['replay', '--queue-url', q.queueUrl], env);
      assert.equal(replay.code, 0, replay.stderr);
      assert.match(replay.stdout, /replay: moved 2 (of 2 )?message\(s\) .* \(COMPLETED\); 2 duplicate letter\(s\) of the same image deleted first, so each image moved once\n/);
      assert.match((await runCli(['status', '--queue-url', q.queueUrl], env)).stdout, /: 2 visible, 0 in flight, 0 delayed\n.*-dlq: 0 message\(s\)\n/);
    } finally {
      await sqs.stop();
    }
  });
});
