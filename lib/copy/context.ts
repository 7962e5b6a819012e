// Shared state of one run: the blob ledger, the transfer limit and the counters. Every concurrent
// copyImage of a run gets the same context, which is what makes dedup span images.
import type { Logger } from 'pino';
import { BLOB_RETRY, type RetryPolicy } from '../registry/http/retry.js';
import type { BlobClaims } from './blob-claims.js';
import { BlobLedger } from './ledger.js';
import { Limiter } from './limiter.js';
import { ManifestCache } from './manifest-cache.js';
import { SourceBlobShare } from './source-share.js';

export interface CopyCounters {
  blobsUploaded: number;
  blobsMounted: number;
  blobsPresent: number;
  bytesUploaded: number;
  manifestsPut: number;
}

export function emptyCounters(): CopyCounters {
  return { blobsUploaded: 0, blobsMounted: 0, blobsPresent: 0, bytesUploaded: 0, manifestsPut: 0 };
}

export function addCounters(into: CopyCounters, from: CopyCounters): void {
  for (const k of Object.keys(into) as (keyof CopyCounters)[]) into[k] += from[k];
}

export interface CopyContext {
  ledger: BlobLedger;
  /**
   * Claims shared with copiers in other processes through the state table (blob-claims.ts): the
   * Lambda copier and `work`/`sync --queue-url` with SWRM_STATE_TABLE. The embedded sync has none:
   * its copies share the ledger.
   */
  claims?: BlobClaims;
  /** Source manifests fetched by this run, by digest (manifest-cache.ts). */
  manifests?: ManifestCache;
  /** Source blobs downloaded for one destination and wanted by others of the run (source-share.ts); closed when the run ends. */
  sourceBlobs?: SourceBlobShare;
  /** Bounds concurrent blob transfers across all images of the run. */
  transfers: Limiter;
  /** Per-registry bound on blob transfers (the config's `registries.<host>.concurrency`). */
  registryLimiter?: (registry: string) => Limiter | undefined;
  /** Per-registry bound on blob HEADs and mounts, which every layer of every image does at once. */
  checks: (registry: string) => Limiter;
  /** Children of an index copied at once. */
  childConcurrency: number;
  /** Attempts per blob transfer, for failures the HTTP layer cannot retry (see registry/http/retry.ts). */
  blobRetry: RetryPolicy;
  logger?: Logger;
  signal?: AbortSignal;
  /** Called with bytes as they are uploaded, for progress displays. */
  onBytes?: (bytes: number) => void;
}

export interface CopyContextOptions {
  transfers?: number;
  /** Blob transfers at once per registry host, where limited. */
  registryConcurrency?: Record<string, number>;
  /** Connections per registry host (registry/pool.ts), and for the others; they bound transfers too. */
  registryConnections?: Record<string, number>;
  connections?: number;
  childConcurrency?: number;
  /** Blob HEADs and mounts at once per registry. */
  checksPerRegistry?: number;
  blobRetry?: RetryPolicy;
  logger?: Logger;
  signal?: AbortSignal;
  onBytes?: (bytes: number) => void;
}

/**
 * Blob HEADs and mounts in flight per registry. Without a bound a 100-layer image asks for 100 at
 * once, times 16 copiers (issue 6, item 8). Each is one round trip, so over a WAN more of them
 * overlap more; 32 is half the connections per origin (registry/pool.ts), which leaves the other
 * half for the transfers and the copiers' manifest requests.
 */
const DEFAULT_CHECKS = 32;

/**
 * Blob transfers at once in a run. 8 was tuned on loopback, where it is as good as 16-64; behind
 * 40 ms round trips (`npm run bench -- --only wan --sweep transfers=8,16,32,64`) 8 was about 25%
 * slower than 16, and 1.7x slower at 100 ms. 16 keeps (a) on loopback within noise and stays
 * below the 64 connections per origin with the 32 checks.
 */
const DEFAULT_TRANSFERS = 16;

/**
 * Transfers at once on a registry with `connections` per origin: at most half of them. A transfer
 * holds its download's connection until its upload is done, and within one registry the upload
 * needs a second one; with more transfers than that, downloads take every connection and their
 * uploads wait forever (measured: 2 connections, 8 transfers, stuck until the deadline).
 */
export function transferCap(concurrency: number | undefined, connections: number | undefined): number | undefined {
  const byConnections = connections === undefined ? undefined : Math.max(1, Math.floor(connections / 2));
  if (concurrency === undefined) return byConnections;
  return byConnections === undefined ? concurrency : Math.min(concurrency, byConnections);
}

export function createCopyContext(opts: CopyContextOptions = {}): CopyContext {
  const checks = new Map<string, Limiter>();
  const limiters = new Map<string, Limiter | undefined>();
  const registryLimiter = (registry: string): Limiter | undefined => {
    if (!limiters.has(registry)) {
      const n = transferCap(opts.registryConcurrency?.[registry], opts.registryConnections?.[registry] ?? opts.connections);
      limiters.set(registry, n === undefined ? undefined : new Limiter(n));
    }
    return limiters.get(registry);
  };
  const limited = Object.keys(opts.registryConcurrency ?? {}).length + Object.keys(opts.registryConnections ?? {}).length > 0 || opts.connections !== undefined;
  return {
    ledger: new BlobLedger(),
    manifests: new ManifestCache(),
    sourceBlobs: new SourceBlobShare(),
    transfers: new Limiter(opts.transfers ?? DEFAULT_TRANSFERS),
    registryLimiter: limited ? registryLimiter : undefined,
    checks: (registry) => {
      let l = checks.get(registry);
      if (!l) checks.set(registry, (l = new Limiter(opts.checksPerRegistry ?? DEFAULT_CHECKS)));
      return l;
    },
    childConcurrency: opts.childConcurrency ?? 4,
    blobRetry: opts.blobRetry ?? BLOB_RETRY,
    logger: opts.logger,
    signal: opts.signal,
    onBytes: opts.onBytes,
  };
}
