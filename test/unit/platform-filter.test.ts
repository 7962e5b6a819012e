import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type FilteredIndex, configPlatform, filterIndex, imageFilteredOut, isImageConfig, platformWanted } from '../../lib/oci/platform-filter.js';
import { parseManifest } from '../../lib/oci/manifest.js';
import { sha256Digest } from '../../lib/oci/digest.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const indexOf = (entries: object[]) => {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
  const m = parseManifest(bytes);
  return { bytes, manifests: m.kind === 'index' ? m.manifests : [] };
};
const entry = (digest: string, platform?: object, more: object = {}) => ({ mediaType: OCI_MANIFEST, digest, size: 10, ...(platform ? { platform } : {}), ...more });
const attestationFor = (digest: string, of: string) =>
  entry(digest, { os: 'unknown', architecture: 'unknown' }, { annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': of } });
const digestsOf = (bytes: Buffer) => {
  const back = parseManifest(bytes);
  return back.kind === 'index' ? back.manifests.map((x) => x.digest) : [];
};
const rewritten = (r: ReturnType<typeof filterIndex>): FilteredIndex => {
  assert.ok(r && !('nothing' in r), `expected a rewritten index, got ${JSON.stringify(r)}`);
  return r;
};

const buildx = indexOf([
  entry(d('a'), { os: 'linux', architecture: 'amd64' }),
  entry(d('b'), { os: 'linux', architecture: 'arm64', variant: 'v8' }),
  attestationFor(d('c'), d('a')),
]);

describe('platformWanted: image-syncer matching (platformValidate, colonMatch)', () => {
  test('os/arch; a wanted arch takes any variant, a wanted variant only that one', () => {
    assert.ok(platformWanted(['linux/arm64'], { os: 'linux', architecture: 'arm64', variant: 'v8' }));
    assert.ok(platformWanted(['linux/arm64/v8'], { os: 'linux', architecture: 'arm64', variant: 'v8' }));
    assert.ok(!platformWanted(['linux/arm64/v7'], { os: 'linux', architecture: 'arm64', variant: 'v8' }));
    assert.ok(!platformWanted(['linux/arm64/v8'], { os: 'linux', architecture: 'arm64' }));
    assert.ok(!platformWanted(['linux/arm'], { os: 'linux', architecture: 'arm64' }));
    assert.ok(!platformWanted(['windows/amd64'], { os: 'linux', architecture: 'amd64' }));
    assert.ok(platformWanted(['linux/s390x', 'linux/amd64'], { os: 'linux', architecture: 'amd64' }));
  });
  test('no platform, or an empty os or architecture, is never a reason to drop', () => {
    assert.ok(platformWanted(['linux/arm64'], undefined));
    assert.ok(platformWanted(['linux/arm64'], {}));
    assert.ok(platformWanted(['linux/arm64'], { os: 'linux' }));
    assert.ok(platformWanted(['linux/arm64'], { architecture: 'arm64' }));
    assert.ok(!platformWanted(['linux/arm64'], { architecture: 'amd64' }));
  });
});

describe('filterIndex', () => {
  test('all platforms wanted: no conversion, the digest stays', () => {
    assert.equal(filterIndex(buildx.bytes, buildx.manifests, ['linux/amd64', 'linux/arm64']), undefined);
  });
  test('one platform kept with its attestation; a new digest over the new bytes', () => {
    const f = rewritten(filterIndex(buildx.bytes, buildx.manifests, ['linux/amd64']));
    assert.deepEqual(f.kept, ['linux/amd64']);
    assert.deepEqual(f.dropped, ['linux/arm64/v8']);
    assert.equal(f.digest, sha256Digest(f.bytes));
    assert.deepEqual(digestsOf(f.bytes), [d('a'), d('c')]);
  });
  test('the attestation of a dropped child goes too', () => {
    const f = rewritten(filterIndex(buildx.bytes, buildx.manifests, ['linux/arm64']));
    assert.deepEqual(digestsOf(f.bytes), [d('b')]);
  });
  test('no wanted entry: nothing to copy, with a reason naming what the image has (not an error)', () => {
    const r = filterIndex(buildx.bytes, buildx.manifests, ['windows/amd64']);
    assert.ok(r && 'nothing' in r);
    assert.match(r.reason, /none of the platforms windows\/amd64 is in this image \(it has linux\/amd64, linux\/arm64\/v8\)/);
  });
  // Issue 13 item 3: the old filter kept by digest, so a dropped platform sharing a kept one's
  // digest stayed in the index (and an index of two such entries was not rewritten at all).
  test('entries are decided by position: a shared digest does not keep a dropped platform', () => {
    const shared = indexOf([
      entry(d('a'), { os: 'linux', architecture: 'amd64' }),
      entry(d('a'), { os: 'linux', architecture: 'arm64' }),
      entry(d('b'), { os: 'linux', architecture: 's390x' }),
      attestationFor(d('c'), d('a')),
      attestationFor(d('e'), d('b')),
    ]);
    const f = rewritten(filterIndex(shared.bytes, shared.manifests, ['linux/amd64']));
    const kept = JSON.parse(f.bytes.toString()) as { manifests: { digest: string; platform: { architecture: string } }[] };
    assert.deepEqual(kept.manifests.map((m) => `${m.digest.slice(7, 8)} ${m.platform.architecture}`), ['a amd64', 'c unknown']);
    assert.deepEqual(f.kept, ['linux/amd64']);
    assert.deepEqual(f.dropped, ['linux/arm64', 'linux/s390x', 'unknown/unknown']);
  });
  // Issue 13 item 4: an index whose entries name no platform (an artifact index, a referrers-tag
  // index) failed every filtered copy with SWRM_UNSUPPORTED; like image-syncer, it is copied whole.
  test('entries with no platform are never dropped: an artifact index is copied whole', () => {
    const artifacts = indexOf([
      entry(d('a'), undefined, { artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' }),
      entry(d('b'), undefined, { artifactType: 'application/spdx+json' }),
    ]);
    assert.equal(filterIndex(artifacts.bytes, artifacts.manifests, ['linux/s390x']), undefined);
    const mixed = indexOf([entry(d('a'), { os: 'linux', architecture: 'amd64' }), entry(d('b'))]);
    assert.deepEqual(digestsOf(rewritten(filterIndex(mixed.bytes, mixed.manifests, ['linux/s390x'])).bytes), [d('b')]);
  });
  test('an empty index has nothing to filter', () => {
    const empty = indexOf([]);
    assert.equal(filterIndex(empty.bytes, empty.manifests, ['linux/amd64']), undefined);
  });
});

describe('single-platform images: the config names the platform', () => {
  test('configPlatform reads os, architecture and variant; anything else is ignored', () => {
    const cfg = (o: unknown) => Buffer.from(JSON.stringify(o));
    assert.deepEqual(configPlatform(cfg({ os: 'linux', architecture: 'arm64', variant: 'v8', rootfs: {} })), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(configPlatform(cfg({ architecture: 'amd64', os: '' })), { architecture: 'amd64' });
    assert.deepEqual(configPlatform(cfg({ os: 7, architecture: null })), {});
    assert.deepEqual(configPlatform(Buffer.from('not json')), {});
    assert.deepEqual(configPlatform(cfg([1, 2])), {});
  });
  test('imageFilteredOut says why, or nothing when wanted or unknown', () => {
    assert.equal(imageFilteredOut({ os: 'linux', architecture: 'amd64' }, ['linux/amd64']), undefined);
    assert.equal(imageFilteredOut({}, ['linux/arm64']), undefined);
    assert.equal(imageFilteredOut({ os: 'linux', architecture: 'amd64' }, ['linux/arm64', 'linux/s390x']), 'the image is linux/amd64, not one of the platforms linux/arm64, linux/s390x');
  });
  test('only image configs carry a platform', () => {
    assert.ok(isImageConfig('application/vnd.oci.image.config.v1+json'));
    assert.ok(isImageConfig('application/vnd.docker.container.image.v1+json'));
    assert.ok(!isImageConfig('application/vnd.oci.empty.v1+json'));
    assert.ok(!isImageConfig('application/vnd.cncf.helm.config.v1+json'));
  });
});
