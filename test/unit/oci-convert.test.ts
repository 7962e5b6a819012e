// Pure tests of the Docker media-type conversion (lib/oci/convert.ts): every mapping, every refusal,
// determinism and attestation dropping. No network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveFormat, transformKey, transformsFor } from '../../lib/copy/transforms.js';
import { convertImageManifest, convertIndex, isDockerMediaType } from '../../lib/oci/convert.js';
import { MediaType } from '../../lib/oci/media-types.js';
import { sha256Digest } from '../../lib/oci/digest.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const IMG = 'reg.test/app:1';

function ociManifest(extra: Record<string, unknown> = {}, layerType: string = MediaType.OCI_LAYER_GZIP) {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OCI_MANIFEST,
    config: { mediaType: MediaType.OCI_CONFIG, digest: d('a'), size: 10 },
    layers: [{ mediaType: layerType, digest: d('b'), size: 20, annotations: { z: '1', a: '2' } }],
    annotations: { 'org.opencontainers.image.created': 'now' },
    ...extra,
  } as never;
}

test('OCI manifest -> Docker schema 2: config and layer types mapped, digests and sizes kept', () => {
  const c = convertImageManifest(ociManifest(), IMG);
  const j = JSON.parse(new TextDecoder().decode(c.bytes));
  assert.equal(c.mediaType, MediaType.DOCKER_MANIFEST);
  assert.equal(j.mediaType, MediaType.DOCKER_MANIFEST);
  assert.equal(j.config.mediaType, MediaType.DOCKER_CONFIG);
  assert.equal(j.config.digest, d('a'));
  assert.equal(j.layers[0].mediaType, MediaType.DOCKER_LAYER_GZIP);
  assert.equal(j.layers[0].digest, d('b'));
  assert.equal(j.layers[0].size, 20);
  assert.deepEqual(j.annotations, { 'org.opencontainers.image.created': 'now' }, 'unknown-to-schema-2 fields kept');
  assert.equal(c.digest, sha256Digest(c.bytes));
});

test('conversion is deterministic and canonical: key order of the source does not matter', () => {
  const a = convertImageManifest(ociManifest(), IMG);
  const src = ociManifest() as Record<string, unknown>;
  const shuffled = Object.fromEntries(Object.entries(src).reverse());
  const b = convertImageManifest(shuffled as never, IMG);
  assert.equal(a.digest, b.digest);
  assert.deepEqual(a.bytes, b.bytes);
  const text = new TextDecoder().decode(a.bytes);
  assert.ok(text.startsWith('{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":'));
  assert.ok(!/\s/.test(text.replace(/"[^"]*"/g, '')), 'no whitespace outside strings');
  assert.ok(text.includes('"annotations":{"a":"2","z":"1"}'), 'nested keys sorted');
});

test('refusals name the image and the reason', () => {
  const cases: Array<[unknown, RegExp]> = [
    [ociManifest({}, MediaType.OCI_LAYER_ZSTD), /zstd layer/],
    [ociManifest({}, MediaType.OCI_LAYER_TAR), /uncompressed layer/],
    [ociManifest({ subject: { mediaType: MediaType.OCI_MANIFEST, digest: d('c'), size: 1 } }), /subject/],
    [ociManifest({ artifactType: 'application/vnd.example+json' }), /artifact/],
    [ociManifest({ config: { mediaType: MediaType.OCI_EMPTY, digest: d('a'), size: 2 } }), /non-image artifact/],
  ];
  for (const [m, re] of cases) {
    assert.throws(
      () => convertImageManifest(m as never, IMG),
      (e: Error & { code?: string }) => e.code === 'SWRM_UNCONVERTIBLE' && e.message.includes(IMG) && re.test(e.message),
    );
  }
});

test('OCI index -> Docker list: children rewritten to their new descriptors, attestations dropped and returned', () => {
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OCI_INDEX,
    manifests: [
      { mediaType: MediaType.OCI_MANIFEST, digest: d('1'), size: 100, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MediaType.OCI_MANIFEST, digest: d('2'), size: 100, platform: { architecture: 'arm64', os: 'linux' } },
      { mediaType: MediaType.OCI_MANIFEST, digest: d('3'), size: 50, platform: { os: 'unknown', architecture: 'unknown' } },
    ],
  };
  const children = new Map([
    [d('1'), { digest: d('4'), size: 99, mediaType: MediaType.DOCKER_MANIFEST }],
    [d('2'), { digest: d('5'), size: 98, mediaType: MediaType.DOCKER_MANIFEST }],
  ]);
  const c = convertIndex(index as never, IMG, children);
  const j = JSON.parse(new TextDecoder().decode(c.bytes));
  assert.equal(j.mediaType, MediaType.DOCKER_MANIFEST_LIST);
  assert.deepEqual(j.manifests.map((m: { digest: string }) => m.digest), [d('4'), d('5')]);
  assert.equal(j.manifests[1].size, 98);
  assert.deepEqual(j.manifests[1].platform, { architecture: 'arm64', os: 'linux' });
  assert.equal(c.dropped.length, 1);
  assert.equal(c.dropped[0]!['digest'], d('3'));
  assert.equal(convertIndex(index as never, IMG, children).digest, c.digest, 'deterministic');
});

test('an index child that was not converted, or an artifact index, is refused (never half an index)', () => {
  const index = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [{ mediaType: MediaType.OCI_MANIFEST, digest: d('1'), size: 1 }] };
  assert.throws(() => convertIndex(index as never, IMG, new Map()), /was not converted/);
  assert.throws(() => convertIndex({ ...index, artifactType: 'x/y' } as never, IMG, new Map()), /artifact/);
});

test('helpers: Docker types are recognised; the memo transform key is stable', () => {
  assert.ok(isDockerMediaType(MediaType.DOCKER_MANIFEST_LIST));
  assert.ok(!isDockerMediaType(MediaType.OCI_INDEX));
  assert.equal(transformKey(transformsFor({ format: 'docker' })), 'format=docker');
  assert.equal(transformKey(transformsFor({ format: 'docker', platforms: ['linux/arm64', 'linux/amd64'] })), 'platforms.v2=linux/amd64,linux/arm64;format=docker');
  assert.equal(transformKey(transformsFor({ format: 'keep' })), undefined);
  assert.equal(resolveFormat(undefined, { swr: { convertToDocker: true } as never }), 'docker');
  assert.equal(resolveFormat(undefined, { swr: { convertToDocker: false } as never }), 'keep');
  assert.equal(resolveFormat('keep', { swr: { convertToDocker: true } as never }), 'keep');
  assert.equal(resolveFormat(undefined, {}), 'keep');
});
