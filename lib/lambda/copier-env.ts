// The copier's container-wide environment, built from a config once per cold start: the client
// pool (connections, tokens), the copy context (blob ledger, transfer limits) and a digest memo:
// the state table's when there is one (SWRM_STATE_TABLE), so a cold container knows the digests
// earlier containers learnt, and the runs' accounting with it; else this container's own.
// With the state table, blobs are also claimed there before an upload (copy/blob-claims.ts), so
// containers copying images that share layers upload each layer once and mount it elsewhere.
// Lambda runs one event at a time per container, so sharing them across events is what a long
// `sync` does across images: the ledger still trusts a blob only for the repository it saw it in.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeadLetterStore, FailureReason } from '../queue/types.js';
import type { LoadedConfig } from '../config/types.js';
import { BlobClaims } from '../copy/blob-claims.js';
import { createCopyRuntime } from '../pipeline/sync.js';
import { poolTagLister } from '../plan/planner.js';
import type { WorkQueue } from '../queue/types.js';
import { InMemoryDigestMemo, StoreDigestMemo } from '../state/digest-memo.js';
import { MemoryStateStore } from '../state/memory-store.js';
import { destinationStateFor } from '../copy/destination-state.js';
import { RunTracker } from '../state/runs.js';
import { runAccounting } from '../notify/run-end.js';
import type { StateStore } from '../state/store.js';
import { PullBudgetGate } from '../registry/limits/pull-gate.js';
import { AttemptLedger } from '../pipeline/attempts.js';
import { recheckRulesOf } from '../pipeline/recheck.js';
import type { ImageOutcome } from '../pipeline/copier.js';
import type { CopierEnv, LongHaulQueue } from './copier-batch.js';

export interface CopierEnvOptions {
  config: LoadedConfig;
  queue: WorkQueue;
  /** Deliveries at most: the queue's RedrivePolicy maxReceiveCount (pipeline/attempts.ts). */
  maxReceiveCount: number;
  /** Deliveries without progress before the DLQ (retries + 1); default maxReceiveCount. */
  attempts?: number;
  logger?: Logger;
  marginMs?: number;
  /**
   * Where an expansion sends what must not reach a copier (a group's conflicting images, a rule it
   * cannot list): the queue's DLQ. Without it such an expansion is retried, then dead-lettered whole.
   */
  deadLetters?: DeadLetterStore;
  /** --pace (the CLI's queue workers): wait for a source's pull budget instead of leaving images for later. */
  pace?: boolean;
  /** Default: one info line per settled image (CloudWatch Logs is where a Lambda's results go). */
  onOutcome?: (o: ImageOutcome) => void;
  /** The long-haul queue (LONG_QUEUE_URL) for records the deadline cut twice (copier-batch.ts). */
  longHaul?: LongHaulQueue;
  /** What outlives the container (the DynamoDB state table): the digest memo and the runs' counts. */
  state?: StateStore;
}

export function createCopierEnv(opts: CopierEnvOptions): CopierEnv & { close(): Promise<void> } {
  const { pool, ctx } = createCopyRuntime(opts.config, { logger: opts.logger });
  if (opts.state) ctx.claims = new BlobClaims(opts.state, opts.logger ? { logger: opts.logger } : {});
  // Docker Hub's pull budget (registry/limits/pull-gate.ts): the copier plans nothing, so copies
  // start at once; once a source states its budget spent, the image goes to the DLQ as
  // SWRM_RATE_BUDGET (replay after the window), never as a failure. A warm container reads the
  // budget again once its window has turned over.
  const pullBudget = new PullBudgetGate(pool, { pace: opts.pace ?? false, ...(opts.logger ? { logger: opts.logger } : {}) });
  void pullBudget.drain();
  const runtime = {
    pool,
    ctx,
    list: poolTagLister(pool),
    maxReceiveCount: opts.maxReceiveCount,
    attempts: Math.min(opts.attempts ?? opts.maxReceiveCount, opts.maxReceiveCount),
    // Progress seen by this container (a warm one sees the redeliveries it handles itself).
    ledger: new AttemptLedger(),
    memo: opts.state ? new StoreDigestMemo(opts.state, opts.logger) : new InMemoryDigestMemo(),
    // The copier that settles a run's last message announces its end (config notify: lib/notify).
    ...(opts.state ? { runs: runAccounting(new RunTracker(opts.state), opts.config.notify, { logger: opts.logger }) } : {}),
    // A warm container re-reads a repository's tag list after a minute: other copiers push there too.
    destinations: destinationStateFor(opts.state ?? new MemoryStateStore(), opts.config.defaults, opts.logger, 60_000),
    logger: opts.logger,
    pullBudget,
    // The copier has the whole config: a recheck (an ECR event, a webhook's) is matched against its rules.
    ...recheckRulesOf(opts.config),
    ...(opts.deadLetters ? { deadLetter: letterTo(opts.deadLetters) } : {}),
  };
  return {
    queue: opts.queue,
    runtime,
    logger: opts.logger,
    ...(opts.marginMs !== undefined ? { marginMs: opts.marginMs } : {}),
    ...(opts.longHaul ? { longHaul: opts.longHaul } : {}),
    onOutcome: opts.onOutcome ?? ((o) => logOutcome(opts.logger, o)),
    close: () => (ctx.sourceBlobs?.close(), pool.close()),
  };
}

/** A DLQ's add() as the copier's dead-letter hook: a fresh letter with its reason. */
export function letterTo(store: DeadLetterStore): (body: string, reason: FailureReason) => Promise<void> {
  return (body, reason) => store.add({ id: randomUUID(), body, receiveCount: 1, reason, at: new Date().toISOString() });
}

/** One line per settled image; its source and destination are logged as they are (secrets.ts). */
export function logOutcome(logger: Logger | undefined, o: ImageOutcome): void {
  if (!logger || o.status === 'retrying') return; // retries are logged by the copier itself
  const { source, destination, status, digest, bytes, attempt } = o;
  logger.info({ source, destination, status, digest, bytes, attempt, durationMs: Math.round(o.durationMs), code: o.error?.code }, `image ${status}`);
}
