// Keeping only some platforms of an index. This is a conversion: the index is rewritten, so its
// digest changes (children keep theirs) and the copy reports it. Attestations are kept only for
// the children that stay (buildx links them with `vnd.docker.reference.digest`).
import { UnsupportedError } from '../errors.js';
import { type Descriptor, isAttestation, platformString } from './manifest.js';
import { sha256Digest } from './digest.js';

export interface FilteredIndex {
  bytes: Buffer;
  digest: string;
  kept: string[];
  dropped: string[];
}

/** `linux/arm64` matches `linux/arm64/v8`; `linux/arm64/v8` matches only that variant. */
export function platformMatches(wanted: string, actual: string): boolean {
  return actual === wanted || actual.startsWith(`${wanted}/`);
}

/** undefined when every child is wanted (nothing to rewrite: the digest stays). */
export function filterIndex(bytes: Buffer, manifests: readonly Descriptor[], wanted: readonly string[]): FilteredIndex | undefined {
  const images = manifests.filter((d) => !isAttestation(d));
  const keep = new Set(images.filter((d) => wanted.some((w) => platformMatches(w, platformString(d.platform)))).map((d) => d.digest));
  if (keep.size === 0) {
    const offered = images.map((d) => platformString(d.platform)).join(', ');
    throw new UnsupportedError(`none of the platforms ${wanted.join(', ')} is in this image (it has ${offered})`);
  }
  const kept = manifests.filter((d) =>
    isAttestation(d) ? keep.has(String(d.annotations?.['vnd.docker.reference.digest'])) : keep.has(d.digest),
  );
  if (kept.length === manifests.length) return undefined;
  const json = JSON.parse(bytes.toString('utf8')) as { manifests: unknown[] };
  const keptDigests = new Set(kept.map((d) => d.digest));
  json.manifests = json.manifests.filter((m) => keptDigests.has((m as { digest: string }).digest));
  const out = Buffer.from(JSON.stringify(json));
  return {
    bytes: out,
    digest: sha256Digest(out),
    kept: kept.filter((d) => !isAttestation(d)).map((d) => platformString(d.platform)),
    dropped: manifests.filter((d) => !keptDigests.has(d.digest)).map((d) => platformString(d.platform)),
  };
}

/**
 * The filter as a stable memo key: the output keeps the index's own order, so the order (and
 * repeats) of the wanted list do not change the result, and the key sorts them away.
 */
export function platformTransform(wanted: readonly string[]): string {
  return `platforms=${[...new Set(wanted)].sort().join(',')}`;
}

/** The conversion as reports show it. */
export function filterDetail(f: FilteredIndex): string {
  return `platforms kept: ${f.kept.join(', ')}; dropped: ${f.dropped.join(', ')}`;
}
