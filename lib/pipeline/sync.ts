// The embedded pipeline: planner -> queue -> N copiers, in one process, with the queue's SQS
// semantics (visibility, receive count, DLQ). The Lambda deployment runs the same planner and
// copier code around SQS. `sync` plans from the config; `replay` feeds dead letters back in.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/types.js';
import { type CopyContext, createCopyContext } from '../copy/context.js';
import { type DestinationConflictError, ErrorCode, errorMessage, failureCode } from '../errors.js';
import { ruleFailure } from '../plan/rule-failure.js';
export { ruleFailure } from '../plan/rule-failure.js';
import { partitionConflictBodies } from '../plan/conflicts.js';
import { listerFor } from '../listing/index.js';
import { type TagLister, expandRules, poolTagLister, runPlanner } from '../plan/planner.js';
import { invalidTagsWarning } from '../plan/warnings.js';
import { EmbeddedQueue } from '../queue/embedded.js';
import { decodeMessage, encodeMessage, ruleDestinationText, ruleSourceText } from '../queue/messages.js';
import type { DeadLetter, DeadLetterStore, WorkQueue } from '../queue/types.js';
import { ClientPool } from '../registry/pool.js';
import type { RegistryStats } from '../registry/types.js';
import type { DigestMemo } from '../state/digest-memo.js';
import type { DestinationState } from '../copy/destination-state.js';
import { messageDestinations, ruleDestinations, swrPreflight } from '../vendors/swr/preflight.js';
import { type ImageOutcome, runCopiers } from './copier.js';
import { recheckRulesOf } from './recheck.js';
import { PullBudgetGate } from '../registry/limits/pull-gate.js';
import { AttemptLedger, deliveryCap } from './attempts.js';
import { pruneRule } from './prune.js';

export interface PipelineOptions {
  config: LoadedConfig;
  /** Copiers at once. */
  proc: number;
  /** Extra deliveries of a failing image before the DLQ. */
  retries: number;
  dlq: DeadLetterStore;
  /**
   * The work queue; default: an embedded one over `dlq`. Another queue (SQS) keeps its own DLQ, and
   * on an interrupt its unfinished messages simply stay on it (nothing is copied to `dlq`).
   */
  queue?: WorkQueue;
  /** Between two "drained" readings of a non-embedded queue (default 1 s). */
  drainPollMs?: number;
  /** Filtered digests from earlier runs; without it a platform-filtered re-run GETs each source index. */
  memo?: DigestMemo;
  /** What the run learns and remembers of its destination repositories (copy/destination-state.ts). */
  destinations?: DestinationState;
  logger?: Logger;
  signal?: AbortSignal;
  onPlanned?: (count: number) => void;
  onOutcome?: (o: ImageOutcome) => void;
  onBytes?: (bytes: number) => void;
  /** A message that could not be saved to the DLQ (the DLQ write failed): it must not vanish.
   *  Default: one line on stderr with the message body (bodies never carry credentials). */
  onLost?: (body: string, err: unknown) => void;
  /** --pace: wait for a source's pull budget (Docker Hub) instead of leaving the rest for later. */
  pace?: boolean;
  /** A line for the user before copying: the plan exceeds a source's pull budget (pull-budget.ts). */
  onNotice?: (line: string) => void;
  /** Warnings for the user (a glob matching nothing, no push times, skipped tags); default: logged. */
  onWarning?: (message: string) => void;
}

/** Work left when the run stopped: `started` false means it was never tried (summary: "not started"). */
export interface Unfinished {
  body: string;
  started: boolean;
}

export interface PipelineRun {
  /** Final outcomes only (no `retrying`). */
  outcomes: ImageOutcome[];
  planned: number;
  interrupted: boolean;
  /** Messages not finished when interrupted; they were written to the DLQ to stay replayable. */
  leftOver: number;
  /** The same messages, plus rules the planner never reached, told apart by whether they started. */
  unfinished: Unfinished[];
  /** Bytes streamed, counted where the progress display counts them (onBytes), so they agree. */
  bytes: number;
  /** Messages whose DLQ write failed (each was printed through onLost). */
  lost: number;
  requests: Record<string, RegistryStats>;
}

const lostToStderr = (body: string, err: unknown) =>
  process.stderr.write(`swr-migrate: could not write to the DLQ (${errorMessage(err)}); not saved: ${body}\n`);

