// Issue 7 item 4 through the real AWS SDK v3 clients, against the Secrets Manager / SSM stand-in on
// 127.0.0.1 reached by the SDK's own endpoint variables (AWS_ENDPOINT_URL_SECRETS_MANAGER,
// AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL) with dummy credentials: no request leaves loopback.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadConfig } from '../../lib/config/load.js';
import { awsSecretStore, cachedSecretStore, processSecretStore } from '../../lib/config/secret-store.js';
import { ConfigError } from '../../lib/errors.js';
import { type AwsSecretsHandle, startAwsSecretsServer } from '../helpers/aws-secrets-server.js';
import { stopAllTracked } from '../helpers/cleanup.js';
import { tempDir, writeFile } from '../helpers/files.js';

const CANARY = 'Aws-Canary-51c0e2';
const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/harbor';
let aws: AwsSecretsHandle;
const saved: Record<string, string | undefined> = {};
const ENDPOINT_VARS = ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_SECRETS_MANAGER', 'AWS_ENDPOINT_URL_SSM', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_EC2_METADATA_DISABLED', 'AWS_PROFILE', 'AWS_SESSION_TOKEN'];

before(async () => {
  aws = await startAwsSecretsServer({
    secrets: { 'prod/quay': JSON.stringify({ username: 'robot', password: CANARY }), 'prod/harbor': 'harbor-pass', plain: 'plain-pass' },
    parameters: { '/swr/login-key': 'swr-key' },
  });
  // The SDK reads its endpoint, region and credentials from process.env; this file runs in its own process.
  for (const k of ENDPOINT_VARS) {
    saved[k] = process.env[k];
    delete process.env[k];
  }
  Object.assign(process.env, aws.env());
});
after(async () => {
  for (const k of ENDPOINT_VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await stopAllTracked();
});
beforeEach(() => {
  aws.calls.length = 0;
  processSecretStore.clear();
});

const dir = tempDir('swrm-aws-secrets-');
let n = 0;
const configFile = (registries: string) =>
  writeFile(dir, `c${n++}.yaml`, `version: 1\nregistries:\n${registries}\nrules: [{source: quay.io/a/b:v1, destination: r.io/m}]\n`);

describe('secret references through the AWS SDK', () => {
  test('Secrets Manager JSON keys, a plain secret, an ARN and an SSM SecureString resolve', async () => {
    const file = configFile(`  quay.io:\n    username: \${secretsmanager:prod/quay#username}\n    password: \${secretsmanager:prod/quay#password}
  harbor.example.com:\n    username: admin\n    password: \${secretsmanager:${ARN}}
  swr.example.com:\n    username: cn-north-4@ak\n    password: \${ssm:/swr/login-key}`);
    const cfg = await loadConfig({ config: file });
    assert.deepEqual(cfg.resolve('quay.io', 'a/b').credentials, { username: 'robot', password: CANARY });
    assert.deepEqual(cfg.resolve('harbor.example.com', 'x').credentials, { username: 'admin', password: 'harbor-pass' });
    assert.deepEqual(cfg.resolve('swr.example.com', 'x').credentials, { username: 'cn-north-4@ak', password: 'swr-key' });
    // One call per secret (username and password share one), the ARN sent as given, SSM decrypted.
    assert.equal(aws.callsFor('prod/quay'), 1);
    assert.equal(aws.callsFor(ARN), 1);
    assert.deepEqual(aws.calls.find((c) => c.id === '/swr/login-key'), { target: 'AmazonSSM.GetParameter', id: '/swr/login-key', withDecryption: true });
    assert.equal(aws.calls.length, 3);
  });

  test('a second load in the same process (a warm container) asks AWS nothing', async () => {
    const file = configFile(`  quay.io:\n    username: robot\n    password: \${secretsmanager:plain}`);
    await loadConfig({ config: file });
    const again = await loadConfig({ config: file });
    assert.equal(again.resolve('quay.io', 'a/b').credentials?.password, 'plain-pass');
    assert.equal(aws.callsFor('plain'), 1);
  });

  test('missing secrets and parameters are named, with the service error', async () => {
    const file = configFile(`  quay.io:\n    username: robot\n    password: \${secretsmanager:prod/nope}
  swr.example.com:\n    username: u\n    password: \${ssm:/swr/nope}`);
    const err = await loadConfig({ config: file }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems, [
      `${file}:5:15: registries.quay.io.password: secret "prod/nope" not found in Secrets Manager (ResourceNotFoundException)`,
      `${file}:8:15: registries.swr.example.com.password: parameter "/swr/nope" not found in SSM Parameter Store (ParameterNotFound)`,
    ]);
    // A failure is not cached: once the secret exists, the next load finds it.
    aws.secrets.set('prod/nope', 'now-there');
    aws.parameters.set('/swr/nope', 'there-too');
    const cfg = await loadConfig({ config: file });
    assert.equal(cfg.resolve('quay.io', 'a/b').credentials?.password, 'now-there');
  });

  test('AWS_ENDPOINT_URL alone is honoured by the SDK too', async () => {
    delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    process.env.AWS_ENDPOINT_URL = aws.url;
    try {
      const store = cachedSecretStore(awsSecretStore());
      assert.equal(await store.secretString('plain'), 'plain-pass');
      assert.equal(aws.callsFor('plain'), 1);
    } finally {
      delete process.env.AWS_ENDPOINT_URL;
      process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = aws.url;
    }
  });

  test('an unreachable endpoint names the secret and the failure, not a stack', async () => {
    // A closed port on loopback: the SDK's connection is refused at once.
    const closed = await startAwsSecretsServer();
    await closed.stop();
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = closed.url;
    try {
      const store = awsSecretStore();
      const err = await store.secretString('plain').then(() => undefined, (e: unknown) => e as Error);
      assert.ok(err);
      assert.match(err.message, /^secret "plain": cannot read it from Secrets Manager \(/);
      assert.doesNotMatch(err.message, /\n|    at /);
    } finally {
      process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = aws.url;
    }
  });

  test('the SDK clients are imported only when a config uses a reference', async () => {
    // A resolve hook in a fresh process reports every @aws-sdk/* import; the CLI path without a
    // reference must not pay for loading the SDK.
    const hook = `let port; export function initialize(d) { port = d.port }
export async function resolve(s, c, next) { if (s.startsWith('@aws-sdk/')) port.postMessage(s); return next(s, c) }`;
    const script = `import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const seen = new Set();
port1.on('message', (m) => seen.add(m));
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}), { data: { port: port2 }, transferList: [port2] });
const { loadConfig } = await import(${JSON.stringify(new URL('../../lib/config/load.js', import.meta.url).href)});
await loadConfig({ config: process.argv[1] });
await new Promise((r) => setTimeout(r, 200));
port1.close();
console.log(JSON.stringify([...seen]));`;
    const imports = async (file: string): Promise<string[]> => {
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, file], { env: { ...process.env } });
      return JSON.parse(stdout.trim().split('\n').pop()!) as string[];
    };
    assert.deepEqual(await imports(configFile('  quay.io:\n    username: robot\n    password: literal')), []);
    assert.ok((await imports(configFile('  quay.io:\n    username: robot\n    password: ${secretsmanager:plain}'))).includes('@aws-sdk/client-secrets-manager'));
  });
});
