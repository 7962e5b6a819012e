// Seeds the source registry with synthetic images built from streamed random layers (stored-gzip
// tars from the test harness: no compression CPU, never held in memory, so a 1 GiB layer costs
// nothing but its hashing). One generator covers every workload shape: repos x tags, N unique
// layers per image, optionally one base layer shared by all images.
import { expectStatus, registryRequest } from '../test/helpers/client.js';
import { type PushedBlob, pushImage, streamLayerTo } from '../test/helpers/push.js';
import type { RegistryHandle } from '../test/helpers/registry.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export interface ImageSetSpec {
  /** Repository paths at the source, e.g. bench/r0. Basenames must be distinct (see destinationRef). */
  repos: string[];
  tags: string[];
  /** Layers of each image that no other image has. */
  uniqueLayers: number;
  /** One layer every image starts with (pushed once, mounted into the other repos). */
  sharedBase: boolean;
  layerSize: number;
  /** Images pushed at once: the registry hashes what it receives, so past ~4 this only queues. */
  concurrency?: number;
}

export interface SourceImage {
  repository: string;
  tag: string;
  /** Manifest digest at the source: a digest-exact copy must reproduce it. */
  digest: string;
}

export interface SeededSet {
  images: SourceImage[];
  /** Distinct blob bytes at the source (each shared blob counted once). */
  bytes: number;
  blobs: number;
}

/** Bounded parallel map, kept here so the seeder does not depend on the library it benchmarks. */
export async function pool<T, R>(items: readonly T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** Cross-repository mount (the harness has no helper for it); 201 means the blob is now in `repo`. */
async function mountBlob(reg: RegistryHandle, repo: string, digest: string, from: string): Promise<void> {
  const q = `mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
  const res = await registryRequest(reg, 'POST', `/v2/${repo}/blobs/uploads/?${q}`, { repo });
  await expectStatus(res, [201], `mount ${digest} ${from} -> ${repo}`);
  await res.body.dump();
}

export async function seedImageSet(reg: RegistryHandle, spec: ImageSetSpec): Promise<SeededSet> {
  const concurrency = spec.concurrency ?? 4;
  let base: PushedBlob | undefined;
  if (spec.sharedBase) {
    const first = spec.repos[0]!;
    base = await streamLayerTo(reg, first, spec.layerSize);
    // A manifest may only name blobs linked into its own repository, so link the base everywhere.
    await pool(spec.repos.slice(1), concurrency, (repo) => mountBlob(reg, repo, base!.digest, first));
  }
  const wanted = spec.repos.flatMap((repository) => spec.tags.map((tag) => ({ repository, tag })));
  let bytes = base?.size ?? 0;
  let blobs = base ? 1 : 0;
  const images = await pool(wanted, concurrency, async ({ repository, tag }): Promise<SourceImage> => {
    const layers: PushedBlob[] = base ? [base] : [];
    for (let i = 0; i < spec.uniqueLayers; i++) layers.push(await streamLayerTo(reg, repository, spec.layerSize));
    const pushed = await pushImage(reg, repository, tag, { format: 'docker', layers });
    bytes += spec.uniqueLayers * spec.layerSize + pushed.blobs[0]!.size; // + the config
    blobs += spec.uniqueLayers + 1;
    return { repository, tag, digest: pushed.digest };
  });
  return { images, bytes, blobs };
}

/**
 * Where an image lands at the destination, for both tools: skopeo 1.9.3 `sync` without --scoped
 * keeps only the last path component (SRC/bench/r0:t0 -> DST/<prefix>/r0:t0, checked on 1.9.3),
 * and --scoped cannot be used with a host:port source (the port's colon makes the destination
 * reference invalid). So ours is given exactly that layout.
 */
export function destinationPath(prefix: string, img: { repository: string; tag: string }): { repository: string; tag: string } {
  return { repository: `${prefix}/${img.repository.slice(img.repository.lastIndexOf('/') + 1)}`, tag: img.tag };
}

export function destinationRef(dstHost: string, prefix: string, img: { repository: string; tag: string }): string {
  const d = destinationPath(prefix, img);
  return `${dstHost}/${d.repository}:${d.tag}`;
}
