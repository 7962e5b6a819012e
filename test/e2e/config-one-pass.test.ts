// Issue 13, through the CLI as a user runs it: every problem of a config and of the flags that go
// with it in one run (exit 2), each at its file, line and column; an authentication failure names
// the file and flag the credentials came from (never --auth when --config was used, never a
// secret); a warning is the same `warning:` line in plan, sync and verify; verify takes
// --registry/--namespace as sync and plan do. All traffic stays on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('config problems in one pass (no registry needed)', () => {
  const dir = tempDir();

  test('a native config with many kinds of problems, and bad flags: one error, every line, each at its place', async () => {
    const file = writeFile(
      dir,
      'many.yaml',
      [
        '# no version: read as version 1, and said so', //            1 (the mapping starts on line 2)
        'defaults:', //                                              2
        '  concurrency: "lots"', //                                   3 bad YAML type
        '  platforms: [linux-amd64]', //                              4 bad platform
        'registries:', //                                            5
        '  quay.io:', //                                             6
        '    username: robot', //                                    7
        '    password: ${secretmanager:prod/quay}', //                8 bad secret reference
        '    colour: blue', //                                       9 unknown key
        'rules:', //                                                10
        '  - source: quay.io/a/b', //                               11
        '    destination: swr.example.com/Mirror', //               12 bad destination name
        "    tags: { include: ['(('] }", //                          13 bad regex
        '  - source: quay.io/A/c', //                               14 bad source ...
        '    destination: 5', //                                    15 ... next to a bad type
        '    name: c', //                                           16
        '    mapping: path', //                                     17 conflicting naming
        '  - source: quay.io/a/d', //                               18
        '    destination: swr.example.com/m', //                    19
        '  - source: quay.io/a/d', //                               20
        '    destination: swr.example.com/m', //                    21
        '    source: quay.io/a/e', //                               22 duplicate key
      ].join('\n'),
    );
    const r = await runCli(['sync', '--config', file, '--arch', 'amd64,Bad Arch', '--format', 'zip', '--proc', '0', '--registry', 'r.io']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    // One error: one `swr-migrate:` line, then the problems.
    assert.equal(r.stderr.match(/^swr-migrate: /gm)?.length, 1, r.stderr);
    const at = (line: number, col: number, rest: string) => new RegExp(`^  - ${escape(file)}:${line}:${col}: ${rest}`, 'm');
    for (const re of [
      at(22, 5, 'duplicate key "source" under rules\\[3\\] \\(first at line 20\\)'),
      // Placed where the mapping that lacks it begins, below the comment.
      at(2, 1, 'version: required \\(supported versions: 1\\)'),
      at(3, 16, 'defaults\\.concurrency: expected a whole number'),
      at(4, 15, 'defaults\\.platforms\\[0\\]: expected os/arch'),
      at(9, 5, 'registries\\.quay\\.io: Unrecognized key: "colour"'),
      at(8, 15, 'registries\\.quay\\.io\\.password: unknown reference "\\$\\{secretmanager:\\.\\.\\.\\}" \\(did you mean \\$\\{secretsmanager'),
      at(13, 23, 'rules\\[0\\]\\.tags\\.include\\[0\\]: invalid regular expression'),
      at(12, 18, 'rules\\[0\\]\\.destination: invalid image reference .*lowercase'),
      at(15, 18, 'rules\\[1\\]\\.destination: expected registry/namespace'),
      at(14, 13, 'rules\\[1\\]\\.source: .*lowercase'),
      at(14, 5, 'rules\\[1\\]: name and mapping are mutually exclusive'),
      /^  - --proc must be a whole number from 1 to 256, got "0"$/m,
      /^  - --format must be docker .* not "zip"$/m,
      /^  - --os\/--arch: "linux\/Bad Arch": expected os\/arch/m,
      /^  - --registry\/--namespace: .*many\.yaml is a native config/m,
    ]) {
      assert.match(r.stderr, re);
    }
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  test('image-syncer files: auth, images and flag problems together', async () => {
    const auth = writeFile(dir, 'auth.yaml', 'quay.io:\n  username: u\n  password: $NOPE_PASS\nr.io:\n  user: u\n');
    const images = writeFile(dir, 'images.yaml', '"quay.io/a/b:1": ""\n"quay.io/X": r.io/x\n"quay.io/a/b:1": r.io/y\n');
    const r = await runCli(['sync', '--auth', auth, '--images', images, '--arch', 'ARM64'], { DEFAULT_REGISTRY: '', DEFAULT_NAMESPACE: '' });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.match(/^swr-migrate: /gm)?.length, 1, r.stderr);
    for (const re of [
      new RegExp(`${escape(auth)}:3:13: quay\\.io\\.password: environment variable NOPE_PASS is not set`),
      new RegExp(`${escape(auth)}:5:3: r\\.io: Unrecognized key: "user"`),
      new RegExp(`${escape(images)}:3:1: duplicate source "quay.io/a/b:1" \\(first at line 1\\)`),
      new RegExp(`${escape(images)}:2:1: "quay\\.io/X": .*lowercase`),
      /--os\/--arch: "linux\/ARM64"/,
    ]) {
      assert.match(r.stderr, re);
    }
  });

  test('a file that does not parse and a bad flag: both in one run', async () => {
    const file = writeFile(dir, 'broken.yaml', 'version: 1\n# a comment\nrules:\n  - source: "quay.io/a\n    destination: r.io/m\n\n\n');
    const r = await runCli(['sync', '--config', file, '--timeout', '0']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${escape(file)}:4:13: syntax error: this double-quoted string has no closing "`));
    assert.match(r.stderr, /--timeout must be a whole number from 1 to 86400, got "0"/);
  });
});

describe('hints name what the user gave', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  const WRONG = 'wrong-pass-canary-13';

  before(async () => {
    dir = tempDir();
    [src, dst] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry()]);
    await pushImage(src, 'team/app', 'v1', { format: 'docker', layers: [randomLayer(2000)] });
  });
  after(stopAll);

  test('a wrong password with --config: "check the credentials for HOST in FILE (--config)", never --auth, never the password', async () => {
    const file = writeFile(
      dir,
      'sync.yaml',
      `version: 1\nregistries:\n  "${src.host}": { insecure: true, username: ${src.username}, password: ${WRONG} }\n  "${dst.host}": { insecure: true }\n` +
        `rules:\n  - source: ${src.host}/team/app:v1\n    destination: ${dst.host}/mirror\n`,
    );
    const r = await runCli(['sync', '--config', file, '--dlq', join(dir, 'dlq-config.jsonl')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`SWRM_AUTH_FAILED: e\\.g\\. .*authentication failed for ${escape(src.host)}.*; check the credentials for ${escape(src.host)} in ${escape(file)} \\(--config\\)`));
    assert.doesNotMatch(r.stdout + r.stderr, /--auth/);
    assert.ok(!(r.stdout + r.stderr).includes(WRONG), 'the password never appears');
  });

  test('with --images and --auth the hint names the auth file; with no --auth, how to give one', async () => {
    const auth = writeFile(dir, 'auth.json', { [src.host]: { username: src.username, password: WRONG, insecure: true }, [dst.host]: { insecure: true } });
    const images = writeFile(dir, 'images.yaml', `"${src.host}/team/app:v1": "${dst.host}/mirror/app"\n`);
    const withAuth = await runCli(['sync', '--auth', auth, '--images', images, '--dlq', join(dir, 'dlq-auth.jsonl')]);
    assert.equal(withAuth.code, 1, withAuth.stderr);
    assert.match(withAuth.stdout, new RegExp(`check the credentials for ${escape(src.host)} in ${escape(auth)} \\(--auth\\)`));
    // An entry without credentials: the file has none for that registry.
    const anonAuth = writeFile(dir, 'anon.json', { [src.host]: { insecure: true }, [dst.host]: { insecure: true } });
    const anonymous = await runCli(['copy', `${src.host}/team/app:v1`, `${dst.host}/mirror/anon:v1`, '--auth', anonAuth]);
    assert.equal(anonymous.code, 1, anonymous.stderr);
    assert.match(anonymous.stderr, new RegExp(`the registry wants a username and password\\); ${escape(anonAuth)} \\(--auth\\) has no credentials for ${escape(src.host)}: add them there \\[SWRM_AUTH_FAILED\\]`));
  });
});

