// Failures through the whole pipeline with a native config: a missing source lands in the DLQ while
// the rest succeeds, replay recovers it once it exists, a bad config lists every problem, and
// Ctrl-C keeps unfinished images replayable without a half-written report.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getManifest, pushImage, randomLayer, streamLayerTo } from '../helpers/push.js';
import { CLI, runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile, readLetters } from '../helpers/files.js';

const letters = readLetters;

describe('DLQ and replay', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'basic' })]);
    dir = tempDir();
  });
  after(stopAll);

  const config = (rules: string) =>
    writeFile(
      dir,
      `sync-${Math.random().toString(36).slice(2)}.yaml`,
      `version: 1
defaults: { concurrency: 3, retries: 1 }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true, username: "\${env:DST_USER}", password: "\${env:DST_PASS}" }
rules:
${rules}`,
    );

  test('a missing source goes to the DLQ while the others succeed; replay recovers it', async () => {
    const good = await pushImage(src, 'app/good', 'v1', { format: 'oci', layers: [randomLayer(50_000)] });
    const file = config(`  - source: ${src.host}/app/good:v1
    destination: ${dst.host}/mirror
  - source: ${src.host}/app/ghost:v1
    destination: ${dst.host}/mirror
  - source: ${src.host}/app/phantom
    destination: ${dst.host}/mirror
    tags: { include: ["^v"] }
`);
    const env = { DST_USER: dst.username!, DST_PASS: dst.password! };
    const dlq = join(dir, 'dlq-missing.jsonl');
    const r = await runCli(['sync', '--config', file, '--dlq', dlq], env);
    assert.equal(r.code, 1, r.stderr);
    // ghost is an image; phantom is a rule (a repository to list), counted apart from images.
    assert.match(r.stdout, /2 image\(s\): 1 copied, 0 already present, 1 failed; rules: 1 could not be listed/);
    assert.match(r.stdout, /failures: (MANIFEST_UNKNOWN|NAME_UNKNOWN) x \d/);
    assert.match(r.stdout, /swr-migrate replay/);
    assert.equal((await getManifest(dst, 'mirror/good', 'v1'))?.digest, good.digest);
    const dead = letters(dlq);
    assert.equal(dead.length, 2);
    const ghost = dead.find((l) => l.body.includes('ghost'));
    const phantom = dead.find((l) => l.body.includes('phantom'));
    assert.match(ghost?.reason.code ?? '', /MANIFEST_UNKNOWN|NAME_UNKNOWN/);
    assert.match(phantom?.body ?? '', /expand-repository/);
    assert.doesNotMatch(readFileSync(dlq, 'utf8'), new RegExp(dst.password!), 'a secret reached the DLQ');

    // Still missing: replay keeps them, with the reason, and exits 1.
    const early = await runCli(['replay', '--config', file, '--dlq', dlq], env);
    assert.equal(early.code, 1);
    assert.equal(letters(dlq).length, 2);

    const ghostImg = await pushImage(src, 'app/ghost', 'v1', { format: 'docker', layers: [randomLayer(30_000)] });
    const phantomImg = await pushImage(src, 'app/phantom', 'v7', { format: 'docker', layers: [randomLayer(30_000)] });
    await pushImage(src, 'app/phantom', 'skip-me', { format: 'docker', layers: [randomLayer(1000)] });
    const replay = await runCli(['replay', '--config', file, '--dlq', dlq], env);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /2 recovered, 0 still in the DLQ/);
    assert.deepEqual(letters(dlq), []);
    assert.equal((await getManifest(dst, 'mirror/ghost', 'v1'))?.digest, ghostImg.digest);
    assert.equal((await getManifest(dst, 'mirror/phantom', 'v7'))?.digest, phantomImg.digest);
    assert.equal(await getManifest(dst, 'mirror/phantom', 'skip-me'), undefined, 'the tag filter was lost on replay');
    const empty = await runCli(['replay', '--config', file, '--dlq', dlq], env);
    assert.equal(empty.code, 0);
    assert.match(empty.stdout, /nothing to do/);
  });

  test('an invalid config exits 2 and lists each problem', async () => {
    const bad = writeFile(
      dir,
      'bad.yaml',
      `version: 1
defaults: { concurrency: 0 }
registries:
  "${src.host}": { insecure: "yes" }
rules:
  - source: "Not A Ref"
    destination: ${dst.host}/mirror
    colour: blue
`,
    );
    const r = await runCli(['sync', '--config', bad]);
    assert.equal(r.code, 2);
    for (const where of ['defaults.concurrency', 'insecure', 'rules[0].source', 'colour']) {
      assert.ok(r.stderr.includes(where), `no problem reported at ${where}:\n${r.stderr}`);
    }
    assert.ok(r.stderr.includes('bad.yaml'));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const v2 = await runCli(['sync', '--config', writeFile(dir, 'v2.yaml', 'version: 2\nrules: []\n')]);
    assert.equal(v2.code, 2);
    assert.match(v2.stderr, /v2\.yaml:1:10: version: .*1/);
    const both = await runCli(['sync', '--config', bad, '--images', bad]);
    assert.equal(both.code, 2);
    const neither = await runCli(['sync']);
    assert.equal(neither.code, 2);
    // Nowhere to put failures: refused before anything is copied.
    const good = config(`  - source: ${src.host}/app/good:v1\n    destination: ${dst.host}/mirror\n`);
    const noDlq = await runCli(['sync', '--config', good, '--dlq', dir], { DST_USER: 'x', DST_PASS: 'y' });
    assert.equal(noDlq.code, 2);
    assert.match(noDlq.stderr, /cannot write .* \(it is a directory\); choose another path with --dlq/);
  });

  test('Ctrl-C stops cleanly: unfinished images stay replayable, no half-written report', async () => {
    const big = await streamLayerTo(src, 'slow/big', 48 * 1024 * 1024);
    for (const tag of ['a', 'b', 'c']) await pushImage(src, 'slow/big', tag, { format: 'oci', layers: [big, randomLayer(10_000)] });
    const file = config(`  - source: ${src.host}/slow/big
    destination: ${dst.host}/slowmirror
`);
    const dlq = join(dir, 'dlq-int.jsonl');
    const report = join(dir, 'int-report.json');
    const child = spawn(process.execPath, [CLI, 'sync', '--config', file, '--dlq', dlq, '--report', report, '--proc', '1', '--log-level', 'info'], {
      env: { ...process.env, DST_USER: dst.username!, DST_PASS: dst.password! },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const started = new Promise<void>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/blob uploaded|"size":/.test(stderr) || /manifest HEAD/.test(stderr)) resolve();
      }),
    );
    await Promise.race([started, new Promise((r) => setTimeout(r, 1500))]);
    child.kill('SIGINT');
    const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    assert.equal(code, 130, stderr);
    assert.match(stdout, /interrupted: \d+ unfinished or not started kept in/);
    const dead = letters(dlq);
    assert.ok(dead.length >= 1, 'nothing kept for replay');
    assert.ok(dead.every((l) => l.reason.code === 'SWRM_INTERRUPTED' || l.reason.code === 'SWRM_NOT_STARTED'));
    if (existsSync(report)) JSON.parse(readFileSync(report, 'utf8'));
    const replay = await runCli(['replay', '--config', file, '--dlq', dlq], { DST_USER: dst.username!, DST_PASS: dst.password! });
    assert.equal(replay.code, 0, replay.stderr);
    for (const tag of ['a', 'b', 'c']) assert.ok(await getManifest(dst, 'slowmirror/big', tag), `tag ${tag} missing after replay`);
  });
});