/**
 * A day. In one process a copier holds its message for as long as the image takes and nothing else
 * competes for it, so the timeout only has to outlast the longest copy (a 50 GB layer over a slow
 * link). It must stay below 2^31 ms, the longest timer Node can set.
 */
const VISIBILITY_TIMEOUT_MS = 24 * 60 * 60 * 1000;

export async function runSync(opts: PipelineOptions): Promise<PipelineRun> {
  // SWR names, organizations and quota, before the planner sends anything (lib/vendors/swr/preflight.ts).
  await swrPreflight(ruleDestinations(opts.config.rules), opts.config.resolve, { logger: opts.logger });
  return runPipeline(opts, async (ctx) => {
    try {
      await planAll(opts, ctx);
    } finally {
      // Said before any of them is copied: how the plan fits its sources' budgets. Always, so no
      // budgeted copy waits for a plan that failed.
      await ctx.pullBudget.drain();
    }
  });
}

/** Plan every rule of the config onto `ctx.queue` (sync; serve's scheduled runs, lib/serve/runs.ts). */
export async function planAll(opts: Pick<PipelineOptions, 'config' | 'logger' | 'signal' | 'onWarning' | 'destinations'>, ctx: FeedContext): Promise<void> {
  const warn = opts.onWarning ?? ((message: string) => opts.logger?.warn(message));
  const planOpts = { signal: opts.signal, repositories: (registry: string) => listerFor(ctx.pool, registry), onWarning: warn };
  // Namespace rules are listed first, so that SWR's preflight sees the organizations they map to.
  const expanded = await expandRules(opts.config.rules, planOpts);
  const listed = expanded.rules.filter((r) => !opts.config.rules.includes(r));
  if (listed.length) await swrPreflight(ruleDestinations(listed), opts.config.resolve, { logger: opts.logger });
  await runPlanner(
    opts.config.rules,
    ctx.list,
    {
      tasks: async (messages) => {
        ctx.planned(messages.length);
        // A source that states a pull budget copies only once the plan is complete (pull-budget.ts).
        ctx.pullBudget.count(messages.map((m) => m.source), opts.signal);
        await ctx.queue.send(messages.map(encodeMessage));
      },
      ruleFailed: async (message, err) => {
        const body = encodeMessage(message);
        const verdict = ruleFailure(err, opts.signal);
        // A listing that failed for a passing reason (a 503 storm) is listed again by a copier,
        // with the message's backoff and attempts, like any image; only then does it reach the DLQ.
        if (verdict.action === 'retry') {
          opts.logger?.warn({ source: message.source, err: errorMessage(err) }, 'cannot list the rule yet; a copier lists it again');
          return ctx.queue.send([body]);
        }
        const { reason, notStarted } = verdict;
        if (!notStarted) opts.logger?.error({ source: message.source, err: reason.message }, 'cannot list the rule; sent to the DLQ');
        await ctx.saveLetter({ id: randomUUID(), body, receiveCount: notStarted ? 0 : 1, reason, at: new Date().toISOString() });
        if (notStarted) return ctx.unfinished({ body, started: false });
        ctx.outcome({
          body,
          kind: message.kind,
          source: message.source,
          destination: ruleDestinationText(message),
          status: 'failed',
          bytes: 0,
          durationMs: 0,
          attempt: 1,
          error: reason,
        });
      },
      conflict: (message, err) => conflictDeadLetter(opts, ctx, encodeMessage(message), err),
    },
    {
      ...planOpts,
      expanded,
      platforms: opts.config.defaults.platforms,
      onInvalidTags: (source, tags, origin) => warn(invalidTagsWarning(source, tags, origin)),
      // A rule's prune, once it is listed and before its copies are sent (pipeline/prune.ts).
      onListed: (rule, listed) =>
        pruneRule(rule, listed, {
          pool: ctx.pool,
          ...(opts.destinations ? { destinations: opts.destinations } : {}),
          ...(opts.logger ? { logger: opts.logger } : {}),
          onWarning: warn,
          onPrune: ctx.outcome,
          ...(opts.signal ? { signal: opts.signal } : {}),
        }),
    },
  );
}

/**
 * The client pool and copy context a config asks for (connection caps, per-registry transfer
 * limits). One per run for `sync`; one per warm container for the Lambda copier (lib/lambda).
 */
