// The scheduled planner. It must fit Lambda's 15 minutes for any size of source, so it lists
// nothing: it fans out in two levels. Exact tags and digests become copy-image messages at once;
// each repository whose tags must be listed becomes one expand-repository message, which a copier
// lists and expands into its copy messages (pipeline/copier.ts). A run that finds the previous one
// still queued is skipped, unless the config says `defaults.overlap: true`. A namespace rule
// (`HOST/team/**`) costs the repository listing here, and nothing more: each listed repository
// becomes one expand-repository message, and copiers list the tags.
import type { Logger } from 'pino';
import type { LoadedConfig, SyncRule } from '../config/types.js';
import { ConfigError, errorMessage } from '../errors.js';
import { listerFor } from '../listing/index.js';
import { type ExpandedRules, type ListerFor, expandNamespaceRules } from '../plan/namespaces.js';
import { ClientPool } from '../registry/pool.js';
import { findConflicts } from '../plan/conflicts.js';
import { copyMessagesFor, expandMessageFor, namespaceMessageFor } from '../plan/planner.js';
import { type CopyImageMessage, type ExpandRepositoryMessage, encodeMessage } from '../queue/messages.js';
import type { QueueCounts, WorkQueue } from '../queue/types.js';
import { ruleDestinations, swrPreflight } from '../swr/preflight.js';
import type { RunTracker } from '../state/runs.js';
import { lastRunInProgress, sendForRun, startRun } from './planner-runs.js';

export interface PlanSummary {
  /** Why the run did nothing (the previous one is still in progress). */
  skipped?: string;
  /** Copy messages for exact tags and digests: images planned. */
  images: number;
  /** Expand messages: repositories a copier will list. */
  repositories: number;
  /** Namespace rules whose repositories could not be listed: sent for a copier to list again. */
  failedRules?: number;
  sent: number;
  durationMs: number;
  /** The run id its messages carry (with a state table: lib/state/runs.ts). */
  run?: string;
}

/** Every message a scheduled run sends, without a single registry request. */
export function planTwoLevel(rules: readonly SyncRule[], platforms?: string[]): { copies: CopyImageMessage[]; expands: ExpandRepositoryMessage[] } {
  const copies: CopyImageMessage[] = [];
  const expands: ExpandRepositoryMessage[] = [];
  const seen = new Set<string>();
  for (const rule of rules) {
    if (!rule.tags && !rule.digest) {
      expands.push(expandMessageFor(rule, platforms));
      continue;
    }
    for (const m of copyMessagesFor(rule, rule.tags ?? [], platforms)) {
      const key = `${m.source}\u0000${m.destination}`;
      if (!seen.has(key)) copies.push(m);
      seen.add(key);
    }
  }
  // As in `sync` (plan/planner.ts): two exact sources for one destination never race.
  const conflicts = findConflicts(copies);
  if (conflicts.length) throw new ConfigError(`${conflicts.length} destination(s) claimed by more than one source`, conflicts.map((e) => e.message));
  return { copies, expands };
}

/** Still in progress: anything visible, in flight (being copied, or held back for a retry) or delayed. */
export function inProgress(c: QueueCounts): string | undefined {
  const total = c.visible + c.inFlight + c.delayed;
  if (total === 0) return undefined;
  return `the previous run is still in progress (${c.visible} visible, ${c.inFlight} in flight, ${c.delayed} delayed); set defaults.overlap: true to plan anyway`;
}

export interface ScheduledPlanOptions {
  config: LoadedConfig;
  /** Repository listers for namespace rules; default: listerFor over a pool built from the config. */
  repositories?: ListerFor;
  queue: WorkQueue;
  logger?: Logger;
  now?: () => number;
  /** Runs in the state table: a record per run, and the overlap check reads the last one (planner-runs.ts). */
  runs?: RunTracker;
}

export async function runScheduledPlan(opts: ScheduledPlanOptions): Promise<PlanSummary> {
  const now = opts.now ?? (() => performance.now());
  const started = now();
  if (!opts.config.defaults.overlap) {
    const why = opts.runs ? await lastRunInProgress(opts.runs, opts.queue, opts.logger) : inProgress(await opts.queue.counts());
    if (why) {
      const summary: PlanSummary = { skipped: why, images: 0, repositories: 0, sent: 0, durationMs: Math.round(now() - started) };
      opts.logger?.warn(summary, `planner skipped: ${why}`);
      return summary;
    }
  }
  const { rules, failed } = await listNamespaces(opts);
  const { copies, expands } = planTwoLevel(rules, opts.config.defaults.platforms);
  // A namespace rule whose listing failed stops no other rule: a copier lists it again, with the
  // message's backoff and attempts, and dead-letters it with its reason if it keeps failing.
  const relist = failed.map((f) => {
    opts.logger?.error({ source: `${f.rule.source.registry}/${f.rule.source.repository}`, origin: f.rule.origin, err: errorMessage(f.error) }, 'cannot list the rule; a copier lists it again');
    return namespaceMessageFor(f.rule, opts.config.defaults.platforms);
  });
  // SWR names, organizations and quota before anything is enqueued: a copier would only fail later.
  await swrPreflight(ruleDestinations(rules), opts.config.resolve, { logger: opts.logger });
  // Copy messages first: copiers start on them while others expand the repositories.
  const planned = [...copies.map(encodeMessage), ...expands.map(encodeMessage), ...relist.map(encodeMessage)];
  const { bodies, run } = await startRun(opts, planned, { images: copies.length, repositories: expands.length });
  await sendForRun(opts, bodies, run);
  const summary: PlanSummary = {
    ...(run ? { run } : {}),
    images: copies.length,
    repositories: expands.length,
    ...(relist.length ? { failedRules: relist.length } : {}),
    sent: bodies.length,
    durationMs: Math.round(now() - started),
  };
  opts.logger?.info(summary, `planned ${summary.images} image(s) and ${summary.repositories} repository listing(s); ${summary.sent} message(s) sent`);
  return summary;
}

/** The config's rules with namespace rules replaced by one rule per listed repository, and those that failed. */
async function listNamespaces(opts: ScheduledPlanOptions): Promise<Pick<ExpandedRules, 'rules' | 'failed'>> {
  const { config, logger } = opts;
  if (!config.rules.some((r) => r.namespace)) return { rules: config.rules, failed: [] };
  const pool = opts.repositories ? undefined : new ClientPool({ resolve: config.resolve, logger, timeout: config.defaults.timeout, connections: config.defaults.connections });
  try {
    const repositories = opts.repositories ?? ((registry: string) => listerFor(pool!, registry));
    return await expandNamespaceRules(config.rules, repositories, { onWarning: (m) => logger?.warn(m) });
  } finally {
    await pool?.close();
  }
}
