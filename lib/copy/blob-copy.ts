// One blob from source to destination, cheapest path first (distribution spec, "Pushing Blobs"):
// known to this run -> nothing; known in a sibling repo -> mount; HEAD 200 -> nothing; else a
// streamed upload (POST, then one PUT with Content-Length: 2 requests, where PATCH-based tools use 3).
// An SWR destination has a push budget (registry/limits/push-budget.ts): a layer-push slot is held around
// each mount and each upload session, and busy answers (503) are waited out, not counted.
// Across processes, a blob about to be uploaded is claimed first (blob-claims.ts): a copier that
// finds it claimed waits for the other's upload and mounts from its repository.
import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/manifest.js';
import type { ManifestData, RegistryClient } from '../registry/types.js';
import type { ManifestCache } from './manifest-cache.js';
import { busyTolerant, type RetryPolicy, withRetry } from '../registry/http/retry.js';
import { errorMessage } from '../errors.js';
import type { ClaimTicket } from './blob-claims.js';
import type { CopyContext, CopyCounters } from './context.js';
import { verifiedStream } from './verified-stream.js';
import { isReader, type SpoolReader, type SpoolWriter } from './source-share.js';

export interface BlobEndpoint {
  client: RegistryClient;
  repository: string;
  /** A source's pull budget: reserve `n` manifest GETs before making them (copy-image.ts CopyOptions). */
  reserveGets?: (n: number) => Promise<void>;
  /** Source manifests this run fetched already (manifest-cache.ts). */
  manifests?: ManifestCache;
  /** A destination repository unknown to its registry when the run began: no HEAD finds anything there (destination-state.ts). */
  fresh?: boolean;
  /** A source copied to this many destination registries in this run: its blobs are read once (source-share.ts). */
  fanOut?: number;
}

/** A source manifest by digest: from this run's cache, else a GET (its pull-budget reservation first). */
export async function sourceManifest(from: BlobEndpoint, digest: string, signal?: AbortSignal): Promise<ManifestData> {
  const get = async () => {
    await from.reserveGets?.(1);
    return from.client.manifestGet(from.repository, digest, signal);
  };
  return from.manifests ? from.manifests.fetch(digest, get) : get();
}

export type BlobOutcome = 'known' | 'present' | 'mounted' | 'uploaded';

export async function blobCopy(
  ctx: CopyContext,
  src: BlobEndpoint,
  dst: BlobEndpoint,
  desc: Descriptor,
  counters: CopyCounters,
): Promise<BlobOutcome> {
  const registry = dst.client.registry;
  const { ledger } = ctx;
  for (;;) {
    if (ledger.has(registry, dst.repository, desc.digest)) return 'known';
    const outcome = await ledger.exclusive(registry, desc.digest, async () => {
      const outcome = await blobPlace(ctx, src, dst, desc, counters);
      ledger.add(registry, dst.repository, desc.digest);
      return outcome;
    });
    if (outcome) return outcome;
    // Another copy was moving this digest; look again: it is now known, or mountable, or failed.
  }
}

