// Keeping only some platforms (`--os/--arch`, `defaults.platforms`), with image-syncer's rules
// (pkg/sync/manifest.go, platformValidate and colonMatch):
// - os and architecture are matched apart, and a platform that leaves one empty is never dropped
//   for it; `linux/arm64` takes any variant, `linux/arm64/v8` only that one;
// - an index keeps its wanted entries; one with no wanted entry is not copied at all ("filtered");
//   an entry that names no platform (an artifact, a referrers index) is never dropped, so an index
//   of such entries is copied whole;
// - a single-platform image is judged by its config's os/architecture/variant (image-syncer reads
//   only a Docker schema 2 config; we read OCI configs the same way).
// Rewriting an index is a conversion: its digest changes (children keep theirs) and the copy
// reports it. Attestations are kept only for the image entries that stay (buildx links them with
// `vnd.docker.reference.digest`).
import { type Descriptor, isAttestation, platformString } from './manifest.js';
import { MediaType } from './media-types.js';
import { sha256Digest } from './digest.js';
import { remoteText } from '../text.js';

export interface PlatformFields {
  os?: string;
  architecture?: string;
  variant?: string;
}

export interface FilteredIndex {
  bytes: Buffer;
  digest: string;
  kept: string[];
  dropped: string[];
}

/** No image entry of the index is wanted: nothing is copied. */
export interface NothingWanted {
  nothing: true;
  reason: string;
}

function parseWanted(w: string): PlatformFields {
  const [os, architecture, variant] = w.split('/');
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/**
 * Whether a platform is among the wanted `os/arch[/variant]` strings. Undefined (no platform at all)
 * or an empty os or architecture is never a reason to drop (image-syncer's platformValidate).
 */
export function platformWanted(wanted: readonly string[], p: PlatformFields | undefined): boolean {
  if (!p) return true;
  return wanted.some((w) => {
    const want = parseWanted(w);
    const osOk = !p.os || p.os === want.os;
    const archOk = !p.architecture || (p.architecture === want.architecture && (!want.variant || p.variant === want.variant));
    return osOk && archOk;
  });
}

/**
 * Per entry, by position (two entries may share a digest yet name different platforms): undefined
 * when every entry stays (nothing to rewrite: the digest stays), NothingWanted when no image entry
 * does, else the rewritten index.
 */
export function filterIndex(bytes: Buffer, manifests: readonly Descriptor[], wanted: readonly string[]): FilteredIndex | NothingWanted | undefined {
  const image = manifests.map((d) => !isAttestation(d));
  const keepImage = manifests.map((d, i) => image[i]! && platformWanted(wanted, d.platform));
  const imageCount = image.filter(Boolean).length;
  if (imageCount > 0 && !keepImage.some(Boolean)) {
    const offered = [...new Set(manifests.filter((_, i) => image[i]).map((d) => platformString(d.platform)))];
    return { nothing: true, reason: `none of the platforms ${wanted.join(', ')} is in this image (it has ${offered.join(', ')})` };
  }
  const keptDigests = new Set(manifests.filter((_, i) => keepImage[i]).map((d) => d.digest));
  const keep = manifests.map((d, i) => (image[i] ? keepImage[i]! : keptDigests.has(String(d.annotations?.['vnd.docker.reference.digest']))));
  if (keep.every(Boolean)) return undefined;
  const json = JSON.parse(bytes.toString('utf8')) as { manifests: unknown[] };
  // The parsed descriptors are the JSON's own entries, in order: the same positions.
  json.manifests = json.manifests.filter((_, i) => keep[i]);
  const out = Buffer.from(JSON.stringify(json));
  return {
    bytes: out,
    digest: sha256Digest(out),
    kept: manifests.filter((_, i) => keep[i] && image[i]).map((d) => platformString(d.platform)),
    dropped: manifests.filter((_, i) => !keep[i]).map((d) => platformString(d.platform)),
  };
}

/** Config media types that describe a runnable image (and so carry its platform). */
export function isImageConfig(mediaType: string): boolean {
  return mediaType === MediaType.OCI_CONFIG || mediaType === MediaType.DOCKER_CONFIG;
}

/** os/architecture/variant of an image config (image-spec config.md); missing or odd fields are left out. */
export function configPlatform(bytes: Uint8Array): PlatformFields {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return {};
  }
  if (typeof json !== 'object' || json === null) return {};
  const o = json as Record<string, unknown>;
  const field = (k: string) => (typeof o[k] === 'string' && o[k] !== '' ? { [k]: remoteText(o[k] as string, 50) } : {});
  return { ...field('os'), ...field('architecture'), ...field('variant') };
}

/** Why a single-platform image is not wanted, or undefined when it is (or names no platform). */
export function imageFilteredOut(p: PlatformFields, wanted: readonly string[]): string | undefined {
  if (platformWanted(wanted, p)) return undefined;
  const name = [p.os ?? '?', p.architecture ?? '?', ...(p.variant ? [p.variant] : [])].join('/');
  return `the image is ${name}, not one of the platforms ${wanted.join(', ')}`;
}

/**
 * The filter as a stable memo key: the output keeps the index's own order, so the order (and
 * repeats) of the wanted list do not change the result, and the key sorts them away. `.v2`: the
 * filter before issue 13 neither read configs nor decided entries by position, so what it
 * remembered under `platforms=` (e.g. "an amd64 image is kept by --arch arm64") must not be reused.
 */
export function platformTransform(wanted: readonly string[]): string {
  return `platforms.v2=${[...new Set(wanted)].sort().join(',')}`;
}

/** The conversion as reports show it. */
export function filterDetail(f: FilteredIndex): string {
  return `platforms kept: ${f.kept.join(', ')}; dropped: ${f.dropped.join(', ')}`;
}
