// The whole pipeline through the CLI (planner -> embedded queue -> copiers -> DLQ -> replay) with
// image-syncer's --auth / --images files, against real registries.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type PushedManifest, deleteManifest, getManifest, listTags, pushImage, pushIndex, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH']);

describe('sync with image-syncer files', () => {
  let src: RegistryHandle;
  let dst1: RegistryHandle;
  let dst2: RegistryHandle;
  let dir: string;
  let auth: string;
  let images: string;
  const pushed: Record<string, PushedManifest> = {};
  const env = { SRC_PASS: '', DST_PASS: '' };

  before(async () => {
    [src, dst1, dst2] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'token' }), startRegistry({ auth: 'none' })]);
    env.SRC_PASS = src.password!;
    env.DST_PASS = dst1.password!;
    dir = tempDir();
    const base = randomLayer(200_000);
    const img = (repo: string, tag: string) => pushImage(src, repo, tag, { format: 'docker', layers: [base, randomLayer(20_000)] });
    pushed['all:a'] = await img('e2e/all', 'a');
    pushed['all:b'] = await img('e2e/all', 'b');
    pushed['multi:t1'] = await img('e2e/multi', 't1');
    pushed['multi:t2'] = await img('e2e/multi', 't2');
    pushed['multi:t3'] = await img('e2e/multi', 't3');
    pushed['regex:v1.0'] = await img('e2e/regex', 'v1.0');
    pushed['regex:v1.1'] = await img('e2e/regex', 'v1.1');
    pushed['regex:v2.0'] = await img('e2e/regex', 'v2.0');
    pushed.index = await pushIndex(src, 'e2e/pinned', 'x', {
      format: 'oci',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      layers: [base],
      attestation: true,
    });
    auth = writeFile(
      dir,
      'auth.yaml',
      `${src.host}:\n  username: ${src.username}\n  password: \${SRC_PASS}\n  insecure: true\n` +
        `${dst1.host}:\n  username: ${dst1.username}\n  password: $DST_PASS\n  insecure: true\n` +
        `${dst2.host}:\n  insecure: true\n`,
    );
    images = writeFile(dir, 'images.json', {
      [`${src.host}/e2e/all`]: `${dst1.host}/mirror/all`,
      [`${src.host}/e2e/multi:t1,t2`]: [`${dst1.host}/mirror/multi`, `${dst2.host}/fan/multi`],
      [`${src.host}/e2e/regex:/^v1\\./`]: `${dst2.host}/mirror/regex`,
      [`${src.host}/e2e/pinned@${pushed.index.digest}`]: `${dst1.host}/mirror/pinned:stable`,
    });
  });
  after(stopAll);

  test('every source form, fan-out to two destinations, digests identical', async () => {
    const report = join(dir, 'report.json');
    const dlq = join(dir, 'dlq.jsonl');
    const r = await runCli(['sync', '--auth', auth, '--images', images, '--proc', '4', '--report', report, '--dlq', dlq], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sync: 9 image\(s\): 9 copied, 0 already present, 0 failed/);
    const expect: [RegistryHandle, string, string, PushedManifest][] = [
      [dst1, 'mirror/all', 'a', pushed['all:a']!],
      [dst1, 'mirror/all', 'b', pushed['all:b']!],
      [dst1, 'mirror/multi', 't1', pushed['multi:t1']!],
      [dst1, 'mirror/multi', 't2', pushed['multi:t2']!],
      [dst2, 'fan/multi', 't1', pushed['multi:t1']!],
      [dst2, 'fan/multi', 't2', pushed['multi:t2']!],
      [dst2, 'mirror/regex', 'v1.0', pushed['regex:v1.0']!],
      [dst2, 'mirror/regex', 'v1.1', pushed['regex:v1.1']!],
      [dst1, 'mirror/pinned', 'stable', pushed.index!],
    ];
    for (const [reg, repo, tag, m] of expect) assert.equal((await getManifest(reg, repo, tag))?.digest, m.digest, `${repo}:${tag}`);
    for (const c of pushed.index!.children ?? []) assert.ok(await getManifest(dst1, 'mirror/pinned', c.digest), `child ${c.digest}`);
    assert.deepEqual((await listTags(dst1, 'mirror/multi')).sort(), ['t1', 't2'], 't3 was not asked for');
    assert.deepEqual((await listTags(dst2, 'mirror/regex')).sort(), ['v1.0', 'v1.1'], 'the regex was not applied');
    const rep = JSON.parse(readFileSync(report, 'utf8')) as { summary: { copied: number }; images: { status: string; digest: string }[] };
    assert.equal(rep.summary.copied, 9);
    assert.equal(rep.images.length, 9);
    assert.ok(rep.images.every((i) => i.status === 'copied' && /^sha256:/.test(i.digest)));
    assert.equal(existsSync(dlq), false, 'nothing failed, so no DLQ file');

    // A second sync is a no-op: zero uploads anywhere.
    await Promise.all([dst1.settle(), dst2.settle()]);
    const m1 = dst1.mark();
    const m2 = dst2.mark();
    const again = await runCli(['sync', '--auth', auth, '--images', images, '--dlq', dlq], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /9 image\(s\): 0 copied, 9 already present, 0 failed/);
    await Promise.all([dst1.settle(), dst2.settle()]);
    const writes = [...dst1.requestsSince(m1), ...dst2.requestsSince(m2)].filter((e) => WRITES.has(e.method));
    assert.deepEqual(writes, []);
  });

  test('verify exits 0 after a sync and 1 after a destination tag is deleted', async () => {
    const ok = await runCli(['verify', '--auth', auth, '--images', images], env);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /verify: 9 image\(s\): 9 match, 0 missing, 0 different/);
    await deleteManifest(dst2, 'mirror/regex', pushed['regex:v1.1']!.digest);
    const bad = await runCli(['verify', '--auth', auth, '--images', images], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, new RegExp(`missing\\s+${dst2.host.replace(/\./g, '\\.')}/mirror/regex:v1\\.1`));
    assert.match(bad.stdout, /8 match, 1 missing/);
  });

  test('plan prints the tasks; --json prints valid messages without credentials', async () => {
    const r = await runCli(['plan', '--auth', auth, '--images', images, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; source: string; destination: string });
    assert.equal(lines.length, 9);
    assert.ok(lines.every((l) => l.kind === 'copy-image'));
    assert.doesNotMatch(r.stdout, new RegExp(`${src.password}|${dst1.password}|password`));
  });

  test('a missing credential variable is named, exit 2', async () => {
    const unset = await runCli(['sync', '--auth', writeFile(dir, 'auth2.yaml', `${src.host}:\n  username: u\n  password: \${NOT_SET_ANYWHERE}\n`), '--images', images]);
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /NOT_SET_ANYWHERE/);
    assert.match(unset.stderr, /auth2\.yaml/);
  });
});
