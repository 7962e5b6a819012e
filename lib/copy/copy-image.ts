// Copy one image, all platforms, digest-exact (ggcr pusher.go, regclient ImageCopy): compare by HEAD
// on both sides, then children before their index, blobs before their manifest, and the manifest
// bytes exactly as received, so every digest at the destination equals the source's.
import { setMaxListeners } from 'node:events';
import { ManifestInvalidError, RegistryError } from '../errors.js';
import { type Descriptor, type ParsedManifest, blobDescriptors, parseManifest, refuseSchema1 } from '../oci/manifest.js';
import { type ImageReference, formatReference } from '../oci/reference.js';
import { isDigest } from '../oci/digest.js';
import type { ManifestData, RegistryClient } from '../registry/types.js';
import type { DigestMemo, MemoEntry } from '../state/digest-memo.js';
import { type BlobEndpoint, blobCopy, sourceManifest } from './blob-copy.js';
import { deepCheck } from './deep-check.js';
import type { DestinationLookup, DestinationState, DestinationTags } from './destination-state.js';
import { type CopyContext, type CopyCounters, emptyCounters } from './context.js';
import { allOrAbort, mapLimit } from './limiter.js';
import { type Format, applyTransforms, transformKey, transformsFor } from './transforms.js';

export interface ImageEndpoint {
  client: RegistryClient;
  ref: ImageReference;
}

export interface CopyResult {
  source: string;
  destination: string;
  digest: string;
  mediaType: string;
  /**
   * `skipped`: the destination already had this digest under the tag. `filtered`: the platform
   * filter wants none of the image (`conversion` says why): nothing was pushed, and nothing failed.
   * `kept`: `overwrite: false` and the destination tag holds another image (`digest` is the
   * destination's): left as it is, nothing was written.
   */
  status: 'copied' | 'skipped' | 'filtered' | 'kept';
  counters: CopyCounters;
  /** Set when the manifest was converted (platform filter, Docker format): the source's own digest. */
  sourceDigest?: string;
  /** What was converted, for reports; for `filtered`, why the image was not wanted; for `kept`, what the tag holds. */
  conversion?: string;
}

export interface CopyOptions {
  /**
   * `os/arch[/variant]` to keep (oci/platform-filter.ts): an index's other entries are dropped (a
   * reported conversion); an image or index with none of them is `filtered`, not copied.
   */
  platforms?: readonly string[];
  /** Filtered digests pushed before (source digest -> pushed digest), so a no-op re-run needs no GET. */
  memo?: DigestMemo;
  /** `docker`: convert OCI manifests to Docker schema 2 (transform-docker.ts); see resolveFormat. */
  format?: Format;
  /**
   * image-syncer's --force: PUT the manifest even when the destination already has this digest
   * (e.g. to restore a tag a registry's retention policy hid, or re-trigger a webhook). Blobs and
   * the children of an index that the destination has are still not sent again (HEAD first).
   */
  force?: boolean;
  /**
   * --deep: the destination counts as having the image only when every child manifest and blob is
   * there too (deep-check.ts); what is missing is copied again, without --force.
   */
  deep?: boolean;
  /**
   * Before `n` source manifest GETs: the source's pull budget reserves them, waits (--pace) or throws
   * RateBudgetError (registry/limits/pull-gate.ts). HEADs are free and need none.
   */
  reserveGets?: (n: number) => Promise<void>;
  /**
   * The image's counters, given by a caller that needs them even when the copy fails: what a failed
   * delivery committed (blobs, child manifests) is progress (pipeline/attempts.ts).
   */
  counters?: CopyCounters;
  /**
   * What the run knows of its destination repositories (destination-state.ts): a fresh repository
   * is not HEADed, a tag the tag list does not name is not HEADed, a recent record of a tag stands
   * for its HEAD. Without it every check is a HEAD.
   */
  destinations?: DestinationState;
  /** --full-check: no record stands for a HEAD (the HEADs refresh them). */
  fullCheck?: boolean;
  /** The destination's listing API with tag digests (SWR): read once per repository instead of its tag list. */
  destinationTags?: DestinationTags;
  /**
   * A rule's `overwrite: false` (Harbor's "override" off): a destination tag that holds another
   * digest is `kept`, never overwritten. A tag the destination does not have is copied as usual.
   */
  overwrite?: false;
  /** What the destination tag held when the rule was expanded (queue/messages.ts destinationSeen): no lookup. */
  destinationSeen?: string;
  /** The source tag's digest as the source's listing API gave it (plan/rule-tags.ts): no source HEAD. */
  listedDigest?: string;
  /** The destination registries this run copies the source to (the message's fanOut): blobs are read once for all (source-share.ts). */
  fanOut?: number;
}

