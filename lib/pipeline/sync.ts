// The embedded pipeline: planner -> queue -> N copiers, in one process, with the queue's SQS
// semantics (visibility, receive count, DLQ). The Lambda deployment runs the same planner and
// copier code around SQS. `sync` plans from the config; `replay` feeds dead letters back in.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/types.js';
import { createCopyContext } from '../copy/context.js';
import { ErrorCode, errorMessage, failureCode } from '../errors.js';
import { type TagLister, poolTagLister, runPlanner } from '../plan/planner.js';
import { EmbeddedQueue } from '../queue/embedded.js';
import { encodeMessage } from '../queue/messages.js';
import type { DeadLetterStore } from '../queue/types.js';
import { ClientPool } from '../registry/pool.js';
import type { RegistryStats } from '../registry/types.js';
import { type ImageOutcome, runCopiers } from './copier.js';

export interface PipelineOptions {
  config: LoadedConfig;
  /** Copiers at once. */
  proc: number;
  /** Extra deliveries of a failing image before the DLQ. */
  retries: number;
  dlq: DeadLetterStore;
  logger?: Logger;
  signal?: AbortSignal;
  onPlanned?: (count: number) => void;
  onOutcome?: (o: ImageOutcome) => void;
  onBytes?: (bytes: number) => void;
}

export interface PipelineRun {
  /** Final outcomes only (no `retrying`). */
  outcomes: ImageOutcome[];
  planned: number;
  interrupted: boolean;
  /** Messages not finished when interrupted; they were written to the DLQ to stay replayable. */
  leftOver: number;
  requests: Record<string, RegistryStats>;
}

/**
 * A day. In one process a copier holds its message for as long as the image takes and nothing else
 * competes for it, so the timeout only has to outlast the longest copy (a 50 GB layer over a slow
 * link). It must stay below 2^31 ms, the longest timer Node can set.
 */
const VISIBILITY_TIMEOUT_MS = 24 * 60 * 60 * 1000;

export async function runSync(opts: PipelineOptions): Promise<PipelineRun> {
  return runPipeline(opts, async (ctx) => {
    await runPlanner(
      opts.config.rules,
      ctx.list,
      {
        tasks: async (messages) => {
          ctx.planned(messages.length);
          await ctx.queue.send(messages.map(encodeMessage));
        },
        ruleFailed: async (message, err) => {
          const body = encodeMessage(message);
          const reason = { code: failureCode(err), message: errorMessage(err) };
          opts.logger?.error({ source: message.source, err: reason.message }, 'cannot list tags; rule sent to the DLQ');
          await opts.dlq.add({ id: randomUUID(), body, receiveCount: 1, reason, at: new Date().toISOString() });
          ctx.outcome({
            body,
            kind: 'expand-repository',
            source: message.source,
            destination: message.destinations.join(', '),
            status: 'failed',
            bytes: 0,
            durationMs: 0,
            attempt: 1,
            error: reason,
          });
        },
      },
      { platforms: opts.config.defaults.platforms, signal: opts.signal },
    );
  });
}

/** Run the given message bodies (dead letters being replayed) through the same copiers. */
export function runMessages(opts: PipelineOptions, bodies: string[]): Promise<PipelineRun> {
  return runPipeline(opts, async (ctx) => {
    ctx.planned(bodies.length);
    await ctx.queue.send(bodies);
  });
}

interface FeedContext {
  queue: EmbeddedQueue;
  list: TagLister;
  planned(n: number): void;
  outcome(o: ImageOutcome): void;
}

async function runPipeline(opts: PipelineOptions, feed: (ctx: FeedContext) => Promise<void>): Promise<PipelineRun> {
  const { config, logger, signal } = opts;
  const pool = new ClientPool({ resolve: config.resolve, logger, timeout: config.defaults.timeout, connections: config.defaults.connections });
  const registryConcurrency: Record<string, number> = {};
  const registryConnections: Record<string, number> = {};
  for (const r of config.registries) if (r.concurrency && !r.prefix.includes('/')) registryConcurrency[r.prefix] = r.concurrency;
  for (const r of config.registries) if (r.access.connections && !r.prefix.includes('/')) registryConnections[r.prefix] = r.access.connections;
  const connections = config.defaults.connections;
  const ctx = createCopyContext({ logger, signal, onBytes: opts.onBytes, registryConcurrency, registryConnections, connections });
  const queue = new EmbeddedQueue({ visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS, maxReceiveCount: opts.retries + 1, dlq: opts.dlq });
  const list = poolTagLister(pool);
  const outcomes: ImageOutcome[] = [];
  let planned = 0;
  const outcome = (o: ImageOutcome) => {
    if (o.status !== 'retrying') outcomes.push(o);
    opts.onOutcome?.(o);
  };
  const plannedBy = (n: number) => {
    planned += n;
    opts.onPlanned?.(n);
  };

  // Done when everything was fed and the queue is empty (nothing visible, in flight or delayed).
  const done = new AbortController();
  const fed = feed({ queue, list, planned: plannedBy, outcome });
  fed.then(() => queue.onIdle(), () => undefined).finally(() => done.abort());
  const copiers = runCopiers(
    opts.proc,
    { queue, pool, ctx, maxReceiveCount: opts.retries + 1, list, logger, signal, onOutcome: outcome, onPlanned: plannedBy },
    done.signal,
  );
  // Wait for both, whatever happens to one, before closing the connections they use.
  const settled = await Promise.allSettled([fed, copiers]);
  await pool.close().catch(() => undefined);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');

  // Ctrl-C, or a broken queue: whatever was not finished stays replayable.
  let leftOver = 0;
  if (signal?.aborted || failure) {
    const at = new Date().toISOString();
    const reason = failure
      ? { code: failureCode(failure.reason), message: `not finished: ${errorMessage(failure.reason)}` }
      : { code: ErrorCode.INTERRUPTED, message: 'interrupted before this image was finished' };
    for (const m of queue.remaining()) {
      leftOver++;
      await opts.dlq.add({ id: m.id, body: m.body, receiveCount: m.receiveCount, reason, at }).catch(() => {
        // The DLQ itself is what failed: the message must still not vanish without a trace.
        process.stderr.write(`swr-migrate: could not save an unfinished message: ${m.body}\n`);
      });
    }
  }
  if (failure) throw failure.reason;
  return { outcomes, planned, interrupted: signal?.aborted ?? false, leftOver, requests: pool.stats() };
}
