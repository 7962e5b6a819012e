import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManifestInvalidError, UnsupportedError } from '../../lib/errors.js';
import { sha256Digest } from '../../lib/oci/digest.js';
import {
  type Descriptor,
  MAX_MANIFEST_BYTES,
  blobDescriptors,
  isAttestation,
  parseManifest,
  platformString,
} from '../../lib/oci/manifest.js';
import {
  MANIFEST_ACCEPT,
  MediaType,
  isImageManifestMediaType,
  isIndexMediaType,
  isSchema1MediaType,
} from '../../lib/oci/media-types.js';

const dg = (seed: string): string => sha256Digest(new TextEncoder().encode(seed));
const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value, null, 3));

// Shaped like `docker manifest inspect alpine` and a buildx multi-platform push with attestations.
const dockerManifest = {
  schemaVersion: 2,
  mediaType: MediaType.DOCKER_MANIFEST,
  config: { mediaType: MediaType.DOCKER_CONFIG, size: 1471, digest: dg('config') },
  layers: [{ mediaType: MediaType.DOCKER_LAYER_GZIP, size: 3623807, digest: dg('layer0') }],
};
const dockerList = {
  schemaVersion: 2,
  mediaType: MediaType.DOCKER_MANIFEST_LIST,
  manifests: [
    { mediaType: MediaType.DOCKER_MANIFEST, size: 528, digest: dg('amd64'), platform: { architecture: 'amd64', os: 'linux' } },
    {
      mediaType: MediaType.DOCKER_MANIFEST,
      size: 528,
      digest: dg('arm64'),
      platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
    },
  ],
};
const ociManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OCI_MANIFEST,
  config: { mediaType: MediaType.OCI_CONFIG, digest: dg('oci-config'), size: 7023 },
  layers: [
    { mediaType: MediaType.OCI_LAYER_GZIP, digest: dg('l1'), size: 32654 },
    { mediaType: MediaType.OCI_LAYER_ZSTD, digest: dg('l2'), size: 16724 },
  ],
  annotations: { 'org.opencontainers.image.created': '2024-05-01T00:00:00Z' },
};
const attestationEntry = {
  mediaType: MediaType.OCI_MANIFEST,
  digest: dg('attestation'),
  size: 566,
  annotations: {
    'vnd.docker.reference.digest': dg('amd64'),
    'vnd.docker.reference.type': 'attestation-manifest',
  },
  platform: { architecture: 'unknown', os: 'unknown' },
};
const ociIndex = {
  schemaVersion: 2,
  mediaType: MediaType.OCI_INDEX,
  manifests: [
    { mediaType: MediaType.OCI_MANIFEST, digest: dg('amd64'), size: 1612, platform: { architecture: 'amd64', os: 'linux' } },
    attestationEntry,
  ],
};
const schema1 = {
  schemaVersion: 1,
  name: 'library/hello',
  tag: 'latest',
  architecture: 'amd64',
  fsLayers: [{ blobSum: dg('s1') }],
  history: [{ v1Compatibility: '{}' }],
};
const withoutMediaType = (m: Record<string, unknown>): Record<string, unknown> => {
  const { mediaType: _dropped, ...rest } = m;
  return rest;
};

