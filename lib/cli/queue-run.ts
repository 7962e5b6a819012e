// The CLI's copiers against a real SQS queue (`sync --queue-url`, `work --queue-url`): local workers
// call the Lambda copier handler with SQS-shaped events (lambda/local-workers.ts), and the outcomes
// feed the same progress display and summary as the embedded `sync`.
import { recheckRulesOf } from '../pipeline/recheck.js';
import type { SyncRule } from '../config/types.js';
import { type SourceTags, pruneRule } from '../pipeline/prune.js';
import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/types.js';
import { ErrorCode, UsageError, errorMessage, failureCode } from '../errors.js';
import { copierHandler } from '../lambda/copier-handler.js';
import { HeldMessages, PendingPolls, runLocalWorkers } from '../lambda/local-workers.js';
import type { ImageOutcome } from '../pipeline/copier.js';
import { createCopyRuntime, type PipelineRun, ruleFailure, type Unfinished } from '../pipeline/sync.js';
import { listerFor } from '../listing/index.js';
import { expandRules, poolTagLister, runPlanner } from '../plan/planner.js';
import { invalidTagsWarning } from '../plan/warnings.js';
import { decodeMessage, encodeMessage, ruleDestinationText, ruleSourceText } from '../queue/messages.js';
import { letterTo } from '../lambda/copier-env.js';
import { BlobClaims } from '../copy/blob-claims.js';
import type { SqsDeadLetterStore } from '../queue/sqs-dlq.js';
import { SQS_MAX_WAIT_S, sqsCall } from '../queue/sqs-client.js';
import { SqsWorkQueue } from '../queue/sqs-queue.js';
import { InMemoryDigestMemo, StoreDigestMemo } from '../state/digest-memo.js';
import { MemoryStateStore } from '../state/memory-store.js';
import { destinationStateFor } from '../copy/destination-state.js';
import { RunTracker } from '../state/runs.js';
import { runAccounting } from '../notify/run-end.js';
import { openStateStore } from '../lambda/state.js';
import { ruleDestinations, swrPreflight } from '../vendors/swr/preflight.js';
import { PullBudgetGate } from '../registry/limits/pull-gate.js';
import { AttemptLedger, deliveryCap } from '../pipeline/attempts.js';
import type { Progress } from './progress.js';

/** `--queue-url`: an http(s) URL (SQS's, or a stand-in's); anything else is a usage error. */
export function queueUrlFlag(value: string | undefined, command: string): string {
  if (!value) throw new UsageError(`${command} needs --queue-url URL (the SQS work queue)`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--queue-url must be an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME), got "${value.slice(0, 200)}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--queue-url must be an http(s) URL, got "${value.slice(0, 200)}"`);
  return value;
}

/** The queue and its DLQ. A missing queue (SWRM_QUEUE) or one without a RedrivePolicy (SWRM_NO_DLQ) fails here, naming it. */
export async function openQueue(queueUrl: string): Promise<{ queue: SqsWorkQueue; dlq: SqsDeadLetterStore }> {
  const queue = new SqsWorkQueue({ queueUrl });
  return { queue, dlq: await queue.deadLetters() };
}

export interface QueueRunOptions {
  config: LoadedConfig;
  proc: number;
  retries: number;
  queue: SqsWorkQueue;
  dlq: SqsDeadLetterStore;
  /** Plan and enqueue first (`sync`); without it, only work (`work`). */
  plan: boolean;
  /** Stop when the queue reads drained (`sync`, `work --until-empty`); otherwise only a signal stops. */
  untilEmpty: boolean;
  logger: Logger;
  signal: AbortSignal;
  progress: Progress;
  /** --pace: wait for a source's pull budget instead of leaving images for later (registry/limits/pull-gate.ts). */
  pace?: boolean;
  /** The pull-budget line before copying (the plan exceeds a source's budget). */
  onNotice?: (line: string) => void;
  /** Warnings for the user (lib/cli/warnings.ts), from planning and from expanding repositories. */
  onWarning?: (message: string) => void;
}

