// The Docker-format transform of the copy engine (issue 8, item 5): converts a fetched OCI manifest,
// or an OCI index and every one of its children, before anything is pushed ("never push half an
// index": a child that cannot be converted refuses the whole image while nothing is written yet).
// Children return their new descriptors, so the parent list is rewritten with their new digests.
import { convertImageManifest, convertIndex, isDockerMediaType, isUnknownPlatform } from '../oci/convert.js';
import { type ParsedManifest, parseManifest } from '../oci/manifest.js';
import type { ManifestData } from '../registry/types.js';
import type { BlobEndpoint } from './blob-copy.js';

export interface Prepared {
  data: ManifestData;
  manifest: ParsedManifest;
}

export interface DockerPrepared extends Prepared {
  /** Converted children of an index, to push (blobs, then manifest) before the list. */
  children: Prepared[];
  /** For reports; undefined when the source was Docker-typed already (pushed byte-exact). */
  conversion?: string;
}

function converted(c: { bytes: Uint8Array; digest: string; mediaType: string }): Prepared {
  const bytes = Buffer.from(c.bytes);
  const data: ManifestData = { bytes, digest: c.digest, mediaType: c.mediaType, size: bytes.length };
  return { data, manifest: parseManifest(bytes, c.mediaType) };
}

function json(data: ManifestData): Record<string, never> {
  return JSON.parse(data.bytes.toString('utf8')) as Record<string, never>;
}

export async function dockerPrepare(
  from: BlobEndpoint,
  top: Prepared,
  image: string,
  signal: AbortSignal | undefined,
): Promise<DockerPrepared> {
  if (isDockerMediaType(top.manifest.mediaType)) return { ...top, children: [] };
  if (top.manifest.kind === 'image') return { ...converted(convertImageManifest(json(top.data), image)), children: [], conversion: 'format=docker' };
  const children: Prepared[] = [];
  const map = new Map<string, { digest: string; size: number; mediaType: string }>();
  for (const child of top.manifest.manifests) {
    if (isUnknownPlatform(child as never)) continue;
    const data = await from.client.manifestGet(from.repository, child.digest, signal);
    const manifest = parseManifest(data.bytes, data.mediaType);
    if (manifest.kind !== 'image') throw new Error(`${image}: nested index ${child.digest} is not supported for format docker`);
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
