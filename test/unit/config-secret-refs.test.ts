// Issue 7 item 4: ${secretsmanager:...} / ${ssm:...} references in credentials. Pure parsing, and the
// loader's resolution step against an in-memory SecretStore (no network; the SDK path is tested in
// test/integration/aws-secrets.test.ts).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadConfig } from '../../lib/config/load.js';
import { loadNativeConfig, parseNativeConfig } from '../../lib/config/native.js';
import { parseCredential } from '../../lib/config/secret-refs.js';
import { cachedSecretStore, SecretLookupError, type SecretStore } from '../../lib/config/secret-store.js';
import { ConfigError } from '../../lib/errors.js';
import { stopAllTracked } from '../helpers/cleanup.js';
import { tempDir, writeFile } from '../helpers/files.js';

after(stopAllTracked);
const CANARY = 'Sm-Canary-7f3a9c';

/** An in-memory store that counts look-ups and fails as the real one does for unknown ids. */
function memoryStore(secrets: Record<string, string>, params: Record<string, string> = {}) {
  const calls: string[] = [];
  const store: SecretStore = {
    async secretString(id) {
      calls.push(id);
      const v = secrets[id];
      if (v === undefined) throw new SecretLookupError(`secret "${id}" not found in Secrets Manager (ResourceNotFoundException)`);
      return v;
    },
    async parameter(name) {
      calls.push(name);
      const v = params[name];
      if (v === undefined) throw new SecretLookupError(`parameter "${name}" not found in SSM Parameter Store (ParameterNotFound)`);
      return v;
    },
  };
  return { store, calls };
}

const config = (registries: string) => `version: 1\nregistries:\n${registries}\nrules: [{source: quay.io/a/b:v1, destination: r.io/m}]\n`;
const dir = tempDir('swrm-secret-refs-');
let n = 0;
const fileWith = (yaml: string) => writeFile(dir, `c${n++}.yaml`, yaml);

async function problems(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
  return err.problems;
}

describe('credential references: grammar', () => {
  test('literal text, env and secret references, in order', () => {
    const { template, problems } = parseCredential('pre-${env:A}-${secretsmanager:prod/quay#password}$x${ssm:/a/b}', { A: 'aa' });
    assert.deepEqual(problems, []);
    assert.deepEqual(template, ['pre-aa-', { kind: 'secretsmanager', id: 'prod/quay', key: 'password' }, '$x', { kind: 'ssm', name: '/a/b' }]);
  });

  test('ARNs of secrets and parameters are accepted', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/quay-AbCdEf';
    assert.deepEqual(parseCredential(`\${secretsmanager:${arn}#user}`, {}).template, [{ kind: 'secretsmanager', id: arn, key: 'user' }]);
    const ssm = 'arn:aws-cn:ssm:cn-north-1:123456789012:parameter/swr/login';
    assert.deepEqual(parseCredential(`\${ssm:${ssm}}`, {}).template, [{ kind: 'ssm', name: ssm }]);
  });

  test('typos are errors that name the fix, never a literal password', () => {
    const cases: [string, RegExp][] = [
      ['${secretmanager:prod/quay}', /unknown reference "\$\{secretmanager:\.\.\.\}" \(did you mean \$\{secretsmanager:\.\.\.\}\?\)/],
      ['${vault:x}', /unknown reference "\$\{vault:\.\.\.\}": expected \$\{env:VAR\}, \$\{secretsmanager:NAME_OR_ARN\}/],
      ['${env:}', /expected \$\{env:VAR\}/],
      ['${QUAY_TOKEN}', /write \$\{env:QUAY_TOKEN\} for an environment variable/],
      ['${secretsmanager:prod quay}', /expected a secret name/],
      ['${secretsmanager:prod/quay#}', /expected a JSON key/],
      ['${secretsmanager:arn:aws:secretsmanager:x}', /expected a secret name|not a Secrets Manager ARN/],
      ['${ssm:}', /expected a parameter name/],
      ['${ssm:arn:aws:s3:::bucket}', /expected a parameter name/],
    ];
    for (const [value, re] of cases) {
      const { problems } = parseCredential(value, {});
      assert.equal(problems.length, 1, value);
      assert.match(problems[0]!, re, value);
    }
  });

  test('a lone $ or an unclosed ${ stays literal, as before', () => {
    assert.deepEqual(parseCredential('a$b${c', {}), { template: ['a$b${c'], problems: [] });
  });
});

