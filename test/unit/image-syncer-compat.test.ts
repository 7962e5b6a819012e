// image-syncer / image-migrator input forms (issue 9 item 7), piece by piece: docker:// prefixes,
// --os/--arch with arch:variant, duplicate keys, the combined --config, empty destinations,
// identityToken in auth entries, and the success-images output.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { platformsFrom } from '../../lib/cli/pipeline-commands.js';
import { successImages, successImagesFormat } from '../../lib/cli/success-images.js';
import { parseAuthEntries } from '../../lib/config/auth-file.js';
import { findJsonDuplicate } from '../../lib/config/duplicate-keys.js';
import { parseYamlText } from '../../lib/config/source-text.js';
import { parseImagesFile } from '../../lib/config/image-syncer.js';
import { loadConfig } from '../../lib/config/load.js';
import { parseReference, parseRepositoryReference } from '../../lib/oci/reference.js';
import type { ImageOutcome } from '../../lib/pipeline/copier.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swrm-compat-'));
});
after(() => rm(dir, { recursive: true, force: true }));
const file = async (name: string, text: string) => {
  const f = join(dir, name);
  await writeFile(f, text);
  return f;
};

describe('docker:// prefix', () => {
  test('names the same image as without it', () => {
    assert.deepEqual(parseReference('docker://quay.io/a/b:1'), parseReference('quay.io/a/b:1'));
    assert.deepEqual(parseRepositoryReference('docker://alpine'), { registry: 'docker.io', repository: 'library/alpine' });
    assert.throws(() => parseReference('docker://'), /empty after "docker:\/\/"/);
    // Only the docker transport: `oci:` is a directory layout, not a registry.
    assert.throws(() => parseReference('oci://x/y'));
  });

  test('on images-file sources (tag list, regex) and destinations', () => {
    const rules = parseImagesFile(
      { 'docker://quay.io/a/b:t1,t2': 'docker://r.io/ns/b', 'docker://quay.io/a/c:/^v1/': 'r.io/ns/c' },
      'images.yaml',
    );
    assert.deepEqual(rules[0]!.source, { registry: 'quay.io', repository: 'a/b' });
    assert.deepEqual(rules[0]!.tags, ['t1', 't2']);
    assert.deepEqual(rules[0]!.destinations, [{ registry: 'r.io', repository: 'ns/b' }]);
    assert.deepEqual(rules[1]!.source, { registry: 'quay.io', repository: 'a/c' });
    assert.ok(rules[1]!.filter?.include?.[0]?.test('v1.2'));
  });
});

describe('--os / --arch', () => {
  test('repeated flags and comma lists combine; arch:variant is os/arch/variant', () => {
    assert.deepEqual(platformsFrom({ arch: ['amd64', 'arm64:v8,s390x'] }), ['linux/amd64', 'linux/arm64/v8', 'linux/s390x']);
    assert.deepEqual(platformsFrom({ os: ['linux', 'windows'], arch: 'amd64' }), ['linux/amd64', 'windows/amd64']);
    assert.deepEqual(platformsFrom({ os: 'linux,linux', arch: ['amd64', 'amd64'] }), ['linux/amd64']);
    assert.equal(platformsFrom({}), undefined);
    assert.throws(() => platformsFrom({ os: ['linux'] }), /--os needs --arch/);
    assert.throws(() => platformsFrom({ os: 'windows:10.0.17763', arch: 'amd64' }), /os:osversion is not supported/);
  });

  test('a bad platform is still refused with the PLATFORM hint', async () => {
    const images = await file('p.yaml', '"quay.io/a/b:1": r.io/ns/b\n');
    await assert.rejects(loadConfig({ images, platforms: platformsFrom({ arch: 'ARM64:v8' }) }, {}), /"linux\/ARM64\/v8": expected os\/arch/);
  });
});

describe('duplicate keys', () => {
  test('JSON: found by the scanner, with escapes undone and the path to the mapping', () => {
    assert.deepEqual(findJsonDuplicate('{"a": 1, "b": {"x": [1, "a", {"y": 1, "y": 2}]}}'), { path: ['b', 'x', 2], key: 'y' });
    assert.deepEqual(findJsonDuplicate('{"a\\u0062": 1, "ab": 2}'), { path: [], key: 'ab' });
    // A value equal to a key, keys in sibling objects, and `\\"` inside strings are not duplicates.
    assert.equal(findJsonDuplicate('{"a": "a", "b": [{"k": 1}, {"k": 2}], "c\\"": "}{", "d": true}'), undefined);
  });

  test('YAML: the key is named, with its line and the first one\'s', () => {
    assert.deepEqual(parseYamlText('a: 1\nb:\n  x: 1\n  x: 2\n').duplicates, [{ path: ['b'], key: 'x', position: { line: 4, col: 3 }, first: { line: 3, col: 3 } }]);
    assert.deepEqual(parseYamlText('a: 1\nb: 2\n').value, { a: 1, b: 2 });
  });

  test('an images file reports `duplicate source "<key>"` in YAML and in JSON', async () => {
    const yaml = await file('dup.yaml', '"quay.io/a/b:1": r.io/ns/one\n"quay.io/a/b:1": r.io/ns/two\n');
    const json = await file('dup.json', '{"quay.io/a/b:1": "r.io/ns/one", "quay.io/a/b:1": "r.io/ns/two"}');
    await assert.rejects(loadConfig({ images: yaml }, {}), (e: Error) => /duplicate source "quay.io\/a\/b:1"/.test(`${e.message} ${JSON.stringify(e)}`));
    await assert.rejects(loadConfig({ images: json }, {}), (e: Error) => /duplicate source "quay.io\/a\/b:1"/.test(`${e.message} ${JSON.stringify(e)}`));
  });
});

