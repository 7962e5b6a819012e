// The platform of a single-platform image lives in its config blob, not its manifest (image-spec
// config.md: os, architecture, variant), so filtering one by platform reads the config, as
// image-syncer does. A blob GET: Docker Hub counts manifest GETs against its pull budget, not blob
// GETs. The config is small; it is read whole, bounded and verified against its digest.
import { ManifestInvalidError } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import { type PlatformFields, configPlatform, isImageConfig } from '../oci/platform-filter.js';
import type { BlobEndpoint } from './blob-copy.js';
import { verifiedStream } from './verified-stream.js';

/** containers/image's limit for config blobs (iolimits.MaxConfigBodySize), which image-syncer uses. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/**
 * The platform an image manifest's config names; undefined when the config is not an image config
 * (an artifact: a signature, an SBOM, a Helm chart), which has no platform to filter on.
 */
export async function readConfigPlatform(from: BlobEndpoint, config: Descriptor, image: string, signal?: AbortSignal): Promise<PlatformFields | undefined> {
  if (!isImageConfig(config.mediaType)) return undefined;
  if (config.size > MAX_CONFIG_BYTES) {
    throw new ManifestInvalidError(`${image}: config ${config.digest} is ${config.size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit for configs; cannot read its platform`);
  }
  const blob = await from.client.blobGet(from.repository, config.digest, signal);
  const chunks: Uint8Array[] = [];
  for await (const chunk of verifiedStream(blob.body, config.digest, config.size)) chunks.push(chunk);
  return configPlatform(Buffer.concat(chunks));
}