describe('credential references: loading', () => {
  test('parseNativeConfig keeps the references for the loader and sets no credentials', () => {
    const cfg = parseNativeConfig(
      { version: 1, registries: { 'quay.io': { username: 'robot', password: '${secretsmanager:prod/quay}' } }, rules: [{ source: 'quay.io/a/b:v1', destination: 'r.io/m' }] },
      'sync.yaml',
      {},
    );
    assert.equal(cfg.resolve('quay.io', 'a/b').credentials, undefined);
    assert.equal(cfg.secrets?.length, 1);
    assert.equal(cfg.secrets![0]!.where('password'), 'sync.yaml: registries.quay.io.password');
  });

  test('JSON keys and plain secrets resolve; one look-up per secret however often it is named', async () => {
    const { store, calls } = memoryStore({ 'prod/quay': JSON.stringify({ username: 'robot', password: CANARY, port: 5 }), plain: 'p2' }, { '/swr/key': 'k3' });
    const file = fileWith(config(`  quay.io:\n    username: \${secretsmanager:prod/quay#username}\n    password: \${secretsmanager:prod/quay#password}
  quay.io/other:\n    username: x-\${secretsmanager:prod/quay#port}\n    password: \${secretsmanager:plain}
  swr.example.com:\n    username: cn-north-4@ak\n    password: \${ssm:/swr/key}`));
    const cfg = await loadNativeConfig(file, {}, { secretStore: store });
    assert.deepEqual(cfg.resolve('quay.io', 'a/b').credentials, { username: 'robot', password: CANARY });
    assert.deepEqual(cfg.resolve('quay.io', 'other/b').credentials, { username: 'x-5', password: 'p2' });
    assert.deepEqual(cfg.resolve('swr.example.com', 'a').credentials, { username: 'cn-north-4@ak', password: 'k3' });
    assert.deepEqual(calls.sort(), ['/swr/key', 'plain', 'prod/quay']);
    assert.equal(cfg.secrets, undefined, 'the loader leaves no unresolved references behind');
  });

  test('a missing secret is named with file, line, column and path; every failure is listed; no value is shown', async () => {
    const { store } = memoryStore({ 'not-json': CANARY, obj: JSON.stringify({ user: 'u', pass: CANARY, nested: { a: 1 } }) });
    const file = fileWith(config(`  quay.io:\n    username: robot\n    password: \${secretsmanager:prod/quay}
  a.io:\n    username: u\n    password: \${secretsmanager:not-json#password}
  b.io:\n    username: \${secretsmanager:obj#username}\n    password: \${secretsmanager:obj#nested}
  c.io:\n    username: u\n    password: \${ssm:/nope}`));
    const lines = await problems(loadNativeConfig(file, {}, { secretStore: store }));
    assert.deepEqual(lines, [
      `${file}:5:15: registries.quay.io.password: secret "prod/quay" not found in Secrets Manager (ResourceNotFoundException)`,
      `${file}:8:15: registries.a.io.password: secret "not-json" is not JSON, so it has no key "password": drop "#password" to use the whole secret`,
      `${file}:10:15: registries.b.io.username: secret "obj" has no JSON key "username" (its keys: "user", "pass", "nested")`,
      `${file}:11:15: registries.b.io.password: secret "obj" key "nested" is not a string`,
      `${file}:14:15: registries.c.io.password: parameter "/nope" not found in SSM Parameter Store (ParameterNotFound)`,
    ]);
    for (const l of lines) assert.ok(!l.includes(CANARY), l);
  });

  test('a config with a typo fails before any secret is fetched', async () => {
    const { store, calls } = memoryStore({ s: 'v' });
    const file = fileWith(config(`  quay.io:\n    username: \${secretsmanager:s}\n    password: \${secretmanager:s}`));
    const lines = await problems(loadNativeConfig(file, {}, { secretStore: store }));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /: registries\.quay\.io\.password: unknown reference "\$\{secretmanager:\.\.\.\}" \(did you mean/);
    assert.deepEqual(calls, []);
  });

  test('the process cache shares one look-up, and forgets a failure so a later load asks again', async () => {
    let calls = 0;
    let fail = true;
    const cached = cachedSecretStore({
      secretString: async () => {
        calls++;
        if (fail) throw new SecretLookupError('down');
        return 'v';
      },
      parameter: async () => 'p',
    });
    await assert.rejects(Promise.all([cached.secretString('a'), cached.secretString('a')]), /down/);
    assert.equal(calls, 1, 'two look-ups at once share one request');
    fail = false;
    assert.equal(await cached.secretString('a'), 'v');
    assert.equal(await cached.secretString('a'), 'v');
    assert.equal(calls, 2, 'the failure was not cached, the success was');
  });
});

describe('SWRM_CONFIG', () => {
  test('names the config when no input flag is given; relative caFile is resolved against it', async () => {
    const sub = join(dir, 'bundle');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sub, { recursive: true });
    const file = writeFile(sub, 'sync.yaml', config('  quay.io:\n    caFile: certs/ca.pem'));
    const cfg = await loadConfig({}, { SWRM_CONFIG: file });
    assert.equal(cfg.source, file);
    assert.equal(cfg.resolve('quay.io', 'a/b').caFile, join(sub, 'certs/ca.pem'));
    // An explicit --config (or --images) wins over the environment.
    const other = fileWith(config('  r.io: {}'));
    assert.equal((await loadConfig({ config: other }, { SWRM_CONFIG: file })).source, other);
  });

  test('an unreadable SWRM_CONFIG is one error naming the file', async () => {
    const missing = join(dir, 'nope.yaml');
    const err = await loadConfig({}, { SWRM_CONFIG: missing }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, `cannot read ${missing}: no such file`);
  });
});
