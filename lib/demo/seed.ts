// Sample images for the demo, pushed with the tool's own registry client: small random layers,
// a base layer shared by every image, and one two-platform OCI index.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { sha256Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { RegistryClient } from '../registry/types.js';

interface Blob {
  mediaType: string;
  digest: string;
  size: number;
}

async function blobPush(client: RegistryClient, repo: string, bytes: Buffer, mediaType: string): Promise<Blob> {
  const digest = sha256Digest(bytes);
  if ((await client.blobHead(repo, digest)) === undefined) {
    const url = await client.blobUploadStart(repo);
    await client.blobUploadFinish(repo, url, digest, bytes.length, bytes);
  }
  return { mediaType, digest, size: bytes.length };
}

async function imagePush(client: RegistryClient, repo: string, tag: string | undefined, layers: Buffer[], platform: { os: string; architecture: string }): Promise<Blob> {
  const pushed = await Promise.all(layers.map((l) => blobPush(client, repo, l, MediaType.OCI_LAYER_GZIP)));
  const config = Buffer.from(JSON.stringify({ ...platform, created: new Date().toISOString(), rootfs: { type: 'layers', diff_ids: pushed.map((p) => p.digest) }, config: { Labels: { demo: `${repo}:${tag ?? ''}` } } }));
  const cfg = await blobPush(client, repo, config, MediaType.OCI_CONFIG);
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: cfg, layers: pushed }));
  const digest = await client.manifestPut(repo, tag ?? sha256Digest(bytes), bytes, MediaType.OCI_MANIFEST);
  return { mediaType: MediaType.OCI_MANIFEST, digest, size: bytes.length };
}

const layer = (size: number) => gzipSync(randomBytes(size), { level: 1 });

/** Seeds `demo/web` (2 tags), `demo/api` (3 tags), `demo/multiarch` (an index). Returns image count. */
export async function seedDemo(client: RegistryClient): Promise<number> {
  const base = layer(2 * 1024 * 1024);
  let n = 0;
  for (const [repo, tags] of [
    ['demo/web', ['1.0', '1.1']],
    ['demo/api', ['2.0', '2.1', '2.2-rc']],
  ] as const) {
    for (const tag of tags) {
      await imagePush(client, repo, tag, [base, layer(512 * 1024)], { os: 'linux', architecture: 'amd64' });
      n++;
    }
  }
  const children = await Promise.all(
    (['amd64', 'arm64'] as const).map(async (architecture) => ({
      ...(await imagePush(client, 'demo/multiarch', undefined, [base, layer(256 * 1024)], { os: 'linux', architecture })),
      platform: { os: 'linux', architecture },
    })),
  );
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: children }));
  await client.manifestPut('demo/multiarch', 'latest', index, MediaType.OCI_INDEX);
  return n + 1;
}
