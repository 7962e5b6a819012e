// Issue 6 item 6: no credential in any output. One distinctive password goes through every way a
// run can see it (native config via ${env:VAR}, an image-syncer auth file literally and via $VAR,
// a docker config.json with a syntax error, a registry that rejects it, an invalid DLQ body that
// holds it), every command runs at --log-level trace, and then stdout, stderr, reports, DLQs and
// every file the runs wrote are searched for it, its Basic-header base64 and `user:password`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { pushImage, randomLayer } from '../helpers/push.js';
import { type CliResult, runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

const USER = 'canary';
const PASSWORD = `Canary-Pa55-${randomBytes(6).toString('hex')}`;
/** Every spelling of the secret a leak could take. */
const FORMS = [
  PASSWORD,
  `${USER}:${PASSWORD}`,
  Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
  encodeURIComponent(PASSWORD),
  // The password's own base64, cut so it does not depend on how it is aligned in a longer string.
  Buffer.from(PASSWORD).toString('base64').slice(0, 16),
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('canary: the password never appears in any output', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let other: RegistryHandle;
  let tok: RegistryHandle;
  let inputs: string;
  let out: string;
  const outputs: { what: string; text: string }[] = [];
  const env = { CANARY_USER: USER, CANARY_PASS: PASSWORD };

  before(async () => {
    [src, dst, other, tok] = await Promise.all([
      startRegistry({ auth: 'none' }),
      startRegistry({ auth: 'basic', username: USER, password: PASSWORD }),
      // Same user, another password: the canary is sent to it and refused.
      startRegistry({ auth: 'basic', username: USER, password: 'not-the-canary' }),
      // Token auth: the password goes to the token server, and the token must not leak either.
      startRegistry({ auth: 'token', username: USER, password: PASSWORD }),
    ]);
    inputs = tempDir('swrm-canary-in-');
    out = tempDir('swrm-canary-out-');
    mkdirSync(join(out, 'state'));
    await pushImage(src, 'app/one', 'v1', { format: 'oci', layers: [randomLayer(20_000)] });
    await pushImage(src, 'app/two', 'v1', { format: 'docker', layers: [randomLayer(20_000)] });
    await pushImage(src, 'app/two', 'v2', { format: 'docker', layers: [randomLayer(20_000)] });
  });
  after(stopAll);

  const run = async (what: string, args: string[], expectCode: number): Promise<CliResult> => {
    const r = await runCli([...args, '--log-level', 'trace'], env);
    outputs.push({ what: `${what} stdout`, text: r.stdout }, { what: `${what} stderr`, text: r.stderr });
    assert.equal(r.code, expectCode, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const nativeConfig = (name: string, dstBlock: string, target: RegistryHandle, rules = '') =>
    writeFile(
      inputs,
      name,
      `version: 1
defaults: { concurrency: 2, retries: 0 }
registries:
  "${src.host}": { insecure: true }
  "${target.host}": ${dstBlock}
rules:
  - source: ${src.host}/app/one:v1
    destination: ${target.host}/mirror
  - source: ${src.host}/app/ghost:v1
    destination: ${target.host}/mirror
  - source: ${src.host}/app/two
    destination: ${target.host}/mirror
${rules}`,
    );

  test('sync, replay, verify, image-syncer files, a refused password, a broken docker config and an invalid DLQ body', async () => {
    const config = nativeConfig('sync.yaml', '{ insecure: true, username: "${env:CANARY_USER}", password: "${env:CANARY_PASS}" }', dst);
    const dlq = join(out, 'state', 'dlq.jsonl');
    // Some images copied, one missing: the DLQ is written.
    const sync = await run('sync', ['sync', '--config', config, '--dlq', dlq, '--report', join(out, 'sync-report.json')], 1);
    assert.match(sync.stdout, /3 copied, 0 already present, 1 failed/);
    assert.match(readFileSync(dlq, 'utf8'), /ghost/);

    // An invalid body holding the password, as a foreign producer or an older version could leave it.
    const bad = JSON.stringify({ v: 1, kind: 'copy-image', source: `${src.host}/app/one:v1`, destination: `${dst.host}/x:v1`, password: PASSWORD });
    const seeded = join(out, 'state', 'dlq-invalid.jsonl');
    const letter = (body: string) => `${JSON.stringify({ id: randomBytes(8).toString('hex'), body, receiveCount: 1, reason: { code: 'X', message: 'seeded' }, at: new Date().toISOString() })}\n`;
    writeFile(join(out, 'state'), 'dlq-invalid.jsonl', letter(bad) + letter(`Authorization: Basic ${FORMS[2]} (not JSON)`));
    const invalid = await run('replay invalid', ['replay', '--config', config, '--dlq', seeded, '--report', join(out, 'replay-invalid-report.json')], 1);
    assert.match(invalid.stdout, /2 message\(s\) from .*: 0 recovered, 2 still in the DLQ/);

    await run('replay', ['replay', '--config', config, '--dlq', dlq, '--report', join(out, 'replay-report.json')], 1);
    const verify = await run('verify', ['verify', '--config', config, '--json'], 1);
    assert.match(verify.stdout, /ghost/);
    await run('plan', ['plan', '--config', config, '--json'], 0);

    // image-syncer files: the password literally, and through $VAR.
    const auth = writeFile(inputs, 'auth.yaml', `"${src.host}": { insecure: true }\n"${dst.host}": { insecure: true, username: ${USER}, password: "${PASSWORD}" }\n`);
    const authEnv = writeFile(inputs, 'auth-env.json', { [src.host]: { insecure: true }, [dst.host]: { insecure: true, username: '$CANARY_USER', password: '${CANARY_PASS}' } });
    const images = writeFile(inputs, 'images.json', { [`${src.host}/app/one:v1`]: `${dst.host}/syncer/one`, [`${src.host}/app/ghost:v1`]: `${dst.host}/syncer/ghost` });
    await run('image-syncer sync', ['sync', '--auth', auth, '--images', images, '--dlq', join(out, 'state', 'dlq-syncer.jsonl'), '--report', join(out, 'syncer-report.json')], 1);
    await run('image-syncer verify', ['verify', '--auth', authEnv, '--images', images], 1);

    // The password sent where it is wrong: a copy and a sync both fail with authentication.
    const wrongAuth = writeFile(inputs, 'auth-wrong.yaml', `"${src.host}": { insecure: true }\n"${other.host}": { insecure: true, username: ${USER}, password: "${PASSWORD}" }\n`);
    const copy = await run('copy refused', ['copy', `${src.host}/app/one:v1`, `${other.host}/mirror/one`, '--auth', wrongAuth], 1);
    assert.match(copy.stderr, new RegExp(`authentication failed for ${other.host}`));
    const wrong = nativeConfig('wrong.yaml', '{ insecure: true, username: "${env:CANARY_USER}", password: "${env:CANARY_PASS}" }', other);
    const refused = await run('sync refused', ['sync', '--config', wrong, '--dlq', join(out, 'state', 'dlq-wrong.jsonl'), '--report', join(out, 'wrong-report.json')], 1);
    assert.match(refused.stdout, /0 copied, 0 already present, 4 failed|0 copied, 0 already present, 3 failed/);
    await run('copy ok', ['copy', `${src.host}/app/two:v2`, `${dst.host}/copied/two`, '--auth', auth], 0);

    // Token auth (distribution's token flow with the local token server), copy and sync.
    const tokAuth = writeFile(inputs, 'auth-tok.json', { [src.host]: { insecure: true }, [tok.host]: { insecure: true, username: USER, password: '$CANARY_PASS' } });
    await run('copy token', ['copy', `${src.host}/app/one:v1`, `${tok.host}/mirror/one`, '--auth', tokAuth], 0);
    const tokImages = writeFile(inputs, 'images-tok.json', { [`${src.host}/app/two`]: `${tok.host}/mirror/two` });
    await run('sync token', ['sync', '--auth', tokAuth, '--images', tokImages, '--dlq', join(out, 'state', 'dlq-tok.jsonl'), '--report', join(out, 'tok-report.json')], 0);

    // A docker config.json with a syntax error next to the auth it holds.
    const dockerDir = join(inputs, 'docker');
    mkdirSync(dockerDir);
    writeFile(dockerDir, 'config.json', `{"auths": {"${dst.host}": {"auth": '${FORMS[2]}'}}}`);
    const broken = nativeConfig('docker.yaml', `{ insecure: true, dockerConfig: ${JSON.stringify(join(dockerDir, 'config.json'))} }`, dst);
    const docker = await run('broken docker config', ['sync', '--config', broken, '--dlq', join(out, 'state', 'dlq-docker.jsonl')], 2);
    assert.match(docker.stderr, /cannot read docker config .*config\.json: not valid JSON/);

    // Everything the runs wrote, and what they printed.
    const files = filesUnder(out);
    assert.ok(files.length >= 8, files.join('\n'));
    const everything = [...outputs, ...files.map((f) => ({ what: f, text: readFileSync(f, 'latin1') }))];
    // The logs were really written at trace level (else the search proves little).
    assert.ok(outputs.some((o) => /"level":10/.test(o.text)), 'trace logs were written');
    for (const { what, text } of everything) {
      // The token server's JWTs (header `{"` is base64 `eyJ`) must not leak either.
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/, `${what} contains a bearer token`);
      for (const form of FORMS) assert.ok(!text.includes(form), `${what} contains the canary (${form.slice(0, 6)}...):\n${text.slice(Math.max(0, text.indexOf(form) - 200), text.indexOf(form) + 100)}`);
    }
    // The invalid body is still in the DLQ, replayable, with the password masked.
    assert.match(readFileSync(seeded, 'utf8'), /\\"password\\":\\"\[redacted\]\\"/);
  });
});
