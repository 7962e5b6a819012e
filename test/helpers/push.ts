// Seeds registries with test content over the plain registry API. Manifests are compact JSON and
// pushed as exact bytes, so the digests returned here are what a digest-exact copy must reproduce.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { expectStatus, headerValue, registryRequest, withDigest, type Target } from './client.js';
import { tarHeader, storedTarGzip } from './layers.js';

export { streamLayerTo } from './layers.js';

export interface PushedBlob { digest: string; size: number; mediaType: string; diffId?: string }
export interface Platform { os: string; architecture: string; variant?: string }
export interface PushedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** For an index: the union of its children's blobs. */
  blobs: PushedBlob[];
  children?: PushedManifest[];
  platform?: Platform;
}

export const MT = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;
const ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ');

export const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A real tar+gzip layer: one file of `size` random bytes (gzip level 1: random data won't shrink). */
export function randomLayer(size: number): Buffer {
  const pad = (512 - (size % 512)) % 512;
  const tar = Buffer.concat([tarHeader(`file-${randomUUID()}.bin`, size), randomBytes(size), Buffer.alloc(pad + 1024)]);
  return gzipSync(tar, { level: 1 });
}

export async function pushBlob(reg: Target, repo: string, bytes: Buffer, mediaType = 'application/octet-stream'): Promise<PushedBlob> {
  const digest = sha256(bytes);
  const post = await registryRequest(reg, 'POST', `/v2/${repo}/blobs/uploads/`, { repo });
  await expectStatus(post, [202], `POST upload ${repo}`);
  await post.body.dump();
  const put = await registryRequest(reg, 'PUT', withDigest(reg, headerValue(post, 'location')!, digest), {
    repo, body: bytes, headers: { 'content-type': 'application/octet-stream' },
  });
  await expectStatus(put, [201], `PUT blob ${repo}@${digest}`);
  await put.body.dump();
  return { digest, size: bytes.length, mediaType };
}

export async function pushManifest(reg: Target, repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
  const res = await registryRequest(reg, 'PUT', `/v2/${repo}/manifests/${reference}`, {
    repo, body: bytes, headers: { 'content-type': mediaType },
  });
  await expectStatus(res, [201], `PUT manifest ${repo}:${reference}`);
  await res.body.dump();
  const digest = sha256(bytes);
  const echoed = headerValue(res, 'docker-content-digest');
  if (echoed && echoed !== digest) throw new Error(`registry digest ${echoed} != ${digest} for ${repo}:${reference}`);
  return digest;
}

const descriptor = (b: PushedBlob): object => ({ mediaType: b.mediaType, size: b.size, digest: b.digest });

export interface ImageOptions { format: 'docker' | 'oci'; layers: (Buffer | PushedBlob)[]; platform?: Platform }

/** Pushes a single-platform image. Layers given as PushedBlob (e.g. from streamLayerTo) are not re-sent. */
export async function pushImage(reg: Target, repo: string, tag: string | undefined, opts: ImageOptions): Promise<PushedManifest> {
  const docker = opts.format === 'docker';
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers = await Promise.all(opts.layers.map(async (l): Promise<PushedBlob> => {
    const mediaType = docker ? MT.dockerLayer : MT.ociLayer;
    if (!Buffer.isBuffer(l)) return { ...l, mediaType };
    const b = await pushBlob(reg, repo, l, mediaType);
    return { ...b, diffId: sha256(gunzipSync(l)) };
  }));
  // A random id makes every config (hence every manifest) unique, even for identical layers.
  const config = Buffer.from(JSON.stringify({
    architecture: platform.architecture, os: platform.os, ...(platform.variant ? { variant: platform.variant } : {}),
    created: new Date().toISOString(),
    config: { Labels: { 'swrm.test.id': randomUUID() } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId ?? l.digest) },
  }));
  const cfg = await pushBlob(reg, repo, config, docker ? MT.dockerConfig : MT.ociConfig);
  const mediaType = docker ? MT.dockerManifest : MT.ociManifest;
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType, config: descriptor(cfg), layers: layers.map(descriptor),
  }));
  const digest = await pushManifest(reg, repo, tag ?? sha256(bytes), bytes, mediaType);
  return { digest, mediaType, bytes, blobs: [cfg, ...layers], platform };
}

export interface IndexOptions { format: 'docker' | 'oci'; platforms: Platform[]; layers?: Buffer[]; attestation?: boolean }

/** An in-toto attestation manifest the way buildx attaches one (OCI only). */
async function pushAttestation(reg: Target, repo: string, subject: PushedManifest): Promise<PushedManifest> {
  const statement = await pushBlob(reg, repo, Buffer.from(JSON.stringify({
    _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://spdx.dev/Document',
    subject: [{ name: repo, digest: { sha256: subject.digest.slice(7) } }], predicate: { id: randomUUID() },
  })), 'application/vnd.in-toto+json');
  const cfg = await pushBlob(reg, repo, Buffer.from(JSON.stringify({
    architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [statement.digest] },
  })), MT.ociConfig);
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: MT.ociManifest, config: descriptor(cfg),
    layers: [{ ...descriptor(statement), annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } }],
  }));
  const digest = await pushManifest(reg, repo, sha256(bytes), bytes, MT.ociManifest);
  return { digest, mediaType: MT.ociManifest, bytes, blobs: [cfg, statement], platform: { os: 'unknown', architecture: 'unknown' } };
}