async function blobPlace(
  ctx: CopyContext,
  src: BlobEndpoint,
  dst: BlobEndpoint,
  desc: Descriptor,
  counters: CopyCounters,
): Promise<BlobOutcome> {
  const sibling = ctx.ledger.mountSource(dst.client.registry, desc.digest, dst.repository);
  const session: UploadSession = {};
  // HEADs and mounts hold a per-registry check slot, so a many-layer image cannot fan out
  // without bound; the slot is released before the transfer waits for its own.
  const placed = await ctx.checks(dst.client.registry).run(async (): Promise<BlobOutcome | undefined> => {
    if (sibling) {
      // Skip the HEAD: a mount answers 201 whether the blob was in the repo already or not.
      const mount = await pushSlot(ctx, dst, () => withBusyRetry(ctx, dst, () => dst.client.blobMount(dst.repository, desc.digest, sibling, ctx.signal)));
      if (mount.mounted) return 'mounted';
      // A declined mount says nothing about the destination repository itself: it may hold the
      // blob already (pushed there by another tool or run). Ask before sending it again.
      const present = !dst.fresh && (await dst.client.blobHead(dst.repository, desc.digest, ctx.signal)) !== undefined;
      // The session the declined mount opened: under a push budget it must not outlive this slot
      // (SWR counts open pushes; the transfer opens its own under its slot), and unused it goes.
      if (present || dst.client.pushBudget) await dst.client.blobUploadCancel(dst.repository, mount.uploadUrl);
      else session.url = mount.uploadUrl;
      return present ? 'present' : undefined;
    }
    // A fresh repository holds only what this run put there, and the ledger knows that.
    if (dst.fresh) return undefined;
    return (await dst.client.blobHead(dst.repository, desc.digest, ctx.signal)) !== undefined ? 'present' : undefined;
  });
  if (placed === 'mounted') {
    counters.blobsMounted++;
    ctx.logger?.debug({ digest: desc.digest, from: sibling, to: dst.repository }, 'blob mounted');
    return placed;
  }
  if (placed === 'present') {
    counters.blobsPresent++;
    ctx.logger?.debug({ digest: desc.digest, repository: dst.repository }, 'blob already present');
    return placed;
  }
  let ticket: ClaimTicket | undefined;
  if (ctx.claims) {
    const claim = await ctx.claims.acquire(
      { registry: dst.client.registry, repository: dst.repository, digest: desc.digest, size: desc.size },
      (from) => claimMount(ctx, dst, desc, from),
      ctx.signal,
    );
    if ('mounted' in claim) {
      // The declined sibling mount's session, if one was kept, is not needed any more.
      if (session.url) await dst.client.blobUploadCancel(dst.repository, session.url);
      ctx.ledger.add(dst.client.registry, claim.mounted, desc.digest);
      counters.blobsMounted++;
      return 'mounted';
    }
    if ('ticket' in claim) ticket = claim.ticket;
  }
  try {
    await blobUpload(ctx, src, dst, desc, session);
  } catch (err) {
    await ticket?.release();
    throw err;
  }
  await ticket?.done(dst.repository);
  counters.blobsUploaded++;
  counters.bytesUploaded += desc.size;
  ctx.logger?.info({ digest: desc.digest, size: desc.size, repository: dst.repository }, 'blob uploaded');
  return 'uploaded';
}

/**
 * A cross-repo mount from the repository a done claim names, under the same slots as a sibling
 * mount; true only for a 201. A declined mount's session is cancelled: the upload opens its own.
 */
async function claimMount(ctx: CopyContext, dst: BlobEndpoint, desc: Descriptor, from: string): Promise<boolean> {
  return ctx.checks(dst.client.registry).run(async () => {
    const mount = await pushSlot(ctx, dst, () => withBusyRetry(ctx, dst, () => dst.client.blobMount(dst.repository, desc.digest, from, ctx.signal)));
    if (!mount.mounted) await dst.client.blobUploadCancel(dst.repository, mount.uploadUrl);
    return mount.mounted;
  });
}

/** The streamed upload, retried, in its slots; `session` may hold a declined mount's session to use. */
async function blobUpload(ctx: CopyContext, src: BlobEndpoint, dst: BlobEndpoint, desc: Descriptor, session: UploadSession): Promise<void> {
  const budgeted = dst.client.pushBudget !== undefined;
  try {
    await transferSlot(ctx, src, dst, async () => {
      try {
        await withRetry(
          blobPolicy(ctx, dst),
          () => blobTransfer(ctx, src, dst, desc, session),
          (err, attempt, delayMs) =>
            ctx.logger?.warn({ digest: desc.digest, attempt, delayMs, err: errorMessage(err) }, 'blob transfer failed, retrying'),
          ctx.signal,
        );
      } finally {
        // Under a push budget an unused session is cancelled before the slot is released.
        if (budgeted && session.url) {
          const url = session.url;
          session.url = undefined;
          await dst.client.blobUploadCancel(dst.repository, url);
        }
      }
    });
  } finally {
    // A session that will not complete would linger on the registry until it purges it (the
    // spec's `DELETE <location>`).
    if (session.url) void dst.client.blobUploadCancel(dst.repository, session.url);
  }
}

/** An upload session that is still valid: opened, and no PUT sent on it yet. */
interface UploadSession {
  url?: URL;
}

/**
 * Hold the run's transfer slot and the per-registry ones. Limiters are always taken in the same
 * order (run, then registries by name), so two transfers in opposite directions cannot deadlock.
 */
function transferSlot<T>(ctx: CopyContext, src: BlobEndpoint, dst: BlobEndpoint, fn: () => Promise<T>): Promise<T> {
  const registries = [...new Set([src.client.registry, dst.client.registry])].sort();
  const limiters = [ctx.transfers, ...registries.map((r) => ctx.registryLimiter?.(r))].filter((l) => l !== undefined);
  // The push budget last: whoever holds it waits for nothing else, so no cycle can form.
  const acquire = (i: number): Promise<T> => (i === limiters.length ? pushSlot(ctx, dst, fn) : limiters[i]!.run(() => acquire(i + 1)));
  return acquire(0);
}