/**
 * Where the destination manifest goes: the destination's tag, else the source's tag, else by digest
 * (the digest of what is pushed, which differs from the source's after a platform filter).
 */
export function destinationTarget(src: ImageReference, dst: ImageReference, digest: string): string {
  return dst.tag ?? src.tag ?? digest;
}

export async function copyImage(parent: CopyContext, src: ImageEndpoint, dst: ImageEndpoint, opts: CopyOptions = {}): Promise<CopyResult> {
  // One abort per image: the first failure stops the image's other transfers (and a run's abort
  // stops them all).
  const abort = new AbortController();
  // Every request of the image listens on this signal while it runs; the limiters bound how many.
  setMaxListeners(0, abort.signal);
  const onParentAbort = () => abort.abort();
  parent.signal?.addEventListener('abort', onParentAbort, { once: true });
  try {
    try {
      return await imageCopy({ ...parent, signal: abort.signal, abort }, src, dst, opts);
    } catch (err) {
      // A listed digest the source no longer has (the tag moved since the listing): ask the tag.
      if (!opts.listedDigest || !(err instanceof RegistryError) || err.status !== 404 || abort.signal.aborted) throw err;
      parent.logger?.debug({ source: formatReference(src.ref), listed: opts.listedDigest }, 'listed digest gone at the source: HEAD the tag');
      return await imageCopy({ ...parent, signal: abort.signal, abort }, src, dst, { ...opts, listedDigest: undefined });
    }
  } finally {
    parent.signal?.removeEventListener('abort', onParentAbort);
  }
}

type ImageContext = CopyContext & {
  abort: AbortController;
  /** A --deep repair: the children found complete at the destination; any other child is copied. */
  repair?: Set<string>;
};

