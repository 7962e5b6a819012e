// Shared state of one run: the blob ledger, the transfer limit and the counters. Every concurrent
// copyImage of a run gets the same context, which is what makes dedup span images.
import type { Logger } from 'pino';
import { DEFAULT_RETRY, type RetryPolicy } from '../registry/retry.js';
import { BlobLedger } from './ledger.js';
import { Limiter } from './limiter.js';

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
  /** Bounds concurrent blob transfers across all images of the run. */
  transfers: Limiter;
  /** Children of an index copied at once. */
  childConcurrency: number;
  /** Attempts per blob transfer (a streamed upload cannot be retried by the HTTP layer). */
  blobRetry: RetryPolicy;
  logger?: Logger;
  signal?: AbortSignal;
  /** Called with bytes as they are uploaded, for progress displays. */
  onBytes?: (bytes: number) => void;
}

export interface CopyContextOptions {
  transfers?: number;
  childConcurrency?: number;
  blobRetry?: RetryPolicy;
  logger?: Logger;
  signal?: AbortSignal;
  onBytes?: (bytes: number) => void;
}

export function createCopyContext(opts: CopyContextOptions = {}): CopyContext {
  return {
    ledger: new BlobLedger(),
    transfers: new Limiter(opts.transfers ?? 8),
    childConcurrency: opts.childConcurrency ?? 4,
    blobRetry: opts.blobRetry ?? DEFAULT_RETRY,
    logger: opts.logger,
    signal: opts.signal,
    onBytes: opts.onBytes,
  };
}