export interface QueueRun extends PipelineRun {
  /** Messages of other runs (or other producers) that these workers settled too. */
  foreign: number;
}

export async function runOnQueue(opts: QueueRunOptions): Promise<QueueRun> {
  const { config, logger, signal, progress, queue, dlq } = opts;
  // SWR names, quota and organizations before any worker starts or anything is sent, as `sync` does
  // (pipeline/sync.ts runSync); namespace rules' destinations once they are listed (planOnto).
  if (opts.plan) await swrPreflight(ruleDestinations(config.rules), config.resolve, { logger });
  let bytes = 0;
  const { pool, ctx } = createCopyRuntime(config, { logger, signal, onBytes: (n) => ((bytes += n), progress.moved(n)) });
  // Spooled source blobs live for the whole run, not for the handler's batch (copy/source-share.ts enter()).
  ctx.sourceBlobs?.enter();
  // Dead-lettered by us on the last delivery, so the letter keeps its reason; SQS's own move after
  // the RedrivePolicy's maxReceiveCount would drop it. Never more deliveries than that policy allows;
  // within it, deliveries that make progress spend no attempt (pipeline/attempts.ts).
  const maxReceiveCount = Math.min(deliveryCap(opts.retries), dlq.maxReceiveCount || Infinity);
  // The same pull-budget gate as the embedded sync and the Lambda copier: the plan is compared with
  // each budgeted source's budget before its copies start, and --pace waits instead of deferring.
  const state = await openStateStore(process.env);
  // Workers on other machines and the Lambda copiers claim blobs in the same table (copy/blob-claims.ts).
  if (state) ctx.claims = new BlobClaims(state, { logger });
  const pullBudget = new PullBudgetGate(pool, { pace: opts.pace ?? false, logger, ...(opts.onNotice ? { onNotice: opts.onNotice } : {}) });
  const outcomes: ImageOutcome[] = [];
  const unfinished: Unfinished[] = [];
  // This run's bodies not yet settled (a multiset: SQS delivers at least once, a body may come twice).
  const pending = new Map<string, number>();
  let planned = 0;
  let foreign = 0;
  let fed = !opts.plan;
  const done = new AbortController();
  const check = () => {
    if (opts.plan && fed && pending.size === 0) done.abort();
  };
  const expect = (bodies: string[]) => {
    for (const b of bodies) pending.set(b, (pending.get(b) ?? 0) + 1);
    planned += bodies.length;
    progress.planned(bodies.length);
  };
  // A rule to list again: awaited like an image, but not counted as one (its copies are, once it expands).
  const expectRule = (body: string) => void pending.set(body, (pending.get(body) ?? 0) + 1);
  const onOutcome = (o: ImageOutcome) => {
    if (o.status === 'retrying') return;
    // A tag an expansion's prune dealt with: reported, but no message of the run (nothing pending).
    if (o.kind === 'prune') return void outcomes.push(o);
    const left = pending.get(o.body);
    if (opts.plan && left === undefined) {
      foreign++;
      return;
    }
    if (left !== undefined) left > 1 ? pending.set(o.body, left - 1) : pending.delete(o.body);
    outcomes.push(o);
    // `work` knows no total in advance: each settled message counts as planned when it settles.
    if (!opts.plan) progress.planned(1);
    progress.outcome(o);
    check();
  };
  const runtime = {
    pool,
    ctx,
    list: poolTagLister(pool),
    maxReceiveCount,
    attempts: Math.min(opts.retries + 1, maxReceiveCount),
    ledger: new AttemptLedger(),
    // The stack's state table, when given (SWRM_STATE_TABLE, as the Lambda copier reads it): `work`
    // on the long-haul queue counts its messages in their runs and shares the copiers' digest memo.
    memo: state ? new StoreDigestMemo(state, logger) : new InMemoryDigestMemo(),
    ...(state ? { runs: runAccounting(new RunTracker(state), config.notify, { logger }) } : {}),
    // Records of destination tags and repositories: in the state table when given, else this process's.
    destinations: destinationStateFor(state ?? new MemoryStateStore(), config.defaults, logger),
    logger,
    pullBudget,
    onWarning: opts.onWarning,
    // An event's recheck is matched against this config's rules (pipeline/recheck.ts).
    ...recheckRulesOf(config),
    // What an expansion must not send to a copier goes to the DLQ, and counts in this run.
    deadLetter: async (body: string, reason: { code: string; message: string }) => {
      await letterTo(dlq)(body, reason);
      const m = decodeMessage(body);
      const o: ImageOutcome = {
        body,
        kind: m.kind,
        source: m.kind === 'copy-image' ? m.source : ruleSourceText(m),
        destination: m.kind === 'copy-image' ? m.destination : ruleDestinationText(m),
        status: 'failed',
        bytes: 0,
        durationMs: 0,
        attempt: 1,
        error: reason,
      };
      outcomes.push(o);
      if (m.kind === 'copy-image') progress.planned(1);
      progress.outcome(o);
    },
  };
  // The handler settles through `held`'s view of the queue, so the heartbeat knows what it still holds.
  const held = new HeldMessages();
  // A message cut short by a signal is released at once (delay 0), but not before the long polls
  // the signal aborted have run out on SQS's side: one of them could take it and hide it for the
  // queue's whole visibility timeout (local-workers.ts PendingPolls). Backoffs are left as they are.
  const polls = new PendingPolls();
  // What a copier enqueues for this run (a rule listed again fans out into copies) is this run's too.
  const settling = held.wrap(polls.wrap(queue));
  const tracked = opts.plan ? { ...settling, send: async (bodies: string[]) => (expect(bodies), settling.send(bodies)) } : settling;
  const handler = copierHandler(async () => ({ queue: tracked, runtime, logger, onOutcome }), { logger });
  const stop = AbortSignal.any([done.signal, signal]);
  const visibilityMs = await queueVisibilityMs(queue);
  // A worker that runs until a signal waits on SQS's longest long poll (20 s) rather than asking an
  // idle queue every second. A stop ends our side of the wait at once (`polls` covers SQS's side).
  const waitMs = opts.untilEmpty ? undefined : SQS_MAX_WAIT_S * 1000;
  const workers = runLocalWorkers({ queue, handler, workers: opts.proc, queueArn: dlq.queueArn, stop, held, polls, visibilityMs, ...(waitMs ? { waitMs } : {}) });

  const count = (sources: string[]) => pullBudget.count(sources, signal);
  const feed = opts.plan
    ? planOnto(opts, expect, (o) => (outcomes.push(o), progress.outcome(o)), unfinished, count, expectRule, (rule, listed) =>
        // A rule's prune, once listed and before its copies are sent, as in `sync` (pipeline/prune.ts).
        pruneRule(rule, listed, { pool, destinations: runtime.destinations, logger, signal, onWarning: opts.onWarning ?? ((m) => logger.warn(m)), onPrune: (o) => void outcomes.push(o) }),
      ).finally(() => pullBudget.drain())
    : pullBudget.drain();
  const watch = feed.then(async () => {
    fed = true;
    check();
    // `work` without --until-empty: the workers keep long-polling, an empty queue included, until a
    // signal (docs/commands.md). Only `sync` and --until-empty end when the queue reads drained.
    if (!opts.untilEmpty) return;
    await untilDrainedOrStopped(queue, stop);
    done.abort();
  });
  watch.catch(() => done.abort());
  const settled = await Promise.allSettled([feed, workers, watch]);
  done.abort();
  ctx.sourceBlobs?.close();
  await pool.close().catch(() => undefined);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  // On a signal, this run's unsettled messages simply stay on the queue (the handler made the
  // ones it was copying visible again): nothing is lost, and any copier picks them up.
  for (const [body, n] of signal.aborted ? pending : []) for (let i = 0; i < n; i++) unfinished.push({ body, started: false });
  return { outcomes, planned, interrupted: signal.aborted, leftOver: 0, unfinished, bytes, lost: 0, requests: pool.stats(), foreign };
}