export function createCopyRuntime(
  config: LoadedConfig,
  opts: { logger?: Logger; signal?: AbortSignal; onBytes?: (n: number) => void; onResponse?: (registry: string, status: number) => void } = {},
): { pool: ClientPool; ctx: CopyContext } {
  const { logger, onResponse } = opts;
  const pool = new ClientPool({ resolve: config.resolve, logger, timeout: config.defaults.timeout, connections: config.defaults.connections, ...(onResponse ? { onResponse } : {}) });
  const registryConcurrency: Record<string, number> = {};
  const registryConnections: Record<string, number> = {};
  for (const r of config.registries) if (r.concurrency && !r.prefix.includes('/')) registryConcurrency[r.prefix] = r.concurrency;
  for (const r of config.registries) if (r.access.connections && !r.prefix.includes('/')) registryConnections[r.prefix] = r.access.connections;
  const connections = config.defaults.connections;
  const ctx = createCopyContext({ logger, signal: opts.signal, onBytes: opts.onBytes, registryConcurrency, registryConnections, connections });
  return { pool, ctx };
}

/** Run the given message bodies (dead letters being replayed) through the same copiers. */
export async function runMessages(opts: PipelineOptions, bodies: string[]): Promise<PipelineRun> {
  await swrPreflight(messageDestinations(bodies), opts.config.resolve, { logger: opts.logger });
  return runPipeline(opts, async (ctx) => {
    ctx.planned(bodies.length);
    await ctx.pullBudget.drain(); // nothing planned here: budgeted copies may start at once
    // Conflicting letters replayed together would race just as they would have in the sync.
    const { clear, held } = partitionConflictBodies(bodies);
    for (const h of held) await conflictDeadLetter(opts, ctx, h.body, h.error, false);
    await ctx.queue.send(clear);
  });
}

/** A task two sources claim: straight to the DLQ, never to a copier (plan/conflicts.ts). */
async function conflictDeadLetter(opts: Pick<PipelineOptions, 'logger'>, ctx: FeedContext, body: string, err: DestinationConflictError, plan = true): Promise<void> {
  const m = JSON.parse(body) as { source: string; destination: string };
  const reason = { code: err.code, message: err.message };
  opts.logger?.error({ source: m.source, destination: m.destination, err: reason.message }, 'destination conflict; sent to the DLQ');
  await ctx.saveLetter({ id: randomUUID(), body, receiveCount: 1, reason, at: new Date().toISOString() });
  if (plan) ctx.planned(1);
  ctx.outcome({ body, kind: 'copy-image', source: m.source, destination: m.destination, status: 'failed', bytes: 0, durationMs: 0, attempt: 1, error: reason });
}

export interface FeedContext {
  queue: WorkQueue;
  pool: ClientPool;
  list: TagLister;
  planned(n: number): void;
  outcome(o: ImageOutcome): void;
  unfinished(u: Unfinished): void;
  /** Add to the DLQ; a failed write goes to onLost instead of ending the run. */
  saveLetter(letter: DeadLetter): Promise<void>;
  pullBudget: PullBudgetGate;
}

/**
 * What an expansion may not send to a copier (a group's conflicting images, a rule it cannot list):
 * straight to the DLQ, counted like the planner's own letters. The copiers' `deadLetter`.
 */
export function expansionDeadLetter(ctx: Pick<FeedContext, 'saveLetter' | 'planned' | 'outcome'>) {
  return async (body: string, reason: { code: string; message: string }): Promise<void> => {
    await ctx.saveLetter({ id: randomUUID(), body, receiveCount: 1, reason, at: new Date().toISOString() });
    const m = decodeMessage(body);
    if (m.kind === 'copy-image') ctx.planned(1);
    const source = m.kind === 'copy-image' ? m.source : ruleSourceText(m);
    const destination = m.kind === 'copy-image' ? m.destination : ruleDestinationText(m);
    ctx.outcome({ body, kind: m.kind, source, destination, status: 'failed', bytes: 0, durationMs: 0, attempt: 1, error: reason });
  };
}