describe('warnings look the same in every command; verify takes --registry/--namespace', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;

  before(async () => {
    dir = tempDir();
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    await pushImage(src, 'team/app', 'v1', { format: 'docker', layers: [randomLayer(2000)] });
  });
  after(stopAll);

  test('a glob matching nothing: the same `warning:` line in plan, sync and verify, no JSON log line', async () => {
    const file = writeFile(
      dir,
      'none.yaml',
      `version: 1\nregistries:\n  "${src.host}": { insecure: true }\n  "${dst.host}": { insecure: true }\n` +
        `rules:\n  - source: ${src.host}/nobody/**\n    destination: ${dst.host}/none\n  - source: ${src.host}/team/app:v1\n    destination: ${dst.host}/mirror\n`,
    );
    const line = new RegExp(`^warning: ${escape(file)}: rules\\[0\\]: ${escape(src.host)}/nobody/\\*\\* matches no repository on ${escape(src.host)}`, 'm');
    for (const args of [['plan'], ['sync', '--dlq', join(dir, 'dlq-w.jsonl')], ['verify', '--dlq', join(dir, 'dlq-w.jsonl')]]) {
      const r = await runCli([...args, '--config', file]);
      assert.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, line, `${args[0]}: ${r.stderr}`);
      assert.equal(r.stderr.match(/matches no repository/g)?.length, 1, `${args[0]}: said once: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /"level"/, `${args[0]}: a JSON log line: ${r.stderr}`);
    }
  });

  test('verify --registry/--namespace reads empty destinations as sync does', async () => {
    const images = writeFile(dir, 'empty.yaml', `"${src.host}/team/app:v1": ""\n`);
    const auth = writeFile(dir, 'auth.json', { [src.host]: { insecure: true }, [dst.host]: { insecure: true } });
    const flags = ['--auth', auth, '--images', images, '--registry', dst.host, '--namespace', 'flagns'];
    const sync = await runCli(['sync', ...flags, '--dlq', join(dir, 'dlq-e.jsonl')], { DEFAULT_REGISTRY: '', DEFAULT_NAMESPACE: '' });
    assert.equal(sync.code, 0, sync.stderr);
    assert.ok(await getManifest(dst, 'flagns/app', 'v1'));
    const verify = await runCli(['verify', ...flags], { DEFAULT_REGISTRY: '', DEFAULT_NAMESPACE: '' });
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /verify: 1 image\(s\): 1 match/);
    // Without them, the hint names flags verify takes.
    const none = await runCli(['verify', '--auth', auth, '--images', images], { DEFAULT_REGISTRY: '', DEFAULT_NAMESPACE: '' });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /empty destination: give --registry and --namespace/);
    assert.doesNotMatch(none.stderr, /Unknown option/);
    // replay needs only credentials: the images file (and its empty destinations) is not read.
    const replay = await runCli(['replay', '--auth', auth, '--images', images, '--dlq', join(dir, 'dlq-none.jsonl')], { DEFAULT_REGISTRY: '', DEFAULT_NAMESPACE: '' });
    assert.equal(replay.code, 0, replay.stderr);
  });
});