async function imageCopy(ctx: ImageContext, src: ImageEndpoint, dst: ImageEndpoint, opts: CopyOptions): Promise<CopyResult> {
  const counters = opts.counters ?? emptyCounters();
  const srcTarget = src.ref.digest ?? src.ref.tag;
  if (!srcTarget) throw new ManifestInvalidError(`source ${formatReference(src.ref)} names neither a tag nor a digest`);
  const srcRepo = src.ref.repository;
  const dstRepo = dst.ref.repository;

  // With a transform (platform filter, Docker format) what we push is not the source's digest. The
  // memo says which digest a previous run pushed for this source digest; a digest-pinned source
  // needs it before the destination HEAD, as a digest destination is named by what was pushed.
  const steps = transformsFor(opts);
  const transform = transformKey(steps);
  const recall = (digest: string) => (transform && opts.memo ? opts.memo.get(digest, transform) : Promise.resolve(undefined));
  let known: MemoEntry | undefined = src.ref.digest ? await recall(src.ref.digest) : undefined;

  // HEAD both sides at once. A digest reference needs no source HEAD (HEADs do not count against
  // Docker Hub's pull limit, GETs do, so a GET happens only when something must be copied).
  const dstTargetGuess = destinationTarget(src.ref, dst.ref, known?.digest ?? src.ref.digest ?? '');
  const force = opts.force === true;
  const trust = !force && !opts.deep && !opts.fullCheck;
  const look: DestinationLookup | undefined = !opts.destinations
    ? undefined
    : opts.destinationSeen && trust && !isDigest(dstTargetGuess)
      ? seenLookup(opts.destinationSeen)
      : await opts.destinations.lookup(dst.client, dstRepo, dstTargetGuess, trust, ctx.signal, opts.destinationTags);
  const dstHeaded = Boolean(dstTargetGuess) && !look?.absent && !look?.trusted;
  const [srcInfo, dstInfo] = await allOrAbort<{ digest: string; mediaType?: string } | undefined>(
    [
      src.ref.digest ? Promise.resolve({ digest: src.ref.digest }) : opts.listedDigest ? Promise.resolve({ digest: opts.listedDigest }) : src.client.manifestHead(srcRepo, srcTarget, ctx.signal),
      dstHeaded ? dst.client.manifestHead(dstRepo, dstTargetGuess, ctx.signal) : Promise.resolve(look?.trusted),
    ],
    ctx.abort,
  );
  if (look?.record && dstHeaded && look.record.digest !== dstInfo?.digest) {
    // The record said otherwise (a tag overwritten behind the tool's back): the HEAD heals it below.
    ctx.logger?.debug({ destination: `${dst.client.registry}/${dstRepo}:${dstTargetGuess}`, recorded: look.record.digest, found: dstInfo?.digest ?? null }, 'destination record disagreed with the registry');
  }
  if (!srcInfo) throw manifestUnknown(src.client.registry, `${srcRepo}:${srcTarget}`);
  if (srcInfo.mediaType) refuseSchema1(srcInfo.mediaType);
  let dstTarget = destinationTarget(src.ref, dst.ref, known?.digest ?? srcInfo.digest);
  const build = (status: CopyResult['status'], digest: string, mediaType: string, conversion?: string): CopyResult => ({
    source: formatReference(src.ref),
    destination: `${dst.client.registry}/${dstRepo}${isDigest(dstTarget) ? '@' : ':'}${dstTarget}`,
    digest,
    mediaType,
    status,
    counters,
    ...(conversion ? { sourceDigest: srcInfo.digest, conversion } : {}),
  });
  // A tag's state as a push or a HEAD just confirmed it, for the next run (destination-state.ts);
  // a skip that a record decided confirms nothing new.
  const result = async (status: CopyResult['status'], digest: string, mediaType: string, conversion?: string): Promise<CopyResult> => {
    const r = build(status, digest, mediaType, conversion);
    const confirmed = status === 'copied' || (status === 'skipped' && dstHeaded);
    // The source repository it came from: what a rule's prune asks of the records (pipeline/prune.ts).
    const source = `${src.client.registry}/${srcRepo}`;
    const changed = !look?.record || look.record.digest !== digest || look.record.source !== source || dstHeaded;
    if (opts.destinations && confirmed && !isDigest(dstTarget)) {
      await opts.destinations.record(dst.client.registry, dstRepo, dstTarget, { digest, mediaType, source }, changed);
    }
    return r;
  };
  // --deep: "the destination has this digest" also needs everything it names (deep-check.ts). An
  // incomplete image is copied again; children found complete are left as they are.
  const checked = new Map<string, boolean>();
  const complete = async (digest: string): Promise<boolean> => {
    if (!opts.deep) return true;
    let ok = checked.get(digest);
    if (ok === undefined) {
      const report = await deepCheck(dst.client, dstRepo, digest, ctx.signal);
      ok = report.problems.length === 0;
      if (!ok) {
        ctx.repair = report.complete;
        ctx.logger?.warn({ destination: `${dst.client.registry}/${dstRepo}@${digest}`, problems: report.problems.slice(0, 5) }, 'destination incomplete: repairing');
      }
      checked.set(digest, ok);
    }
    return ok;
  };
  known ??= await recall(srcInfo.digest);
  // The filter's verdict is a fact about the source digest (its manifest names its config), so a
  // remembered "filtered" needs no GET and holds whatever the destination has.
  if (known?.filtered) return result('filtered', srcInfo.digest, srcInfo.mediaType ?? '', known.detail ?? transform);
  // With a platform filter, an image the destination already has is only "present" once the filter
  // is known to keep it (a memo entry): otherwise one GET decides, and is remembered.
  const filtering = Boolean(opts.platforms?.length);
  if (!force && dstInfo && dstInfo.digest === srcInfo.digest && (!filtering || known) && (await complete(dstInfo.digest))) {
    ctx.logger?.debug({ source: formatReference(src.ref), digest: srcInfo.digest }, 'destination up to date');
    return result('skipped', srcInfo.digest, dstInfo.mediaType ?? '');
  }
  if (!force && dstInfo && known && dstInfo.digest === known.digest && (await complete(known.digest))) {
    // The destination holds what the transforms made of this very source digest: nothing to GET.
    ctx.logger?.debug({ source: formatReference(src.ref), digest: known.digest }, 'destination up to date (transformed)');
    return result('skipped', known.digest, dstInfo.mediaType ?? '', known.detail ?? transform);
  }
  // overwrite: false, and the tag holds something else than this image (or what the transforms made
  // of it, when that is known without a GET): kept, before any GET or write.
  const keep = (there: { digest: string; mediaType?: string }) => {
    ctx.logger?.info({ destination: `${dst.client.registry}/${dstRepo}:${dstTarget}`, holds: there.digest, source: srcInfo.digest }, 'kept: the destination tag holds another image (overwrite: false)');
    return result('kept', there.digest, there.mediaType ?? '', `the destination tag holds ${there.digest}; overwrite: false keeps it`);
  };
  const differs = (d: string, ...ours: (string | undefined)[]) => !ours.includes(d);
  if (opts.overwrite === false && dstInfo && !isDigest(dstTarget) && (!transform || known) && differs(dstInfo.digest, srcInfo.digest, known?.digest)) return keep(dstInfo);

  const from: BlobEndpoint = {
    client: src.client,
    repository: srcRepo,
    ...(opts.reserveGets ? { reserveGets: opts.reserveGets } : {}),
    ...(ctx.manifests ? { manifests: ctx.manifests } : {}),
    ...(opts.fanOut ? { fanOut: opts.fanOut } : {}),
  };
  const fetched = await sourceManifest(from, srcInfo.digest, ctx.signal);
  const top = { data: fetched, manifest: parseManifest(fetched.bytes, fetched.mediaType) };
  // Every child is converted before anything is pushed: a refusal leaves the destination untouched.
  const { data, manifest, children, conversion, filtered } = await applyTransforms(steps, from, top, formatReference(src.ref), ctx.signal);
  if (filtered) {
    if (transform && opts.memo) await opts.memo.put(srcInfo.digest, transform, { digest: srcInfo.digest, detail: filtered, filtered: true });
    ctx.logger?.info({ source: formatReference(src.ref), reason: filtered }, 'filtered: no wanted platform');
    return result('filtered', srcInfo.digest, top.manifest.mediaType, filtered);
  }
  // A digest destination is named by what is pushed (never by a memo entry that proved wrong).
  if (isDigest(dstTarget)) dstTarget = data.digest;
  // Remember the outcome of the transforms (the same digest when they changed nothing) before
  // pushing: it is a fact about the source, true whether or not this push succeeds.
  if (transform && opts.memo) await opts.memo.put(srcInfo.digest, transform, { digest: data.digest, ...(conversion ? { detail: conversion } : {}) });
  // The destination has the source's own bytes (copied before without the filter): as before, present.
  if (!force && dstInfo?.digest === srcInfo.digest && (await complete(srcInfo.digest))) return result('skipped', srcInfo.digest, dstInfo.mediaType ?? '');
  if (!force && dstInfo?.digest === data.digest && (await complete(data.digest))) return result('skipped', data.digest, manifest.mediaType, conversion);
  if (opts.overwrite === false && dstInfo && !isDigest(dstTarget) && differs(dstInfo.digest, srcInfo.digest, data.digest)) return keep(dstInfo);
  if (!force && !look?.absent && data.digest !== srcInfo.digest && isDigest(dstTargetGuess) && dstTargetGuess !== data.digest) {
    // A digest destination HEADed under the source digest (no memo yet): ask again for what we push.
    const there = await dst.client.manifestHead(dstRepo, data.digest, ctx.signal);
    if (there?.digest === data.digest && (await complete(data.digest))) return result('skipped', data.digest, manifest.mediaType, conversion);
  }
  // Nothing in a fresh repository can be found by a HEAD; its record goes first (destination-state.ts).
  const fresh = look?.view.kind === 'fresh' && look.absent;
  if (fresh) await opts.destinations!.touch(dst.client.registry, dstRepo);
  const to: BlobEndpoint = { client: dst.client, repository: dstRepo, ...(fresh ? { fresh } : {}) };
  if (children.length) {
    // Converted children first (their blobs, then their manifests), then the list naming them. A
    // child already there (an earlier run, a sibling tag) brings its blobs with it.
    await mapLimit(children, ctx.childConcurrency, async (c) => {
      if (await childPresent(ctx, to, c.data.digest)) return;
      await manifestContentCopy(ctx, from, to, c.manifest, counters);
      await manifestCommit(ctx, to, c.data.digest, c.data, c.manifest, counters);
    }, ctx.abort);
  } else {
    await manifestContentCopy(ctx, from, to, manifest, counters);
  }
  await manifestCommit(ctx, to, dstTarget, data, manifest, counters);
  return result('copied', data.digest, manifest.mediaType, conversion);
}

