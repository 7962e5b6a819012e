import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadImageSyncerConfig, parseImagesFile } from '../../lib/config/image-syncer.js';
import { loadConfig } from '../../lib/config/load.js';
import { ConfigError } from '../../lib/errors.js';
import { problemsOf } from '../helpers/config-problems.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swrm-syncer-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const DIGEST = `sha256:${'c'.repeat(64)}`;


describe('image-syncer images file', () => {
  test('every source form', () => {
    const rules = parseImagesFile(
      {
        'quay.io/coreos/etcd': 'r.io/ns/etcd',
        'quay.io/coreos/etcd:v1,v2, v3': 'r.io/ns/etcd',
        'quay.io/coreos/etcd:/^v3\\.[0-9]+:x/$/': 'r.io/ns/etcd',
        [`quay.io/coreos/etcd@${DIGEST}`]: 'r.io/ns/etcd:pinned',
        'quay.io/coreos/etcd:v3.5.0': 'r.io/ns/etcd:stable',
        'localhost:5000/app': 'r.io/ns/app',
        'nginx:1.25': 'r.io/nginx',
        'user/app': 'r.io/app',
      },
      'images.json',
    );
    const [all, exact, regex, digest, one, local, single, user] = rules;
    assert.deepEqual(all, {
      origin: 'images.json: "quay.io/coreos/etcd"',
      source: { registry: 'quay.io', repository: 'coreos/etcd' },
      destinations: [{ registry: 'r.io', repository: 'ns/etcd' }],
    });
    assert.deepEqual(exact?.tags, ['v1', 'v2', 'v3']);
    assert.deepEqual(exact?.source, { registry: 'quay.io', repository: 'coreos/etcd' });
    assert.equal(regex?.tags, undefined);
    assert.deepEqual(regex?.filter, { include: [/^v3\.[0-9]+:x\/$/] });
    assert.deepEqual(regex?.source, { registry: 'quay.io', repository: 'coreos/etcd' });
    assert.equal(digest?.digest, DIGEST);
    assert.deepEqual(digest?.destinations, [{ registry: 'r.io', repository: 'ns/etcd', tag: 'pinned' }]);
    assert.deepEqual(one?.tags, ['v3.5.0']);
    assert.deepEqual(one?.destinations, [{ registry: 'r.io', repository: 'ns/etcd', tag: 'stable' }]);
    assert.deepEqual(local?.source, { registry: 'localhost:5000', repository: 'app' });
    assert.deepEqual(single?.source, { registry: 'docker.io', repository: 'library/nginx' });
    assert.deepEqual(single?.tags, ['1.25']);
    assert.deepEqual(user?.source, { registry: 'docker.io', repository: 'user/app' });
  });

  test('a list fans out to several destinations; a bare destination name means docker.io/library', () => {
    const [rule] = parseImagesFile({ 'alpine:3.19': ['swr.cn-north-4.myhuaweicloud.com/mirror/alpine', 'mirror'] }, 'images.yaml');
    assert.deepEqual(rule?.source, { registry: 'docker.io', repository: 'library/alpine' });
    assert.deepEqual(rule?.destinations, [
      { registry: 'swr.cn-north-4.myhuaweicloud.com', repository: 'mirror/alpine' },
      { registry: 'docker.io', repository: 'library/mirror' },
    ]);
  });

  test('a tagged destination needs a single-tag or digest source; every problem is listed', () => {
    const problems = problemsOf(() =>
      parseImagesFile(
        {
          'quay.io/a:t1,t2': 'r.io/a:t',
          'quay.io/b': ['r.io/b', 'r.io/b:latest'],
          'quay.io/c:/(/': 'r.io/c',
          'Quay.io/D': 'r.io/d',
          'quay.io/e': [],
          [`quay.io/f:t`]: `r.io/f@${DIGEST}`,
        },
        'images.json',
      ),
    );
    const expected = [
      /^images\.json: "quay\.io\/a:t1,t2": destination "r\.io\/a:t" names tag "t", which needs a source with exactly one tag/,
      /^images\.json: "quay\.io\/b"\[1\]: destination "r\.io\/b:latest" names tag/,
      /^images\.json: "quay\.io\/c:\/\(\/": tag pattern \/\(\/: invalid regular expression/,
      /^images\.json: "Quay\.io\/D": .*lowercase/,
      /^images\.json: "quay\.io\/e": expected a destination repository or a non-empty list/,
      /^images\.json: "quay\.io\/f:t": destination .* names a digest/,
    ];
    assert.equal(problems.length, expected.length, problems.join('\n'));
    expected.forEach((re, i) => assert.match(problems[i]!, re));
  });
});

describe('image-syncer --auth + --images', () => {
  test('YAML images file, $VAR expansion, longest-prefix auth, platforms from --os/--arch', async () => {
    const auth = join(dir, 'auth.json');
    const images = join(dir, 'images.yaml');
    await writeFile(
      auth,
      JSON.stringify({
        'quay.io': { username: 'org', password: '$QUAY_PASS' },
        'quay.io/coreos': { username: '${CORE_USER}', password: 'core-pass' },
        'registry.local:5000': { insecure: true },
      }),
    );
    await writeFile(images, `quay.io/coreos/etcd:v3.5.0: registry.local:5000/mirror/etcd\nquay.io/other/app:\n  - registry.local:5000/a\n  - registry.local:5000/b\n`);
    const cfg = await loadConfig({ auth, images, platforms: ['linux/amd64'] }, { QUAY_PASS: 'qp', CORE_USER: 'cu' });
    assert.equal(cfg.source, `${auth} and ${images}`);
    assert.deepEqual(cfg.defaults, { concurrency: 16, retries: 3, platforms: ['linux/amd64'] });
    assert.equal(cfg.rules.length, 2);
    assert.equal(cfg.rules[1]?.destinations.length, 2);
    // Each access also says where its credentials were given, for the hint of a refused login.
    const from = (entry?: string) => ({ file: auth, flag: '--auth', ...(entry ? { entry } : {}) });
    assert.deepEqual(cfg.resolve('quay.io', 'coreos/etcd'), { insecure: false, credentials: { username: 'cu', password: 'core-pass' }, credentialsFrom: from('quay.io/coreos') });
    assert.deepEqual(cfg.resolve('quay.io', 'other/app'), { insecure: false, credentials: { username: 'org', password: 'qp' }, credentialsFrom: from('quay.io') });
    assert.deepEqual(cfg.resolve('registry.local:5000', 'mirror/etcd'), { insecure: true, credentialsFrom: from() });
    assert.deepEqual(cfg.resolve('docker.io', 'library/alpine'), { credentialsFrom: from() });
  });

  test('auth and images problems are reported together; --auth is optional', async () => {
    const auth = join(dir, 'bad-auth.yaml');
    const images = join(dir, 'bad-images.json');
    await writeFile(auth, 'quay.io:\n  username: u\n  password: $NOPE_PASS\n');
    await writeFile(images, JSON.stringify({ 'quay.io/a:t1,t2': 'r.io/a:t' }));
    await assert.rejects(
      loadImageSyncerConfig({ authFile: auth, imagesFile: images, platforms: ['amd64'] }, {}),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.length === 3 &&
        /bad-auth\.yaml:3:13: quay\.io\.password: environment variable NOPE_PASS is not set/.test(e.problems[0]!) &&
        /bad-images\.json:1:20: "quay\.io\/a:t1,t2": destination/.test(e.problems[1]!) &&
        /--os\/--arch: "amd64"/.test(e.problems[2]!),
    );
    const ok = join(dir, 'ok-images.json');
    await writeFile(ok, JSON.stringify({ alpine: 'r.io/alpine' }));
    const cfg = await loadImageSyncerConfig({ imagesFile: ok }, {});
    assert.deepEqual(cfg.registries, []);
    assert.deepEqual(cfg.defaults, { concurrency: 16, retries: 3 });
    assert.deepEqual(cfg.rules[0]?.source, { registry: 'docker.io', repository: 'library/alpine' });
  });
});