describe('parseManifest accepts each kind', () => {
  test('Docker v2 manifest', () => {
    const m = parseManifest(bytes(dockerManifest), MediaType.DOCKER_MANIFEST);
    assert.equal(m.kind, 'image');
    assert.equal(m.mediaType, MediaType.DOCKER_MANIFEST);
    assert.deepEqual(blobDescriptors(m).map((d) => d.digest), [dg('config'), dg('layer0')]);
  });
  test('Docker manifest list', () => {
    const m = parseManifest(bytes(dockerList));
    assert.ok(m.kind === 'index');
    assert.equal(m.mediaType, MediaType.DOCKER_MANIFEST_LIST);
    assert.deepEqual(m.manifests.map((d) => platformString(d.platform)), ['linux/amd64', 'linux/arm64/v8']);
    assert.deepEqual(blobDescriptors(m), []);
  });
  test('OCI manifest', () => {
    const m = parseManifest(bytes(ociManifest));
    assert.ok(m.kind === 'image');
    assert.equal(m.layers.length, 2);
    assert.equal(m.config.size, 7023);
    assert.equal(m.subject, undefined);
  });
  test('unknown fields are allowed and kept (both specs permit extensions)', () => {
    const extended = structuredClone(ociManifest) as typeof ociManifest & Record<string, unknown>;
    extended['x-vendor'] = { built: true };
    Object.assign(extended.layers[0]!, { 'x-cache': 'hit' });
    const m = parseManifest(bytes(extended));
    assert.ok(m.kind === 'image');
    assert.equal(m.layers[0]?.['x-cache'], 'hit');
  });
  test('OCI index', () => {
    const m = parseManifest(bytes(ociIndex), `${MediaType.OCI_INDEX}; charset=utf-8`);
    assert.ok(m.kind === 'index');
    assert.equal(m.mediaType, MediaType.OCI_INDEX);
    assert.deepEqual(m.manifests.map(isAttestation), [false, true]);
  });
  test('OCI 1.1 artifact with subject and artifactType', () => {
    const artifact = {
      schemaVersion: 2,
      mediaType: MediaType.OCI_MANIFEST,
      artifactType: 'application/vnd.example.sbom.v1+json',
      config: { mediaType: MediaType.OCI_EMPTY, digest: dg('{}'), size: 2, data: 'e30=' },
      layers: [{ mediaType: 'application/spdx+json', digest: dg('sbom'), size: 1024 }],
      subject: { mediaType: MediaType.OCI_MANIFEST, digest: dg('amd64'), size: 1612 },
    };
    const m = parseManifest(bytes(artifact));
    assert.equal(m.artifactType, 'application/vnd.example.sbom.v1+json');
    assert.equal(m.subject?.digest, dg('amd64'));
  });
});

describe('parseManifest resolves the media type', () => {
  const cases: Array<[string, Record<string, unknown>, string | undefined, string, 'image' | 'index']> = [
    ['OCI manifest without mediaType or header', withoutMediaType(ociManifest), undefined, MediaType.OCI_MANIFEST, 'image'],
    ['OCI index without mediaType or header', withoutMediaType(ociIndex), undefined, MediaType.OCI_INDEX, 'index'],
    ['generic Content-Type falls back to structure', withoutMediaType(ociIndex), 'application/json', MediaType.OCI_INDEX, 'index'],
    ['Content-Type when the field is absent', withoutMediaType(dockerManifest), MediaType.DOCKER_MANIFEST, MediaType.DOCKER_MANIFEST, 'image'],
    ['JSON field wins over Content-Type', dockerList, MediaType.OCI_INDEX, MediaType.DOCKER_MANIFEST_LIST, 'index'],
  ];
  for (const [name, json, contentType, mediaType, kind] of cases) {
    test(name, () => {
      const m = parseManifest(bytes(json), contentType);
      assert.equal(m.mediaType, mediaType);
      assert.equal(m.kind, kind);
    });
  }
});

