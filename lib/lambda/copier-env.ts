// The copier's container-wide environment, built from a config once per cold start: the client
// pool (connections, tokens), the copy context (blob ledger, transfer limits) and a digest memo.
// Lambda runs one event at a time per container, so sharing them across events is what a long
// `sync` does across images: the ledger still trusts a blob only for the repository it saw it in.
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/types.js';
import { createCopyRuntime } from '../pipeline/sync.js';
import { poolTagLister } from '../plan/planner.js';
import type { WorkQueue } from '../queue/types.js';
import { InMemoryDigestMemo } from '../state/digest-memo.js';
import { PullBudgetGate } from '../pipeline/pull-budget.js';
import type { ImageOutcome } from '../pipeline/copier.js';
import type { CopierEnv } from './copier-batch.js';

export interface CopierEnvOptions {
  config: LoadedConfig;
  queue: WorkQueue;
  maxReceiveCount: number;
  logger?: Logger;
  marginMs?: number;
  /** Default: one info line per settled image (CloudWatch Logs is where a Lambda's results go). */
  onOutcome?: (o: ImageOutcome) => void;
}

export function createCopierEnv(opts: CopierEnvOptions): CopierEnv & { close(): Promise<void> } {
  const { pool, ctx } = createCopyRuntime(opts.config, { logger: opts.logger });
  // Docker Hub's pull budget (pipeline/pull-budget.ts): the copier plans nothing, so copies start at
  // once; once a source's budget reads spent, or it answers 429, the image goes to the DLQ as
  // SWRM_RATE_BUDGET (replay after the window), never as a failure.
  const pullBudget = new PullBudgetGate(pool, { pace: false, ...(opts.logger ? { logger: opts.logger } : {}) });
  void pullBudget.drain();
  const runtime = { pool, ctx, list: poolTagLister(pool), maxReceiveCount: opts.maxReceiveCount, memo: new InMemoryDigestMemo(), logger: opts.logger, pullBudget };
  return {
    queue: opts.queue,
    runtime,
    logger: opts.logger,
    ...(opts.marginMs !== undefined ? { marginMs: opts.marginMs } : {}),
    onOutcome: opts.onOutcome ?? ((o) => logOutcome(opts.logger, o)),
    close: () => pool.close(),
  };
}

/** One line per settled image; its source and destination are logged as they are (secrets.ts). */
export function logOutcome(logger: Logger | undefined, o: ImageOutcome): void {
  if (!logger || o.status === 'retrying') return; // retries are logged by the copier itself
  const { source, destination, status, digest, bytes, attempt } = o;
  logger.info({ source, destination, status, digest, bytes, attempt, durationMs: Math.round(o.durationMs), code: o.error?.code }, `image ${status}`);
}
