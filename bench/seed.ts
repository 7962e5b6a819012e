// Seeds the source registry with synthetic images built from streamed random layers (stored-gzip
// tars from the test harness: no compression CPU, never held in memory, so a 1 GiB layer costs
// nothing but its hashing). One generator covers every workload shape: repos x tags, N unique
// layers per image, optionally one base layer shared by all images, optionally every Nth image a
// 2-platform index.
import { expectStatus, registryRequest } from '../test/helpers/client.js';
import { MT, type Platform, type PushedBlob, type PushedManifest, pushImage, pushManifest, streamLayerTo } from '../test/helpers/push.js';
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
  /**
   * Every Nth image (counting repos x tags in order) is a 2-platform index instead, alternately a
   * Docker manifest list and an OCI index; each child is an image of its own (base + unique layers).
   */
  indexEvery?: number;
  /** Images pushed at once: the registry hashes what it receives, so for big layers past ~4 this only queues. */
  concurrency?: number;
  /**
   * oci: every image is OCI-typed (single manifests, indexes and their children), so that a
   * destination that converts to Docker types (SWR Basic) has work on every image. Default:
   * Docker single images, indexes alternately Docker and OCI (see indexEvery).
   */
  format?: 'oci';
}

export interface SourceImage {
  repository: string;
  tag: string;
  /** Manifest digest at the source: a digest-exact copy must reproduce it. */
  digest: string;
  /** Platforms of an index; absent for a single-platform image. */
  children?: number;
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

const PLATFORMS: Platform[] = [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }];

export async function seedImageSet(reg: RegistryHandle, spec: ImageSetSpec): Promise<SeededSet> {
  const concurrency = spec.concurrency ?? 4;
  const sizes = new Map<string, number>(); // every distinct blob pushed: digest -> size
  let base: PushedBlob | undefined;
  if (spec.sharedBase) {
    const first = spec.repos[0]!;
    base = await streamLayerTo(reg, first, spec.layerSize);
    // A manifest may only name blobs linked into its own repository, so link the base everywhere.
    await pool(spec.repos.slice(1), concurrency, (repo) => mountBlob(reg, repo, base!.digest, first));
  }
  /** One image: base + fresh unique layers (streamed side by side) + config; by digest when untagged. */
  const image = async (repository: string, tag: string | undefined, format: 'docker' | 'oci', platform?: Platform): Promise<PushedManifest> => {
    const unique = await Promise.all(Array.from({ length: spec.uniqueLayers }, () => streamLayerTo(reg, repository, spec.layerSize)));
    const pushed = await pushImage(reg, repository, tag, { format, layers: base ? [base, ...unique] : unique, platform });
    for (const b of pushed.blobs) sizes.set(b.digest, b.size);
    return pushed;
  };
  const wanted = spec.repos.flatMap((repository) => spec.tags.map((tag) => ({ repository, tag })));
  const images = await pool(wanted.map((w, i) => ({ ...w, i })), concurrency, async ({ repository, tag, i }): Promise<SourceImage> => {
    const every = spec.indexEvery;
    if (!every || i % every !== every - 1) return { repository, tag, digest: (await image(repository, tag, spec.format ?? 'docker')).digest };
    const format = spec.format ?? (Math.floor(i / every) % 2 === 0 ? 'docker' : 'oci');
    const children = await Promise.all(PLATFORMS.map((p) => image(repository, undefined, format, p)));
    return { repository, tag, digest: await pushIndexOf(reg, repository, tag, format, children), children: children.length };
  });
  return { images, bytes: [...sizes.values()].reduce((a, b) => a + b, 0), blobs: sizes.size };
}

/** The index over already-pushed children (test/helpers' pushIndex would push its own layers). */
async function pushIndexOf(reg: RegistryHandle, repo: string, tag: string, format: 'docker' | 'oci', children: PushedManifest[]): Promise<string> {
  const mediaType = format === 'docker' ? MT.dockerList : MT.ociIndex;
  const manifests = children.map((c) => ({ mediaType: c.mediaType, size: c.bytes.length, digest: c.digest, platform: c.platform }));
  return pushManifest(reg, repo, tag, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests })), mediaType);
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