describe('parseManifest refuses', () => {
  const unsupported: Array<[string, Uint8Array, string | undefined, RegExp]> = [
    ['schema1 by schemaVersion', bytes(schema1), undefined, /Docker schema 1 .*re-push/],
    ['schema1 by Content-Type', bytes({ ...schema1, schemaVersion: undefined }), MediaType.DOCKER_SCHEMA1_SIGNED, /schema 1/],
    ['schema1 by mediaType field', bytes({ ...schema1, schemaVersion: 2, mediaType: MediaType.DOCKER_SCHEMA1 }), undefined, /schema 1/],
    [
      'unknown mediaType field',
      bytes({ ...ociManifest, mediaType: 'application/vnd.oci.artifact.manifest.v1+json' }),
      undefined,
      /"application\/vnd\.oci\.artifact\.manifest\.v1\+json"/,
    ],
    ['unknown Content-Type, no structure', bytes({ schemaVersion: 2 }), 'application/vnd.example+json', /"application\/vnd\.example\+json"/],
  ];
  for (const [name, input, contentType, message] of unsupported) {
    test(`${name} with UnsupportedError`, () => {
      assert.throws(
        () => parseManifest(input, contentType),
        (err: unknown) => err instanceof UnsupportedError && message.test(err.message),
      );
    });
  }

  const badDigest = structuredClone(ociManifest);
  badDigest.layers[1]!.digest = 'sha256:1234';
  const negativeSize = structuredClone(dockerManifest);
  negativeSize.config.size = -1;
  const invalid: Array<[string, Uint8Array, RegExp]> = [
    ['garbage bytes', new TextEncoder().encode('<html>502 Bad Gateway</html>'), /not valid JSON/],
    ['invalid UTF-8', Uint8Array.of(0x7b, 0xff, 0x7d), /not valid JSON/],
    ['a JSON array', bytes([dockerManifest]), /not a JSON object/],
    ['JSON null', bytes(null), /not a JSON object/],
    ['no structure at all', bytes({ schemaVersion: 2 }), /no mediaType, config or manifests/],
    ['bad layer digest, with its path', bytes(badDigest), /at layers\[1\]\.digest: .*64 hex/],
    ['negative size, with its path', bytes(negativeSize), /at config\.size/],
    ['missing layers', bytes({ ...dockerManifest, layers: undefined }), /at layers/],
    ['index media type with image body', bytes({ ...ociManifest, mediaType: MediaType.OCI_INDEX }), /at manifests/],
    ['wrong schemaVersion', bytes({ ...ociIndex, schemaVersion: 3 }), /at schemaVersion/],
    ['non-string mediaType', bytes({ ...ociIndex, mediaType: 7 }), /mediaType is not a string/],
    ['over 4 MiB', new Uint8Array(MAX_MANIFEST_BYTES + 1), /over the 4194304-byte limit/],
  ];
  for (const [name, input, message] of invalid) {
    test(`${name} with ManifestInvalidError`, () => {
      assert.throws(
        () => parseManifest(input),
        (err: unknown) => err instanceof ManifestInvalidError && message.test(err.message),
      );
    });
  }
});

describe('isAttestation', () => {
  const base: Descriptor = { mediaType: MediaType.OCI_MANIFEST, digest: dg('x'), size: 1 };
  const cases: Array<[string, Descriptor, boolean]> = [
    ['buildx attestation entry', attestationEntry, true],
    ['unknown/unknown platform only', { ...base, platform: { os: 'unknown', architecture: 'unknown' } }, true],
    ['annotation only', { ...base, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }, true],
    ['linux/amd64 image', { ...base, platform: { os: 'linux', architecture: 'amd64' } }, false],
    ['unknown os, real arch', { ...base, platform: { os: 'unknown', architecture: 'amd64' } }, false],
    ['no platform', base, false],
    ['other reference type', { ...base, annotations: { 'vnd.docker.reference.type': 'signature' } }, false],
  ];
  for (const [name, d, expected] of cases) {
    test(name, () => assert.equal(isAttestation(d), expected));
  }
});

describe('platformString', () => {
  const cases: Array<[Descriptor['platform'], string]> = [
    [{ os: 'linux', architecture: 'amd64' }, 'linux/amd64'],
    [{ os: 'linux', architecture: 'arm', variant: 'v7' }, 'linux/arm/v7'],
    [{ os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }, 'windows/amd64'],
    [undefined, 'unknown'],
  ];
  for (const [p, expected] of cases) {
    test(expected, () => assert.equal(platformString(p), expected));
  }
});

describe('media types', () => {
  test('MANIFEST_ACCEPT lists exactly the four schema-2/OCI manifest types', () => {
    assert.deepEqual(MANIFEST_ACCEPT.split(', ').sort(), [
      MediaType.DOCKER_MANIFEST_LIST,
      MediaType.DOCKER_MANIFEST,
      MediaType.OCI_INDEX,
      MediaType.OCI_MANIFEST,
    ].sort());
  });
  const cases: Array<[string, boolean, boolean, boolean]> = [
    [MediaType.OCI_INDEX, true, false, false],
    [MediaType.DOCKER_MANIFEST_LIST, true, false, false],
    [MediaType.OCI_MANIFEST, false, true, false],
    [`${MediaType.DOCKER_MANIFEST}; charset=utf-8`, false, true, false],
    [MediaType.DOCKER_SCHEMA1, false, false, true],
    [MediaType.DOCKER_SCHEMA1_SIGNED, false, false, true],
    [MediaType.OCI_CONFIG, false, false, false],
  ];
  for (const [mt, index, image, schema1Type] of cases) {
    test(mt, () => {
      assert.equal(isIndexMediaType(mt), index);
      assert.equal(isImageManifestMediaType(mt), image);
      assert.equal(isSchema1MediaType(mt), schema1Type);
    });
  }
});