/** The embedded sync's planner, sending to SQS; rules that cannot be listed go to the DLQ. */
async function planOnto(
  opts: QueueRunOptions,
  expect: (bodies: string[]) => void,
  failed: (o: ImageOutcome) => void,
  unfinished: Unfinished[],
  count: (sources: string[]) => void,
  expectRule: (body: string) => void,
  prune: (rule: SyncRule, listed: SourceTags) => Promise<void>,
): Promise<void> {
  const { config, queue, dlq, signal, logger } = opts;
  const { pool } = createCopyRuntime(config, { logger, signal });
  const letter = (body: string, reason: { code: string; message: string }) =>
    dlq.add({ id: randomUUID(), body, receiveCount: 1, reason, at: new Date().toISOString() });
  const warn = opts.onWarning ?? ((message: string) => logger.warn(message));
  const planOpts = { signal, repositories: (registry: string) => listerFor(pool, registry), onWarning: warn };
  try {
    // Namespace rules are listed first, so SWR's pre-flight sees the organizations they map to.
    const expanded = await expandRules(config.rules, planOpts);
    const listed = expanded.rules.filter((r) => !config.rules.includes(r));
    if (listed.length) await swrPreflight(ruleDestinations(listed), config.resolve, { logger });
    await runPlanner(
      config.rules,
      poolTagLister(pool),
      {
        tasks: async (messages) => {
          const bodies = messages.map(encodeMessage);
          count(messages.map((m) => m.source));
          expect(bodies);
          await queue.send(bodies);
        },
        ruleFailed: async (m, err) => {
          const body = encodeMessage(m);
          const verdict = ruleFailure(err, signal);
          if (verdict.action === 'retry') {
            // Listed again by a copier, with the message's backoff and attempts (as in `sync`).
            logger.warn({ source: m.source, err: errorMessage(err) }, 'cannot list the rule yet; a copier lists it again');
            expectRule(body);
            return queue.send([body]);
          }
          await letter(body, verdict.reason);
          if (verdict.notStarted) return void unfinished.push({ body, started: false });
          logger.error({ source: m.source, err: verdict.reason.message }, 'cannot list the rule; sent to the DLQ');
          failed({ body, kind: m.kind, source: m.source, destination: ruleDestinationText(m), status: 'failed', bytes: 0, durationMs: 0, attempt: 1, error: verdict.reason });
        },
        conflict: async (m, err) => {
          const body = encodeMessage(m);
          const reason = { code: err.code, message: err.message };
          await letter(body, reason);
          failed({ body, kind: 'copy-image', source: m.source, destination: m.destination, status: 'failed', bytes: 0, durationMs: 0, attempt: 1, error: reason });
        },
      },
      {
        ...planOpts,
        expanded,
        platforms: config.defaults.platforms,
        onInvalidTags: (source, tags, origin) => warn(invalidTagsWarning(source, tags, origin)),
        onListed: prune,
      },
    );
  } finally {
    await pool.close().catch(() => undefined);
  }
}

/** Two drained() answers in a row (each is several readings: SQS's counts lag), polled every second. */
async function untilDrainedOrStopped(queue: SqsWorkQueue, stop: AbortSignal): Promise<void> {
  let empty = 0;
  while (!stop.aborted) {
    empty = (await queue.drained()) ? empty + 1 : 0;
    if (empty >= 2) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      stop.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
}

/** The queue's VisibilityTimeout (what a receive hides a message for), for the workers' heartbeat. */
async function queueVisibilityMs(queue: SqsWorkQueue): Promise<number | undefined> {
  const res = await sqsCall(queue.queueUrl, 'GetQueueAttributes', () =>
    queue.client.send(new GetQueueAttributesCommand({ QueueUrl: queue.queueUrl, AttributeNames: ['VisibilityTimeout'] })),
  );
  const s = Number(res.Attributes?.VisibilityTimeout);
  return Number.isFinite(s) && s > 0 ? s * 1000 : undefined;
}