/** Everything a manifest refers to: blobs of an image, or each child of an index (recursively). */
async function manifestContentCopy(
  ctx: ImageContext,
  from: BlobEndpoint,
  to: BlobEndpoint,
  manifest: ParsedManifest,
  counters: CopyCounters,
): Promise<void> {
  if (manifest.kind === 'image') {
    const blobs = blobDescriptors(manifest).filter((d) => !isForeign(d));
    await allOrAbort(blobs.map((d) => blobCopy(ctx, from, to, d, counters)), ctx.abort);
    return;
  }
  await mapLimit(manifest.manifests, ctx.childConcurrency, (child) => childCopy(ctx, from, to, child, counters), ctx.abort);
}

async function childCopy(ctx: ImageContext, from: BlobEndpoint, to: BlobEndpoint, child: Descriptor, counters: CopyCounters): Promise<void> {
  // A child already at the destination brings its blobs with it: the registry only accepts a
  // manifest whose references exist.
  if (await childPresent(ctx, to, child.digest)) return;
  const data = await sourceManifest(from, child.digest, ctx.signal);
  const manifest = parseManifest(data.bytes, data.mediaType);
  await manifestContentCopy(ctx, from, to, manifest, counters);
  await manifestCommit(ctx, to, child.digest, data, manifest, counters);
}