describe('combined --config {auth, images}', () => {
  test('told apart from a native config by content; auth and images both apply', async () => {
    const config = await file(
      'combined.json',
      JSON.stringify({ auth: { 'r.io': { username: 'u', password: '${PASS}' } }, images: { 'quay.io/a/b:1': 'r.io/ns/b' } }),
    );
    const loaded = await loadConfig({ config }, { PASS: 'p' });
    assert.equal(loaded.rules.length, 1);
    assert.deepEqual(loaded.rules[0]!.destinations, [{ registry: 'r.io', repository: 'ns/b' }]);
    assert.equal(loaded.resolve('r.io', 'ns/b').credentials?.password, 'p');
    // A native config is still native (version: 1), and its unknown keys are still refused.
    const native = await file('native.yaml', 'version: 1\nrules:\n  - { source: "quay.io/a/b:1", destination: "r.io/ns" }\n');
    assert.equal((await loadConfig({ config: native }, {})).rules[0]!.destinations[0]!.repository, 'ns/b');
    const dup = await file('combined-dup.yaml', 'images:\n  "quay.io/a/b:1": r.io/x\n  "quay.io/a/b:1": r.io/y\n');
    await assert.rejects(loadConfig({ config: dup }, {}), (e: Error) => /duplicate source "quay.io\/a\/b:1"/.test(`${e.message} ${JSON.stringify(e)}`));
  });

  test('replay needs only its auth part', async () => {
    const config = await file('combined-replay.yaml', 'auth:\n  r.io: { username: u, password: p }\n');
    const loaded = await loadConfig({ config, requireRules: false }, {});
    assert.deepEqual(loaded.rules, []);
    assert.equal(loaded.resolve('r.io', 'x').credentials?.username, 'u');
  });
});

describe('empty destinations', () => {
  test('registry/namespace/<last component of the source>, tags kept; flags over env', async () => {
    const images = await file('empty.yaml', '"quay.io/coreos/etcd:v1,v2": ""\n"quay.io/a/b": ["", "r.io/other/b"]\n');
    const fromFlags = await loadConfig({ images, registry: 'swr.example.com', namespace: 'mirror' }, { DEFAULT_REGISTRY: 'env.io', DEFAULT_NAMESPACE: 'envns' });
    assert.deepEqual(fromFlags.rules[0]!.destinations, [{ registry: 'swr.example.com', repository: 'mirror/etcd' }]);
    assert.deepEqual(fromFlags.rules[0]!.tags, ['v1', 'v2']);
    assert.deepEqual(fromFlags.rules[1]!.destinations, [{ registry: 'swr.example.com', repository: 'mirror/b' }, { registry: 'r.io', repository: 'other/b' }]);
    const fromEnv = await loadConfig({ images }, { DEFAULT_REGISTRY: 'env.io', DEFAULT_NAMESPACE: 'envns' });
    assert.deepEqual(fromEnv.rules[0]!.destinations, [{ registry: 'env.io', repository: 'envns/etcd' }]);
  });

  test('neither flag nor env: a clear error naming both ways', async () => {
    const images = await file('empty2.yaml', '"quay.io/coreos/etcd:v1": ""\n');
    await assert.rejects(loadConfig({ images, registry: 'r.io' }, {}), (e: Error) =>
      /empty destination: give --registry and --namespace \(or DEFAULT_REGISTRY and DEFAULT_NAMESPACE\)/.test(`${e.message} ${JSON.stringify(e)}`));
  });
});

describe('identityToken', () => {
  test('an auth entry with only a token has credentials carrying it; $VAR expanded', () => {
    const [e] = parseAuthEntries({ 'r.io': { identityToken: '$TOK' } }, 'auth.json', { TOK: 'refresh-1' });
    assert.deepEqual(e!.access.credentials, { username: '', password: '', identityToken: 'refresh-1' });
    assert.throws(() => parseAuthEntries({ 'r.io': { identitytoken: 'x' } }, 'auth.json', {}), /identitytoken/);
  });
});

describe('--output-success-images', () => {
  const o = (source: string, destination: string, status: ImageOutcome['status'], kind: ImageOutcome['kind'] = 'copy-image'): ImageOutcome =>
    ({ body: '', kind, source, destination, status, bytes: 0, durationMs: 0, attempt: 1 });

  test('copied and present images, grouped by source, digest destinations as repositories', () => {
    const images = successImages([
      o('q.io/a:1', 'r.io/m/a:1', 'copied'),
      o('q.io/a:1', 'd.io/m/a:1', 'skipped'),
      o('q.io/b:1', 'r.io/m/b:1', 'failed'),
      o('q.io/c@sha256:1', 'r.io/m/c@sha256:2', 'copied'),
      o('q.io/d', 'r.io/m/d', 'expanded', 'expand-repository'),
      // Not at its destination (the platform filter wanted none of it): left out, as image-syncer does.
      o('q.io/e:1', 'r.io/m/e:1', 'filtered'),
    ]);
    assert.deepEqual(images, { 'q.io/a:1': ['d.io/m/a:1', 'r.io/m/a:1'], 'q.io/c@sha256:1': 'r.io/m/c' });
  });

  test('format: yaml by default, json, anything else refused before copying', () => {
    assert.equal(successImagesFormat({ 'output-success-images': 'x' }), 'yaml');
    assert.equal(successImagesFormat({ 'output-success-images': 'x', 'output-images-format': 'json' }), 'json');
    assert.throws(() => successImagesFormat({ 'output-success-images': 'x', 'output-images-format': 'toml' }), /must be yaml or json/);
    assert.throws(() => successImagesFormat({ 'output-images-format': 'json' }), /needs --output-success-images/);
  });
});
