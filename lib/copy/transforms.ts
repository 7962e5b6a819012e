// The transform seam of the copy engine (issue 8, item 5). A fetched top manifest goes through the
// steps in order before anything is pushed; a step may rewrite the manifest and return converted
// children, so a parent names its children's new digests. Two steps exist: the platform filter
// (drops index entries, or the whole image: `filtered`) and the Docker format conversion
// (transform-docker.ts). Both `copy` and `verify` use the same chain, so what verify expects is
// exactly what a copy pushes.
import { parseManifest, type ParsedManifest } from '../oci/manifest.js';
import { filterDetail, filterIndex, imageFilteredOut, platformTransform } from '../oci/platform-filter.js';
import type { ManifestData } from '../registry/types.js';
import type { RegistryAccess } from '../registry/pool.js';
import type { BlobEndpoint } from './blob-copy.js';
import { readConfigPlatform } from './config-platform.js';
import { dockerPrepare } from './transform-docker.js';

export type Format = 'keep' | 'docker';

export interface Prepared {
  data: ManifestData;
  manifest: ParsedManifest;
}

export interface Transformed extends Prepared {
  /** Converted children of an index, pushed (blobs, then manifest) before the index itself. */
  children: Prepared[];
  /** What was changed, for reports; undefined when every step left the bytes as they were. */
  conversion?: string;
  /** Set when the platform filter wants none of the image: why. Nothing is pushed; later steps do not run. */
  filtered?: string;
}

export interface TransformStep {
  /** This step's part of the digest memo key (lib/state/digest-memo.ts); stable across runs. */
  readonly key: string;
  apply(from: BlobEndpoint, t: Transformed, image: string, signal?: AbortSignal): Promise<Transformed>;
}

/**
 * Keep only some platforms: an index loses its other entries (or is filtered whole when none is
 * wanted); a single-platform image is filtered whole when its config names another platform.
 */
export function platformStep(platforms: readonly string[]): TransformStep {
  return {
    key: platformTransform(platforms),
    async apply(from, t, image, signal) {
      if (t.manifest.kind === 'image') {
        const platform = await readConfigPlatform(from, t.manifest.config, image, signal);
        const why = platform && imageFilteredOut(platform, platforms);
        return why ? { ...t, filtered: why } : t;
      }
      const filtered = filterIndex(t.data.bytes, t.manifest.manifests, platforms);
      if (!filtered) return t;
      if ('nothing' in filtered) return { ...t, filtered: filtered.reason };
      // The index digest changes, the children's do not.
      const data: ManifestData = { ...t.data, bytes: filtered.bytes, digest: filtered.digest, size: filtered.bytes.length };
      return { ...t, data, manifest: parseManifest(data.bytes, t.manifest.mediaType), conversion: joinConversion(t.conversion, filterDetail(filtered)) };
    },
  };
}

/** OCI -> Docker media types; Docker-typed content passes byte-exact. */
export const dockerStep: TransformStep = {
  key: 'format=docker',
  async apply(from, t, image, signal) {
    const out = await dockerPrepare(from, t, image, signal);
    return { ...out, conversion: joinConversion(t.conversion, out.conversion) };
  },
};

/** The chain a copy applies: the platform filter first (fewer children to convert), then the format. */
export function transformsFor(opts: { platforms?: readonly string[]; format?: Format }): TransformStep[] {
  const steps: TransformStep[] = [];
  if (opts.platforms?.length) steps.push(platformStep(opts.platforms));
  if (opts.format === 'docker') steps.push(dockerStep);
  return steps;
}

/** The memo key of a chain, e.g. `platforms.v2=linux/amd64;format=docker`; undefined for no steps. */
export function transformKey(steps: readonly TransformStep[]): string | undefined {
  return steps.length ? steps.map((s) => s.key).join(';') : undefined;
}

export async function applyTransforms(
  steps: readonly TransformStep[],
  from: BlobEndpoint,
  top: Prepared,
  image: string,
  signal?: AbortSignal,
): Promise<Transformed> {
  let t: Transformed = { ...top, children: [] };
  for (const step of steps) {
    t = await step.apply(from, t, image, signal);
    if (t.filtered) break;
  }
  return t;
}

/**
 * The format a copy uses: what the message (rule, `--format`) says, else what the destination needs:
 * SWR Basic refuses OCI manifests (REFERENCE.md section 2), so it gets Docker media types; SWR EE and
 * other registries get the bytes as they are.
 */
export function resolveFormat(explicit: Format | undefined, destination: RegistryAccess | undefined): Format {
  if (explicit) return explicit;
  return destination?.swr?.convertToDocker ? 'docker' : 'keep';
}

function joinConversion(a: string | undefined, b: string | undefined): string | undefined {
  return a && b ? `${a}; ${b}` : (a ?? b);
}