async function runPipeline(opts: PipelineOptions, feed: (ctx: FeedContext) => Promise<void>): Promise<PipelineRun> {
  const { config, logger, signal } = opts;
  let bytes = 0;
  const onBytes = (n: number) => {
    bytes += n;
    opts.onBytes?.(n);
  };
  const { pool, ctx } = createCopyRuntime(config, { logger, signal, onBytes });
  // The queue's cap leaves room for deliveries that make progress; `retries + 1` bounds the others (attempts.ts).
  const maxReceiveCount = deliveryCap(opts.retries);
  const queue = opts.queue ?? new EmbeddedQueue({ visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS, maxReceiveCount, dlq: opts.dlq });
  const list = poolTagLister(pool);
  const pullBudget = new PullBudgetGate(pool, { pace: opts.pace ?? false, logger, onNotice: opts.onNotice });
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
  const unfinished: Unfinished[] = [];
  let lost = 0;
  const saveLetter = async (letter: DeadLetter) => {
    await opts.dlq.add(letter).catch((err: unknown) => {
      // The DLQ itself is what failed: the message must still not vanish without a trace.
      lost++;
      (opts.onLost ?? lostToStderr)(letter.body, err);
    });
  };

  const deadLetter = expansionDeadLetter({ saveLetter, planned: plannedBy, outcome });

  // Done when everything was fed and the queue is empty (nothing visible, in flight or delayed).
  const done = new AbortController();
  const fed = feed({ queue, pool, list, planned: plannedBy, outcome, unfinished: (u) => unfinished.push(u), saveLetter, pullBudget });
  // The drain poll also stops on Ctrl-C, and once both sides settled (a broken queue).
  const stopPoll = signal ? AbortSignal.any([done.signal, signal]) : done.signal;
  fed.then(() => untilDrained(queue, opts.drainPollMs ?? 1000, stopPoll), () => undefined).finally(() => done.abort());
  const copiers = runCopiers(
    opts.proc,
    {
      queue,
      pool,
      ctx,
      maxReceiveCount,
      attempts: opts.retries + 1,
      ledger: new AttemptLedger(),
      list,
      logger,
      signal,
      onOutcome: outcome,
      onPlanned: plannedBy,
      memo: opts.memo,
      ...(opts.destinations ? { destinations: opts.destinations } : {}),
      pullBudget,
      onWarning: opts.onWarning,
      deadLetter,
      // A replayed recheck letter is matched against this config's rules (pipeline/recheck.ts).
      ...recheckRulesOf(config),
    },
    done.signal,
  );
  // Wait for both, whatever happens to one, before closing the connections they use.
  const settled = await Promise.allSettled([fed, copiers]);
  done.abort();
  ctx.sourceBlobs?.close();
  await pool.close().catch(() => undefined);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');

  // Ctrl-C, or a broken queue: whatever was not finished stays replayable.
  let leftOver = 0;
  if ((signal?.aborted || failure) && queue instanceof EmbeddedQueue) {
    const at = new Date().toISOString();
    for (const m of queue.remaining()) {
      leftOver++;
      // Never delivered: not started. Delivered (in flight, or waiting for a retry): interrupted.
      const started = m.receiveCount > 0;
      const reason = failure
        ? { code: failureCode(failure.reason), message: `not finished: ${errorMessage(failure.reason)}` }
        : started
          ? { code: ErrorCode.INTERRUPTED, message: 'interrupted before this image was finished' }
          : { code: ErrorCode.NOT_STARTED, message: 'interrupted before this image was started' };
      unfinished.push({ body: m.body, started });
      await saveLetter({ id: m.id, body: m.body, receiveCount: m.receiveCount, reason, at });
    }
  }
  if (failure) throw failure.reason;
  return { outcomes, planned, interrupted: signal?.aborted ?? false, leftOver, unfinished, bytes, lost, requests: pool.stats() };
}

/**
 * Resolves when the queue has drained. The embedded queue says so the moment it happens (`onIdle`:
 * the no-op bench run would pay any poll interval in full); another queue is asked every `pollMs`,
 * and it takes two empty readings in a row, because SQS's counts are approximate and lag.
 */
export async function untilDrained(queue: WorkQueue, pollMs: number, stop?: AbortSignal): Promise<void> {
  if (queue instanceof EmbeddedQueue) return queue.onIdle();
  let empty = 0;
  while (!stop?.aborted) {
    empty = (await queue.drained()) ? empty + 1 : 0;
    if (empty >= 2) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        stop?.removeEventListener('abort', done);
        resolve();
      }
      stop?.addEventListener('abort', done, { once: true });
    });
  }
}
