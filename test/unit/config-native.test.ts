import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNativeConfig, parseNativeConfig } from '../../lib/config/native.js';
import { loadConfig } from '../../lib/config/load.js';
import { ConfigError } from '../../lib/errors.js';
import { problemsOf } from '../helpers/config-problems.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swrm-native-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FULL = `
version: 1
defaults:
  concurrency: 8
  platforms: [linux/amd64, linux/arm64/v8]
registries:
  docker.io:
    username: \${env:HUB_USER}
    password: tok-\${env:HUB_TOKEN}$literal
  quay.io/coreos:
    username: q
    password: p
  127.0.0.1:5000:
    insecure: true
    concurrency: 4
rules:
  - source: docker.io/library/alpine
    destination: swr.cn-north-4.myhuaweicloud.com/mirror
    tags: { include: ['^3\\.'], exclude: ['-rc'], latest: 5 }
  - source: quay.io/coreos/etcd:v3.5.0
    destination: swr.cn-north-4.myhuaweicloud.com/mirror
    name: etcd-mirror
  - source: ghcr.io/org/app
    tags: [v1, v2]
    destination: [host1.io/ns, 127.0.0.1:5000]
  - source: alpine@sha256:${'a'.repeat(64)}
    destination: docker.io/me
    mapping: path
