// The embedded pipeline: planner -> queue -> N copiers, in one process, with the queue's SQS
// semantics (visibility, receive count, DLQ). The Lambda deployment runs the same planner and
// copier code around SQS. `sync` plans from the config; `replay` feeds dead letters back in.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/types.js';
import { createCopyContext } from '../copy/context.js';
import { ErrorCode, errorMessage, failureCode } from '../errors.js';
import { type TagLister, runPlanner } from '../plan/planner.js';
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

/** An hour: a copier holds a message for as long as its image takes; nothing else competes for it. */
const VISIBILITY_TIMEOUT_MS = 60 * 60 * 1000;

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
  const pool = new ClientPool({ resolve: config.resolve, logger });
  const registryConcurrency: Record<string, number> = {};
  for (const r of config.registries) if (r.concurrency && !r.prefix.includes('/')) registryConcurrency[r.prefix] = r.concurrency;
  const ctx = createCopyContext({ logger, signal, onBytes: opts.onBytes, registryConcurrency });
  const queue = new EmbeddedQueue({ visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS, maxReceiveCount: opts.retries + 1, dlq: opts.dlq });
  const list: TagLister = (registry, repository, s) => pool.client(registry, repository, 'source').tagList(repository, s);
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
  for (const s of settled) if (s.status === 'rejected') throw s.reason;

  let leftOver = 0;
  if (signal?.aborted) {
    // Ctrl-C: whatever was not finished stays replayable.
    const at = new Date().toISOString();
    for (const m of queue.remaining()) {
      leftOver++;
      const reason = { code: ErrorCode.INTERRUPTED, message: 'interrupted before this image was finished' };
      await opts.dlq.add({ id: m.id, body: m.body, receiveCount: m.receiveCount, reason, at });
    }
  }
  return { outcomes, planned, interrupted: signal?.aborted ?? false, leftOver, requests: pool.stats() };
}