/** Multi-platform image: children (and attestations) are pushed by digest before the index. */
export async function pushIndex(reg: Target, repo: string, tag: string | undefined, opts: IndexOptions): Promise<PushedManifest> {
  if (opts.attestation && opts.format !== 'oci') throw new Error('attestations need format oci');
  const docker = opts.format === 'docker';
  // Upload the shared base once; the children then reference it without re-sending.
  const base = await Promise.all((opts.layers ?? [randomLayer(512)]).map(async (l) =>
    ({ ...(await pushBlob(reg, repo, l)), diffId: sha256(gunzipSync(l)) })));
  const images = await Promise.all(opts.platforms.map((platform) =>
    pushImage(reg, repo, undefined, { format: opts.format, layers: base, platform })));
  const attestations = opts.attestation ? await Promise.all(images.map((img) => pushAttestation(reg, repo, img))) : [];
  const entries: object[] = images.map((img) => ({
    mediaType: img.mediaType, size: img.bytes.length, digest: img.digest, platform: img.platform,
  }));
  attestations.forEach((att, i) => entries.push({
    mediaType: att.mediaType, size: att.bytes.length, digest: att.digest,
    annotations: { 'vnd.docker.reference.digest': images[i]!.digest, 'vnd.docker.reference.type': 'attestation-manifest' },
    platform: { architecture: 'unknown', os: 'unknown' },
  }));
  const mediaType = docker ? MT.dockerList : MT.ociIndex;
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: entries }));
  const digest = await pushManifest(reg, repo, tag ?? sha256(bytes), bytes, mediaType);
  const children = [...images, ...attestations];
  const blobs = [...new Map(children.flatMap((c) => c.blobs).map((b) => [b.digest, b])).values()];
  return { digest, mediaType, bytes, blobs, children };
}

export async function deleteManifest(reg: Target, repo: string, digest: string): Promise<void> {
  const res = await registryRequest(reg, 'DELETE', `/v2/${repo}/manifests/${digest}`, { repo });
  await expectStatus(res, [202], `DELETE ${repo}@${digest}`);
  await res.body.dump();
}

export async function getManifest(reg: Target, repo: string, ref: string): Promise<{ digest: string; mediaType: string; bytes: Buffer } | undefined> {
  const res = await registryRequest(reg, 'GET', `/v2/${repo}/manifests/${ref}`, { repo, headers: { accept: ACCEPT } });
  if (res.statusCode === 404) {
    await res.body.dump();
    return undefined;
  }
  await expectStatus(res, [200], `GET manifest ${repo}:${ref}`);
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const digest = sha256(bytes);
  const echoed = headerValue(res, 'docker-content-digest');
  if (echoed && echoed !== digest) throw new Error(`Docker-Content-Digest ${echoed} != sha256 of body ${digest}`);
  const mediaType = (headerValue(res, 'content-type') ?? '').split(';')[0]!.trim()
    || (JSON.parse(bytes.toString()) as { mediaType?: string }).mediaType || '';
  return { digest, mediaType, bytes };
}

export async function blobExists(reg: Target, repo: string, digest: string): Promise<boolean> {
  const res = await registryRequest(reg, 'HEAD', `/v2/${repo}/blobs/${digest}`, { repo });
  await res.body.dump();
  if (res.statusCode === 200) return true;
  if (res.statusCode === 404) return false;
  throw new Error(`HEAD blob ${repo}@${digest}: HTTP ${res.statusCode}`);
}

/** Whole blob, or undefined for 404 (no redirect following: fine for distribution's filesystem driver). */
export async function getBlob(reg: Target, repo: string, digest: string): Promise<Buffer | undefined> {
  const res = await registryRequest(reg, 'GET', `/v2/${repo}/blobs/${digest}`, { repo });
  if (res.statusCode === 404) {
    await res.body.dump();
    return undefined;
  }
  await expectStatus(res, [200], `GET blob ${repo}@${digest}`);
  return Buffer.from(await res.body.arrayBuffer());
}

export async function listTags(reg: Target, repo: string): Promise<string[]> {
  const res = await registryRequest(reg, 'GET', `/v2/${repo}/tags/list?n=10000`, { repo });
  if (res.statusCode === 404) {
    await res.body.dump();
    return [];
  }
  await expectStatus(res, [200], `GET tags ${repo}`);
  return ((await res.body.json()) as { tags?: string[] | null }).tags ?? [];
}

// Re-exported for tests that want the raw generator (e.g. to feed a client under test directly).
export { storedTarGzip };