`;


const parse = (yaml: string, env: NodeJS.ProcessEnv = {}) => async () => {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, yaml);
  return loadNativeConfig(file, env);
};
async function problemsOfAsync(fn: () => Promise<unknown>): Promise<string[]> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('native config', () => {
  test('a full config becomes rules, destinations, defaults and a resolver', async () => {
    const file = join(dir, 'full.yaml');
    await writeFile(file, FULL);
    const cfg = await loadConfig({ config: file }, { HUB_USER: 'me', HUB_TOKEN: 'secret' });
    assert.deepEqual(cfg.defaults, { concurrency: 8, retries: 3, platforms: ['linux/amd64', 'linux/arm64/v8'] });
    assert.equal(cfg.source, file);
    const [alpine, etcd, app, pinned] = cfg.rules;
    assert.deepEqual(alpine?.source, { registry: 'docker.io', repository: 'library/alpine' });
    assert.equal(alpine?.origin, `${file}: rules[0]`);
    assert.deepEqual(alpine?.filter, { include: [/^3\./], exclude: [/-rc/], latest: 5 });
    assert.deepEqual(alpine?.destinations, [{ registry: 'swr.cn-north-4.myhuaweicloud.com', repository: 'mirror/alpine' }]);
    assert.deepEqual(etcd?.tags, ['v3.5.0']);
    assert.deepEqual(etcd?.destinations, [{ registry: 'swr.cn-north-4.myhuaweicloud.com', repository: 'mirror/etcd-mirror' }]);
    assert.deepEqual(app?.tags, ['v1', 'v2']);
    assert.equal(app?.filter, undefined);
    assert.deepEqual(app?.destinations, [
      { registry: 'host1.io', repository: 'ns/app' },
      { registry: '127.0.0.1:5000', repository: 'app' },
    ]);
    assert.equal(pinned?.digest, `sha256:${'a'.repeat(64)}`);
    assert.equal(pinned?.tags, undefined);
    assert.deepEqual(pinned?.destinations, [{ registry: 'docker.io', repository: 'me/library/alpine' }]);

    // ${env:VAR} expanded; a bare `$` stays literal in the native format.
    // Each access also says where its credentials were given, for the hint of a refused login.
    const from = (entry?: string) => ({ file, flag: '--config', ...(entry ? { entry } : {}) });
    assert.deepEqual(cfg.resolve('docker.io', 'library/alpine'), { credentials: { username: 'me', password: 'tok-secret$literal' }, credentialsFrom: from('docker.io') });
    assert.deepEqual(cfg.resolve('quay.io', 'coreos/etcd'), { credentials: { username: 'q', password: 'p' }, credentialsFrom: from('quay.io/coreos') });
    assert.deepEqual(cfg.resolve('quay.io', 'other/etcd'), { credentialsFrom: from() });
    // `concurrency` also bounds the registry's AIMD windows (registry/limits/window-gate.ts).
    assert.deepEqual(cfg.resolve('127.0.0.1:5000', 'app'), { insecure: true, concurrency: 4, credentialsFrom: from() });
    assert.equal(cfg.registries.find((r) => r.prefix === '127.0.0.1:5000')?.concurrency, 4);
  });

  test('defaults fill the gaps; --os/--arch platforms override the file', async () => {
    const file = join(dir, 'min.json');
    await writeFile(file, JSON.stringify({ version: 1, rules: [{ source: 'alpine:3', destination: 'r.io/m' }] }));
    const cfg = await loadConfig({ config: file, platforms: ['linux/arm64'] }, {});
    assert.deepEqual(cfg.defaults, { concurrency: 16, retries: 3, platforms: ['linux/arm64'] });
    assert.deepEqual(cfg.registries, []);
  });

  test('TLS files, token realms and connection caps; one connection cannot carry a copy within a registry', () => {
    const cfg = parseNativeConfig(
      {
        version: 1,
        defaults: { timeout: 30, connections: 8 },
        registries: { 'h.io': { caFile: 'certs/ca.pem', certFile: '/abs/c.pem', keyFile: 'k.pem', tokenRealms: ['https://auth.x.io/t'], allowLinkLocal: true, connections: 4 } },
        rules: [{ source: 'h.io/a/b:1', destination: 'r.io/m' }],
      },
      'conf/sync.yaml',
      {},
    );
    assert.deepEqual(cfg.registries[0]?.access, {
      caFile: 'conf/certs/ca.pem',
      certFile: '/abs/c.pem',
      keyFile: 'conf/k.pem',
      tokenRealms: ['https://auth.x.io/t'],
      allowLinkLocal: true,
      connections: 4,
    });
    assert.equal(cfg.defaults.timeout, 30);
    const problems = problemsOf(() =>
      parseNativeConfig({ version: 1, defaults: { connections: 1 }, registries: { 'h.io': { connections: 1 }, 'k.io': { certFile: 'c.pem' } }, rules: [{ source: 'h.io/a/b:1', destination: 'r.io/m' }] }, 'sync.yaml', {}),
    );
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.ok(problems.some((p) => /defaults\.connections: expected a whole number from 2 to 1024/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /registries\.h\.io\.connections: expected a whole number from 2/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /registries\.k\.io: certFile without keyFile: give both for mutual TLS/.test(p)), problems.join('\n'));
  });

  test('maxBytesPerSecond: a bandwidth cap on the registry entry, whole bytes per second from 1024', () => {
    const rules = [{ source: 'h.io/a/b:1', destination: 'r.io/m' }];
    const cfg = parseNativeConfig({ version: 1, registries: { 'h.io': { maxBytesPerSecond: 10_485_760 } }, rules }, 'sync.yaml', {});
    assert.deepEqual(cfg.resolve('h.io', 'a/b'), { maxBytesPerSecond: 10_485_760 });
    for (const bad of [0, 1023, 1.5, '10M', -1, 1e12]) {
      const problems = problemsOf(() => parseNativeConfig({ version: 1, registries: { 'h.io': { maxBytesPerSecond: bad } }, rules }, 'sync.yaml', {}));
      assert.equal(problems.length, 1, `${String(bad)}: ${problems.join('\n')}`);
      assert.match(problems[0]!, /registries\.h\.io\.maxBytesPerSecond: expected bytes per second, a whole number from 1024/);
    }
  });

  test('defaults.fullCheckEvery: a duration (s, m, h, d) or 0, in milliseconds; anything else is one problem', () => {
    const rules = [{ source: 'h.io/a/b:1', destination: 'r.io/m' }];
    const parse = (v: unknown) => parseNativeConfig({ version: 1, defaults: { fullCheckEvery: v }, rules }, 'sync.yaml', {});
    assert.equal(parse('24h').defaults.fullCheckEvery, 86_400_000);
    assert.equal(parse('30m').defaults.fullCheckEvery, 1_800_000);
    assert.equal(parse('7d').defaults.fullCheckEvery, 604_800_000);
    assert.equal(parse(0).defaults.fullCheckEvery, 0);
    assert.equal(parseNativeConfig({ version: 1, rules }, 'sync.yaml', {}).defaults.fullCheckEvery, undefined, 'unset: the built-in 24 h');
    for (const bad of ['soon', '24', '1.5h', -1, 3600, '01h']) {
      const problems = problemsOf(() => parse(bad));
      assert.equal(problems.length, 1, `${String(bad)}: ${problems.join('\n')}`);
      assert.match(problems[0]!, /defaults\.fullCheckEvery: expected a duration such as 30m, 24h or 7d, or 0/);
    }
  });

  test('every problem is listed, each with file and path', () => {
    const problems = problemsOf(() =>
      parseNativeConfig(
        {
          version: 1,
          registries: { 'quay.io': { username: 'u', password: 'p', insecur: true } },
          rules: [
            { source: 'Alpine', destination: 'r.io/m' },
            { source: 'nginx', destination: 'r.io/m', tags: { include: ['('] } },
          ],
        },
        'sync.yaml',
        {},
      ),
    );
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0]!, /^sync\.yaml: registries\.quay\.io: Unrecognized key: "insecur"/);
    assert.match(problems[1]!, /^sync\.yaml: rules\[0\]\.source: .*lowercase/);
    assert.match(problems[2]!, /^sync\.yaml: rules\[1\]\.tags\.include\[0\]: invalid regular expression/);
  });

  test('a missing environment variable is named, with its path', async () => {
    const problems = await problemsOfAsync(
      parse('version: 1\nregistries:\n  docker.io:\n    username: u\n    password: ${env:NOPE_TOKEN}\nrules: [{source: a, destination: r.io/m}]\n'),
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /: registries\.docker\.io\.password: environment variable NOPE_TOKEN is not set$/);
  });

  test('unknown keys are errors, at every level', () => {
    const problems = problemsOf(() =>
      parseNativeConfig({ version: 1, rule: [], defaults: { concurency: 2 }, rules: [{ source: 'a', destination: 'r.io/m', tag: 'x' }] }, 'c.yaml', {}),
    );
    assert.deepEqual(problems, [
      'c.yaml: (top level): Unrecognized key: "rule"',
      'c.yaml: defaults: Unrecognized key: "concurency"',
      'c.yaml: rules[0]: Unrecognized key: "tag"',
    ]);
  });

  test('a bad or missing version says which versions are supported', () => {
    assert.deepEqual(problemsOf(() => parseNativeConfig({ version: 2, whatever: 1 }, 'c.yaml', {})), [
      'c.yaml: version: version 2 is not supported; supported versions: 1',
    ]);
    assert.match(problemsOf(() => parseNativeConfig({ rules: [] }, 'c.yaml', {}))[0]!, /^c\.yaml: version: required \(supported versions: 1\)/);
  });

  test('a tags filter on a source with a tag or digest is a problem', () => {
    const problems = problemsOf(() =>
      parseNativeConfig(
        { version: 1, rules: [{ source: 'quay.io/coreos/etcd:v3.5.0', destination: 'r.io/m', tags: { include: ['^v3'] } }] },
        'c.yaml',
        {},
      ),
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^c\.yaml: rules\[0\]\.tags: only valid when the source is a repository/);
  });

  test('other rule and registry mistakes', () => {
    const problems = problemsOf(() =>
      parseNativeConfig(
        {
          version: 1,
          defaults: { platforms: ['amd64'], retries: 50 },
          registries: { myhost: {}, 'a.io': { username: 'u', password: 'p', dockerConfig: true }, 'b.io': { password: 'p' } },
          rules: [{ source: 'a', destination: ['r.io/m:v1', 'r.io/m@sha256:' + 'b'.repeat(64)], name: 'Bad' }, { source: 'a' }],
        },
        'c.yaml',
        {},
      ),
    );
    const expected = [
      /defaults\.retries: expected a whole number from 0 to 20/,
      /defaults\.platforms\[0\]: expected os\/arch/,
      /registries\.myhost: expected registry host/,
      /registries\.a\.io: username\/password and dockerConfig are mutually exclusive/,
      /registries\.b\.io: password without username/,
      /rules\[0\]\.name: expected a repository name/,
      /rules\[0\]\.destination\[0\]: expected registry\[\/namespace\] without a tag/,
      /rules\[0\]\.destination\[1\]: expected registry\[\/namespace\] without a tag/,
      /rules\[1\]\.destination: /,
    ];
    assert.equal(problems.length, expected.length, problems.join('\n'));
    expected.forEach((re, i) => assert.match(problems[i]!, re));
  });
});

describe('native config: docker config.json credentials', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  test('auths entries: base64 auth, username/password fields, the Docker Hub v1 key, a custom path', async () => {
    const dockerDir = join(dir, 'docker');
    await rm(dockerDir, { recursive: true, force: true });
    await mkdir(dockerDir);
    await writeFile(
      join(dockerDir, 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
          'quay.io': { username: 'qu', password: 'qp' },
          'ghcr.io': {},
        },
        credHelpers: { 'ghcr.io': 'gh', 'gcr.io': 'gcloud' },
      }),
    );
    const other = join(dir, 'other-docker.json');
    await writeFile(other, JSON.stringify({ auths: { 'r.io': { auth: b64('o:p') } } }));
    const rules = [{ source: 'a', destination: 'r.io/m' }];
    const cfg = parseNativeConfig(
      {
        version: 1,
        registries: {
          'docker.io': { dockerConfig: true },
          'quay.io/coreos': { dockerConfig: true },
          'r.io': { dockerConfig: other },
        },
        rules,
      },
      join(dir, 'c.yaml'),
      { DOCKER_CONFIG: dockerDir },
    );
    assert.deepEqual(cfg.resolve('docker.io', 'library/a').credentials, { username: 'hubuser', password: 'hub:pass' });
    assert.deepEqual(cfg.resolve('quay.io', 'coreos/etcd').credentials, { username: 'qu', password: 'qp' });
    assert.deepEqual(cfg.resolve('r.io', 'm/a').credentials, { username: 'o', password: 'p' });

    const problems = problemsOf(() =>
      parseNativeConfig(
        {
          version: 1,
          registries: { 'ghcr.io': { dockerConfig: true }, 'gcr.io': { dockerConfig: true }, 'nope.io': { dockerConfig: true } },
          rules,
        },
        'c.yaml',
        { DOCKER_CONFIG: dockerDir },
      ),
    );
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0]!, /^c\.yaml: registries\.ghcr\.io\.dockerConfig: .*docker-credential-gh; credential helpers are not supported/);
    assert.match(problems[1]!, /^c\.yaml: registries\.gcr\.io\.dockerConfig: .*docker-credential-gcloud/);
    assert.match(problems[2]!, /^c\.yaml: registries\.nope\.io\.dockerConfig: .* has no credentials for nope\.io/);

    const missing = problemsOf(() =>
      parseNativeConfig({ version: 1, registries: { 'a.io': { dockerConfig: true } }, rules }, 'c.yaml', { DOCKER_CONFIG: join(dir, 'none') }),
    );
    assert.match(missing[0]!, /registries\.a\.io\.dockerConfig: cannot read docker config .*none.config\.json: no such file/);
  });
});

describe('loadConfig', () => {
  test('--config with --images, or neither, is refused with a sentence', async () => {
    await assert.rejects(loadConfig({ config: 'a.yaml', images: 'i.json' }, {}), (e: unknown) => e instanceof ConfigError && /either --config or --images/.test(e.message));
    await assert.rejects(loadConfig({}, {}), (e: unknown) => e instanceof ConfigError && /nothing to sync/.test(e.message));
    await assert.rejects(loadConfig({ auth: 'a.json' }, {}), (e: unknown) => e instanceof ConfigError && /add --images/.test(e.message));
  });
});