/** Hold the destination tenant's layer-push slot, when it has a push budget (SWR). */
function pushSlot<T>(ctx: CopyContext, dst: BlobEndpoint, fn: () => Promise<T>): Promise<T> {
  const budget = dst.client.pushBudget;
  return budget ? budget.slot(fn, ctx.signal) : fn();
}

/** The blob retry policy; towards a budgeted destination busy answers spend no attempt (retry.ts). */
function blobPolicy(ctx: CopyContext, dst: BlobEndpoint): RetryPolicy {
  return dst.client.pushBudget ? busyTolerant(ctx.blobRetry) : ctx.blobRetry;
}

/** Only busy answers retried (a mount's POST is not replayable by the HTTP layer); as is elsewhere. */
function withBusyRetry<T>(ctx: CopyContext, dst: BlobEndpoint, fn: () => Promise<T>): Promise<T> {
  if (!dst.client.pushBudget) return fn();
  return withRetry(busyTolerant({ ...ctx.blobRetry, attempts: 1 }), fn, undefined, ctx.signal);
}

/**
 * GET from the source and PUT to the destination as one stream, verified on the way. A session on
 * which no PUT was sent stays valid (distribution keeps it until its purge age), so a retry after a
 * failed download or POST reuses it instead of opening another; once a PUT was sent, its offset is
 * unknown (a broken body may have been partly stored) and it is cancelled.
 */
async function blobTransfer(ctx: CopyContext, src: BlobEndpoint, dst: BlobEndpoint, desc: Descriptor, session: UploadSession, share = true): Promise<void> {
  // Open the download and the upload session at the same time: one round trip saved per blob.
  const [source, url] = await Promise.allSettled([
    openSource(ctx, src, desc, share),
    session.url ? Promise.resolve(session.url) : dst.client.blobUploadStart(dst.repository, ctx.signal),
  ]);
  if (url.status === 'fulfilled') session.url = url.value;
  let fallBack = false;
  try {
    if (source.status === 'rejected') throw source.reason;
    if (url.status === 'rejected') throw url.reason;
    const from = source.value;
    const stream = isReader(from) ? from.body : from.spool ? from.spool.tee(from.verified) : from.verified;
    session.url = undefined;
    try {
      await dst.client.blobUploadFinish(dst.repository, url.value, desc.digest, desc.size, stream, ctx.signal);
    } catch (err) {
      // Under a push budget, awaited: the session must be gone before the slot is (SWR counts it).
      const cancelled = dst.client.blobUploadCancel(dst.repository, url.value);
      if (dst.client.pushBudget) await cancelled;
      // A spool that broke is no reason to fail: GET the source instead.
      if (!isReader(from) || !from.failed || ctx.signal?.aborted) throw err;
      ctx.logger?.debug({ digest: desc.digest, err: errorMessage(err) }, 'spooled blob unreadable: GET the source');
      fallBack = true;
    }
  } finally {
    const from = source.status === 'fulfilled' ? source.value : undefined;
    if (isReader(from)) from.close();
    else from?.spool?.close();
    const body = from && !isReader(from) ? from.body : undefined;
    if (body && !body.destroyed) {
      // Not read (the POST failed): undici's body then errors with "Request aborted" on destroy,
      // which nobody listens to any more, an uncaught exception. The failure is already thrown.
      body.on('error', () => {});
      body.destroy();
    }
  }
  if (fallBack) await blobTransfer(ctx, src, dst, desc, session, false);
}

/** Another destination of this run read (or is reading) these bytes already: its spool; else a GET. */
async function openSource(ctx: CopyContext, src: BlobEndpoint, desc: Descriptor, share: boolean): Promise<SpoolReader | SourceGet> {
  const spool = share && src.fanOut && ctx.sourceBlobs ? await ctx.sourceBlobs.take(src.client.registry, desc, src.fanOut, ctx.onBytes, ctx.signal) : undefined;
  return isReader(spool) ? spool : getSource(ctx, src, desc, spool);
}

interface SourceGet {
  body: Readable;
  verified: AsyncGenerator<Uint8Array>;
  spool: SpoolWriter | undefined;
}

/** A GET of the source blob, verified as it streams; `spool`, when given, gets a copy of the bytes. */
async function getSource(ctx: CopyContext, src: BlobEndpoint, desc: Descriptor, spool: SpoolWriter | undefined): Promise<SourceGet> {
  try {
    const { body } = await src.client.blobGet(src.repository, desc.digest, ctx.signal);
    return { body, verified: verifiedStream(body, desc.digest, desc.size, ctx.onBytes), spool };
  } catch (err) {
    spool?.close();
    throw err;
  }
}
