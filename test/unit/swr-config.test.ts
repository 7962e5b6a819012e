// SWR registry entries in the native config: fields carried on RegistryAccess.swr, the login derived
// from AK/SK (literal, ${env:}, ${secretsmanager:}), every refusal, and the SK in no message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { loadNativeConfig, parseNativeConfig } from '../../lib/config/native.js';
import { SecretLookupError, type SecretStore } from '../../lib/config/secret-store.js';
import { ConfigError } from '../../lib/errors.js';
import { problemsOf } from '../helpers/config-problems.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const AK = 'AKEXAMPLE1234567890';
const SK = 'skExampleSecretKey0123456789abcdefghijkl';
const PASS = 'ce2038b3a237b18c2979ef0325a1de97f9df2b77e670671077af169e42193dd9';
const HOST = 'swr.cn-north-4.myhuaweicloud.com';
const doc = (registries: Record<string, unknown>) => ({ version: 1, registries, rules: [{ source: 'docker.io/library/a:v1', destination: `${HOST}/mirror` }] });
const parse = (registries: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => parseNativeConfig(doc(registries), 'sync.yaml', env);

describe('SWR registry config: accepted', () => {
  test('AK/SK literal: long-term login and defaults', () => {
    const cfg = parse({ [HOST]: { accessKey: AK, secretKey: SK } });
    const a = cfg.resolve(HOST, 'mirror/a');
    assert.deepEqual(a.credentials, { username: `cn-north-4@${AK}`, password: PASS });
    assert.deepEqual({ ...a.swr }, { edition: 'basic', convertToDocker: true, region: 'cn-north-4', managementEndpoint: 'https://swr-api.cn-north-4.myhuaweicloud.com', project: 'cn-north-4', pushConcurrency: 20, pushRate: 20 });
    assert.deepEqual(a.swr!.keys, { accessKey: AK, secretKey: SK });
    assert.ok(!inspect(a, { depth: 9 }).includes(SK) && !JSON.stringify(a).includes(SK), 'the keys are not enumerable');
  });
  test('env references, project, edition, endpoint and push budget', () => {
    const cfg = parse({ [`${HOST}/team`]: { accessKey: '${env:AK}', secretKey: '${env:SK}', project: 'cn-north-4_dev', edition: 'enterprise', managementEndpoint: 'https://127.0.0.1:9443', pushConcurrency: 5, pushRate: 2.5 } }, { AK, SK });
    const a = cfg.resolve(HOST, 'team/x');
    assert.equal(a.credentials?.username, `cn-north-4_dev@${AK}`);
    assert.equal(a.credentials?.password, PASS);
    assert.equal(a.swr?.convertToDocker, false);
    assert.equal(a.swr?.managementEndpoint, 'https://127.0.0.1:9443');
    assert.equal(a.swr?.pushConcurrency, 5);
    assert.equal(a.swr?.pushRate, 2.5);
  });
  test('a console login (username/password) on SWR is kept as is', () => {
    const a = parse({ [HOST]: { username: 'cn-north-4@X', password: 'p' } }).resolve(HOST, 'a/b');
    assert.deepEqual(a.credentials, { username: 'cn-north-4@X', password: 'p' });
    assert.equal(a.swr?.region, 'cn-north-4');
  });
  test('type: swr on a custom host, type: generic opts out', () => {
    assert.equal(parse({ '127.0.0.1:5000': { type: 'swr', project: 'p', accessKey: AK, secretKey: SK } }).resolve('127.0.0.1:5000', 'a/b').credentials?.username, `p@${AK}`);
    assert.equal(parse({ [HOST]: { type: 'generic' } }).resolve(HOST, 'a/b').swr, undefined);
    assert.equal(parse({ 'quay.io': {} }).resolve('quay.io', 'a/b').swr, undefined);
  });
  test('${secretsmanager:} keys are derived after the look-up', async () => {
    const store: SecretStore = {
      async secretString(id) {
        if (id === 'prod/swr') return JSON.stringify({ ak: AK, sk: SK });
        throw new SecretLookupError(`secret "${id}" not found`);
      },
      async parameter(name) { throw new SecretLookupError(`parameter "${name}" not found`); },
    };
    const dir = mkdtempSync(join(tmpdir(), 'swrm-swr-config-'));
    const file = join(dir, 'sync.json');
    writeFileSync(file, JSON.stringify(doc({ [HOST]: { accessKey: '${secretsmanager:prod/swr#ak}', secretKey: '${secretsmanager:prod/swr#sk}' } })));
    const cfg = await loadNativeConfig(file, {}, { secretStore: store });
    assert.deepEqual(cfg.resolve(HOST, 'a/b').credentials, { username: `cn-north-4@${AK}`, password: PASS });
    assert.equal(cfg.resolve(HOST, 'a/b').swr?.keys?.secretKey, SK);
    writeFileSync(file, JSON.stringify(doc({ [HOST]: { accessKey: AK, secretKey: '${secretsmanager:missing}' } })));
    await assert.rejects(loadNativeConfig(file, {}, { secretStore: store }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.problems.some((l) => /registries\.swr\.cn-north-4\.myhuaweicloud\.com\.secretKey: secret "missing" not found/.test(l)), e.problems.join('\n'));
      return true;
    });
  });
});

