// The Docker-format step of the copy engine's transform seam (transforms.ts; issue 8, item 5):
// converts a fetched OCI manifest, or an OCI index and every one of its children, before anything
// is pushed ("never push half an index": a child that cannot be converted refuses the whole image
// while nothing is written yet). Children return their new descriptors, so the parent list is
// rewritten with their new digests.
import { UnconvertibleError } from '../errors.js';
import { convertImageManifest, convertIndex, isDockerMediaType, isUnknownPlatform } from '../oci/convert.js';
import { parseManifest } from '../oci/manifest.js';
import type { ManifestData } from '../registry/types.js';
import type { BlobEndpoint } from './blob-copy.js';
import type { Prepared, Transformed } from './transforms.js';

function converted(c: { bytes: Uint8Array; digest: string; mediaType: string }): Prepared {
  const bytes = Buffer.from(c.bytes);
  const data: ManifestData = { bytes, digest: c.digest, mediaType: c.mediaType, size: bytes.length };
  return { data, manifest: parseManifest(bytes, c.mediaType) };
}

function json(data: ManifestData): Record<string, never> {
  return JSON.parse(data.bytes.toString('utf8')) as Record<string, never>;
}

export async function dockerPrepare(from: BlobEndpoint, top: Prepared, image: string, signal: AbortSignal | undefined): Promise<Transformed> {
  if (isDockerMediaType(top.manifest.mediaType)) return { ...top, children: [] };
  if (top.manifest.kind === 'image') return { ...converted(convertImageManifest(json(top.data), image)), children: [], conversion: 'format=docker' };
  const children: Prepared[] = [];
  const map = new Map<string, { digest: string; size: number; mediaType: string }>();
  const fetch = top.manifest.manifests.filter((child) => !isUnknownPlatform(child as never));
  // Every child is fetched before anything is pushed: the GETs this run has not made already are
  // reserved at once (pull budget), so a conversion never stops half-way for the budget.
  const missing = fetch.filter((child) => !from.manifests?.get(child.digest)).length;
  if (missing) await from.reserveGets?.(missing);
  for (const child of fetch) {
    const known = from.manifests?.get(child.digest);
    const data = known ?? (await from.client.manifestGet(from.repository, child.digest, signal));
    if (!known) from.manifests?.put(data);
    const manifest = parseManifest(data.bytes, data.mediaType);
    // A Docker manifest list cannot hold another list (schema 2 spec): nothing to map it to.
    if (manifest.kind !== 'image') throw new UnconvertibleError(`${image}: cannot convert to Docker media types: child ${child.digest} is itself an index (nested indexes have no Docker form)`);
    const prepared = isDockerMediaType(manifest.mediaType)
      ? { data, manifest }
      : converted(convertImageManifest(json(data), `${image} (child ${child.digest})`));
    children.push(prepared);
    map.set(child.digest, { digest: prepared.data.digest, size: prepared.data.bytes.length, mediaType: prepared.manifest.mediaType });
  }
  const list = convertIndex(json(top.data), image, map);
  const dropped = list.dropped.length ? `; dropped ${list.dropped.length} unknown/unknown attestation(s)` : '';
  return { ...converted(list), children, conversion: `format=docker${dropped}` };
}
