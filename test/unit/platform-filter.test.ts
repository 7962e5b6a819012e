import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { filterIndex, platformMatches } from '../../lib/oci/platform-filter.js';
import { parseManifest } from '../../lib/oci/manifest.js';
import { sha256Digest } from '../../lib/oci/digest.js';
import { UnsupportedError } from '../../lib/errors.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const index = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('a'), size: 10, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('b'), size: 10, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: d('c'),
        size: 10,
        platform: { os: 'unknown', architecture: 'unknown' },
        annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': d('a') },
      },
    ],
  }),
);
const m = parseManifest(index);
const manifests = m.kind === 'index' ? m.manifests : [];

describe('platform filter', () => {
  test('matching', () => {
    assert.ok(platformMatches('linux/arm64', 'linux/arm64/v8'));
    assert.ok(!platformMatches('linux/arm64/v7', 'linux/arm64/v8'));
    assert.ok(!platformMatches('linux/arm', 'linux/arm64'));
  });
  test('all platforms wanted: no conversion, the digest stays', () => {
    assert.equal(filterIndex(index, manifests, ['linux/amd64', 'linux/arm64']), undefined);
  });
  test('one platform kept with its attestation; a new digest over the new bytes', () => {
    const f = filterIndex(index, manifests, ['linux/amd64'])!;
    assert.deepEqual(f.kept, ['linux/amd64']);
    assert.deepEqual(f.dropped, ['linux/arm64/v8']);
    assert.equal(f.digest, sha256Digest(f.bytes));
    const back = parseManifest(f.bytes);
    assert.deepEqual(back.kind === 'index' && back.manifests.map((x) => x.digest), [d('a'), d('c')]);
  });
  test('the attestation of a dropped child goes too', () => {
    const f = filterIndex(index, manifests, ['linux/arm64'])!;
    const back = parseManifest(f.bytes);
    assert.deepEqual(back.kind === 'index' && back.manifests.map((x) => x.digest), [d('b')]);
  });
  test('no match is a clear error naming what the image has', () => {
    assert.throws(() => filterIndex(index, manifests, ['windows/amd64']), (e: unknown) => e instanceof UnsupportedError && /linux\/amd64, linux\/arm64\/v8/.test(e.message));
  });
});
