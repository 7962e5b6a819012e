// Issue 7 item 4 through the CLI: a registry password kept in Secrets Manager (a JSON secret) or SSM,
// read through the SDK from the stand-in on 127.0.0.1, copies to an htpasswd registry; a missing
// secret exits 2 naming it. The password is a canary: it must appear in no output, at trace level.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AwsSecretsHandle, startAwsSecretsServer } from '../helpers/aws-secrets-server.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type CliResult, runCli } from '../helpers/run-cli.js';

const USER = 'mirror-bot';
const PASSWORD = `Secret-Canary-${randomBytes(6).toString('hex')}`;
const FORMS = [PASSWORD, `${USER}:${PASSWORD}`, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), Buffer.from(PASSWORD).toString('base64').slice(0, 16)];

describe('CLI: credentials from Secrets Manager and SSM', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let aws: AwsSecretsHandle;
  let dir: string;
  const outputs: CliResult[] = [];

  before(async () => {
    [src, dst, aws] = await Promise.all([
      startRegistry({ auth: 'none' }),
      startRegistry({ auth: 'basic', username: USER, password: PASSWORD }),
      startAwsSecretsServer({ secrets: { 'prod/dst': JSON.stringify({ username: USER, password: PASSWORD }) }, parameters: { '/swrm/dst/password': PASSWORD } }),
    ]);
    await pushImage(src, 'app/one', 'v1', { format: 'oci', layers: [randomLayer(20_000)] });
    await pushImage(src, 'app/two', 'v1', { format: 'docker', layers: [randomLayer(20_000)] });
    dir = tempDir('swrm-secrets-cli-');
  });
  after(async () => {
    await aws?.stop();
    await stopAll();
  });

  const config = (name: string, credentials: string, repo: string) =>
    writeFile(
      dir,
      name,
      `version: 1
defaults: { concurrency: 2, retries: 0 }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}":
    insecure: true
${credentials}
rules:
  - source: ${src.host}/app/${repo}:v1
    destination: ${dst.host}/mirror
`,
    );
  const run = async (args: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    const r = await runCli([...args, '--log-level', 'trace'], { ...aws.env(), ...env });
    outputs.push(r);
    return r;
  };

  test('sync --config with ${secretsmanager:NAME#key} copies, asking Secrets Manager once', async () => {
    const file = config('sm.yaml', '    username: ${secretsmanager:prod/dst#username}\n    password: ${secretsmanager:prod/dst#password}', 'one');
    const r = await run(['sync', '--config', file, '--dlq', join(dir, 'dlq-sm.jsonl')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 copied/);
    assert.ok(await getManifest(dst, 'mirror/one', 'v1'), 'the image is at the destination');
    assert.equal(aws.callsFor('prod/dst'), 1, 'username and password share one GetSecretValue');
  });

  test('SWRM_CONFIG with ${ssm:...}: the Lambda way of naming the bundled config', async () => {
    const file = config('ssm.yaml', `    username: ${USER}\n    password: \${ssm:/swrm/dst/password}`, 'two');
    const r = await run(['sync', '--dlq', join(dir, 'dlq-ssm.jsonl')], { SWRM_CONFIG: file });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(await getManifest(dst, 'mirror/two', 'v1'));
    assert.deepEqual(aws.calls.filter((c) => c.target === 'AmazonSSM.GetParameter').map((c) => c.withDecryption), [true]);
  });

  test('a missing secret exits 2 and names it, with the file and the field', async () => {
    const before = aws.calls.length;
    const file = config('missing.yaml', '    username: ${secretsmanager:prod/gone#username}\n    password: ${secretsmanager:prod/gone#password}', 'one');
    const r = await run(['sync', '--config', file, '--dlq', join(dir, 'dlq-missing.jsonl')]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:8:15: registries\\.${dst.host.replace(/\./g, '\\.')}\\.password: secret "prod/gone" not found in Secrets Manager \\(ResourceNotFoundException\\)`));
    assert.doesNotMatch(r.stderr, /    at /, 'no stack trace');
    assert.equal(aws.calls.length - before, 1, 'one look-up for the two fields');
  });

  test('a typo in a reference exits 2 before any AWS call', async () => {
    const before = aws.calls.length;
    const file = config('typo.yaml', `    username: ${USER}\n    password: \${secretmanager:prod/dst}`, 'one');
    const r = await run(['plan', '--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /password: unknown reference "\$\{secretmanager:\.\.\.\}" \(did you mean \$\{secretsmanager:\.\.\.\}\?\)/);
    assert.equal(aws.calls.length, before);
  });

  test('the password appears in no output', () => {
    assert.ok(outputs.length >= 4);
    const written = ['dlq-sm.jsonl', 'dlq-ssm.jsonl'].map((f) => {
      try {
        return readFileSync(join(dir, f), 'utf8');
      } catch {
        return '';
      }
    });
    for (const text of [...outputs.flatMap((o) => [o.stdout, o.stderr]), ...written]) {
      for (const form of FORMS) assert.ok(!text.includes(form), `a form of the password leaked: ${text.slice(0, 300)}`);
    }
  });
});