describe('SWR registry config: refusals', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ [HOST]: { accessKey: AK, secretKey: SK, username: 'u', password: 'p' } }, /registries\.swr\.cn-north-4\.myhuaweicloud\.com: accessKey\/secretKey and username\/password .* mutually exclusive/],
    [{ [HOST]: { accessKey: AK, secretKey: SK, dockerConfig: true } }, /mutually exclusive/],
    [{ [HOST]: { accessKey: AK } }, /accessKey without secretKey: give both/],
    [{ [HOST]: { secretKey: SK } }, /secretKey without accessKey: give both/],
    [{ 'registry.internal': { type: 'swr', accessKey: AK, secretKey: SK } }, /project is needed to derive the login for registry\.internal/],
    [{ 'quay.io': { accessKey: AK, secretKey: SK } }, /registries\.quay\.io\.accessKey: only for SWR registries/],
    [{ 'quay.io': { edition: 'enterprise' } }, /registries\.quay\.io\.edition: only for SWR registries/],
    [{ [HOST]: { type: 'nexus' } }, /type: expected one of generic, dockerhub, harbor, quay, ecr, swr/],
    [{ [HOST]: { edition: 'pro' } }, /edition: expected basic .* or enterprise/],
    [{ [HOST]: { project: 'a b' } }, /project: expected an IAM project name/],
    [{ [HOST]: { managementEndpoint: 'ftp://x' } }, /managementEndpoint: expected an http\(s\) URL/],
    [{ [HOST]: { pushConcurrency: 0 } }, /pushConcurrency: expected a whole number from 1 to 256/],
    [{ [HOST]: { pushRate: -1 } }, /pushRate: expected a number of push requests per second above 0/],
    [{ [HOST]: { accessKey: '${env:NOPE}', secretKey: SK } }, /accessKey: .*NOPE/],
    [{ [HOST]: { secretKy: SK } }, /secretKy/],
  ];
  for (const [registries, want] of cases) {
    test(want.source.slice(0, 70), () => {
      const lines = problemsOf(() => parse(registries));
      assert.ok(lines.some((l) => want.test(l)), lines.join('\n'));
      for (const l of lines) assert.ok(!l.includes(SK), `secret key in: ${l}`);
    });
  }
  test('the secret key appears in no error, even when it is the wrong value', () => {
    for (const bad of [{ secretKey: SK }, { accessKey: SK }, { accessKey: AK, secretKey: SK, password: 'x' }, { secretKey: SK, pushRate: 'fast' }]) {
      try { parse({ [HOST]: bad }); assert.fail('expected a refusal'); } catch (e) {
        assert.ok(e instanceof ConfigError);
        assert.ok(!e.message.includes(SK) && !e.problems.join('\n').includes(SK), e.problems.join('\n'));
      }
    }
  });
});
