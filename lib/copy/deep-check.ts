// The deep check of an image at the destination (issue 13, item 6: `verify --deep`, `sync --deep`).
// The default check is one HEAD of the top manifest: a registry that lost a child manifest of an
// index, or a blob of an image (garbage collection, a half-finished manual delete), still answers
// it. The deep check walks what the top manifest names, at the destination itself: each child
// manifest (HEAD, then GET for its blobs) and each blob (HEAD). GETs here are destination GETs, which
// no pull budget counts; nothing is asked of the source.
import { mapLimit } from './limiter.js';
import { type Descriptor, blobDescriptors, parseManifest, platformString } from '../oci/manifest.js';
import type { RegistryClient } from '../registry/types.js';

export interface DeepReport {
  /** Child manifests missing, and children present but missing blobs, each with why. */
  problems: string[];
  /** Children present with every blob: a repair need not copy them again. */
  complete: Set<string>;
}

/** Checks at once per image. */
const CONCURRENCY = 8;

/** Walk the manifest `digest` in `repository` at the destination; an empty `problems` means all there. */
export async function deepCheck(client: RegistryClient, repository: string, digest: string, signal?: AbortSignal): Promise<DeepReport> {
  const report: DeepReport = { problems: [], complete: new Set() };
  const top = await client.manifestGet(repository, digest, signal);
  const manifest = parseManifest(top.bytes, top.mediaType);
  if (manifest.kind === 'image') {
    report.problems.push(...(await missingBlobs(client, repository, blobDescriptors(manifest), signal)));
    return report;
  }
  await mapLimit(manifest.manifests, CONCURRENCY, async (child) => {
    const what = describe(child);
    if (!(await client.manifestHead(repository, child.digest, signal))) {
      report.problems.push(`child manifest ${what} missing`);
      return;
    }
    const data = await client.manifestGet(repository, child.digest, signal);
    const m = parseManifest(data.bytes, data.mediaType);
    // A nested index (rare: buildx never makes one) is checked one level down, its children by HEAD.
    const missing =
      m.kind === 'image'
        ? await missingBlobs(client, repository, blobDescriptors(m), signal)
        : (await mapLimit(m.manifests, CONCURRENCY, async (c) => ((await client.manifestHead(repository, c.digest, signal)) ? [] : [`child manifest ${describe(c)} missing`]))).flat();
    if (missing.length) report.problems.push(...missing.map((p) => `${p} (in child ${what})`));
    else report.complete.add(child.digest);
  });
  return report;
}

async function missingBlobs(client: RegistryClient, repository: string, blobs: Descriptor[], signal?: AbortSignal): Promise<string[]> {
  // Non-distributable layers live outside the registry (their manifest points to URLs).
  const own = blobs.filter((d) => !d.mediaType.includes('foreign') && !d.mediaType.includes('nondistributable'));
  const found = await mapLimit(own, CONCURRENCY, async (d) => ((await client.blobHead(repository, d.digest, signal)) === undefined ? [`blob ${d.digest} missing`] : []));
  return found.flat();
}

function describe(d: Descriptor): string {
  return d.platform ? `${d.digest} (${platformString(d.platform)})` : d.digest;
}