/**
 * Whether a child manifest is at the destination: this run pushed or saw it there (a delivery
 * again after a failure asks nothing), else one HEAD.
 */
async function childPresent(ctx: ImageContext, to: BlobEndpoint, digest: string): Promise<boolean> {
  // A --deep repair knows which children are whole; the others are copied again (blob by blob).
  if (ctx.repair) return ctx.repair.has(digest);
  const registry = to.client.registry;
  if (ctx.ledger.hasManifest(registry, to.repository, digest)) return true;
  if (to.fresh) return false;
  if (!(await to.client.manifestHead(to.repository, digest, ctx.signal))) return false;
  ctx.ledger.addManifest(registry, to.repository, digest);
  return true;
}

async function manifestCommit(
  ctx: CopyContext,
  to: BlobEndpoint,
  target: string,
  data: ManifestData,
  manifest: ParsedManifest,
  counters: CopyCounters,
): Promise<void> {
  let stored: string;
  try {
    stored = await to.client.manifestPut(to.repository, target, data.bytes, manifest.mediaType, ctx.signal);
  } catch (err) {
    // The registry misses a blob this run believed was there (removed meanwhile): forget what we
    // knew about this manifest's blobs, so the retry checks and uploads them again.
    if (err instanceof RegistryError && err.hasCode('MANIFEST_BLOB_UNKNOWN')) {
      for (const b of blobDescriptors(manifest)) ctx.ledger.forget(to.client.registry, to.repository, b.digest);
    }
    // An index whose child the registry does not know (removed meanwhile): forget the children too.
    if (err instanceof RegistryError && manifest.kind === 'index' && (err.hasCode('MANIFEST_UNKNOWN') || err.hasCode('MANIFEST_BLOB_UNKNOWN'))) {
      for (const c of manifest.manifests) ctx.ledger.forgetManifest(to.client.registry, to.repository, c.digest);
    }
    throw err;
  }
  if (stored !== data.digest) {
    throw new ManifestInvalidError(`destination stored manifest ${stored}, expected ${data.digest}`);
  }
  counters.manifestsPut++;
  ctx.ledger.addManifest(to.client.registry, to.repository, data.digest);
  ctx.logger?.info({ repository: to.repository, target, digest: data.digest }, 'manifest committed');
}

/** The destination as the expansion saw it (copy messages' destinationSeen), for the copy's own lookup. */
function seenLookup(seen: string): DestinationLookup {
  if (seen === 'fresh') return { view: { kind: 'fresh' }, absent: true };
  if (seen === 'absent') return { view: { kind: 'unknown' }, absent: true };
  return { view: { kind: 'unknown' }, absent: false, trusted: { digest: seen, mediaType: '', checkedAt: Date.now() } };
}

/** Foreign (non-distributable) layers live outside the registry; their manifest just points to URLs. */
function isForeign(d: Descriptor): boolean {
  return d.mediaType.includes('foreign') || d.mediaType.includes('nondistributable');
}

function manifestUnknown(host: string, what: string): RegistryError {
  return new RegistryError(`manifest ${what} not found on ${host}`, 404, host, [
    { code: 'MANIFEST_UNKNOWN', message: `manifest unknown: ${what}` },
  ]);
}
