// The scheduled planner. It must fit Lambda's 15 minutes for any size of source, so it lists
// nothing: it fans out in two levels. Exact tags and digests become copy-image messages at once;
// each repository whose tags must be listed becomes one expand-repository message, which a copier
// lists and expands into its copy messages (pipeline/copier.ts). A run that finds the previous one
// still queued is skipped, unless the config says `defaults.overlap: true`. A namespace rule
// (`HOST/team/**`) costs the repository listing here, and nothing more: each listed repository
// becomes one expand-repository message, and copiers list the tags.
import type { Logger } from 'pino';
import type { LoadedConfig, SyncRule } from '../config/types.js';
import { randomUUID } from 'node:crypto';
import { ConfigError, errorMessage, failureCode } from '../errors.js';
import { listerFor } from '../listing/index.js';
import { type ExpandedRules, type ListerFor, expandNamespaceRules } from '../plan/namespaces.js';
import { ClientPool } from '../registry/pool.js';
import { findConflicts, overlapGroups } from '../plan/conflicts.js';
import { copyMessagesFor, expandMessageFor, namespaceMessageFor } from '../plan/planner.js';
import { type CopyImageMessage, type ExpandGroupMessage, type ExpandNamespaceMessage, type ExpandRepositoryMessage, encodeMessage, ruleDestinationText } from '../queue/messages.js';
import type { DeadLetterStore, QueueCounts, WorkQueue } from '../queue/types.js';
import { ruleFailure } from '../plan/rule-failure.js';
import { plannerEmfLine } from './metrics.js';
import { ruleDestinations, swrPreflight } from '../vendors/swr/preflight.js';
import type { RunTracker } from '../state/runs.js';
import { lastRunInProgress, sendForRun, startRun } from './planner-runs.js';

export interface PlanSummary {
  /** Why the run did nothing (the previous one is still in progress). */
  skipped?: string;
  /** Copy messages for exact tags and digests: images planned. */
  images: number;
  /** Expand messages: repositories a copier will list. */
  repositories: number;
  /** Expand-group messages: listed rules sharing destination repositories, listed together. */
  groups?: number;
  /** Namespace rules whose repositories could not be listed (listed again by a copier, or dead-lettered). */
  failedRules: number;
  sent: number;
  durationMs: number;
  /** The run id its messages carry (with a state table: lib/state/runs.ts). */
  run?: string;
}

/** Every message a scheduled run sends, without a single registry request. */
export function planTwoLevel(
  rules: readonly SyncRule[],
  platforms?: string[],
): { copies: CopyImageMessage[]; expands: ExpandRepositoryMessage[]; groups: ExpandGroupMessage[] } {
  const copies: CopyImageMessage[] = [];
  const expands: ExpandRepositoryMessage[] = [];
  const seen = new Set<string>();
  const exactCopies = (rule: SyncRule) =>
    copyMessagesFor(rule, rule.tags ?? [], platforms).filter((m) => {
      const key = `${m.source}\u0000${m.destination}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  // Rules sharing a destination repository with a listed rule are planned as one expand-group
  // message (pipeline/expand.ts): the copier lists them together and holds back two sources of one
  // tag, as `sync` does (plan/conflicts.ts). Independent expansions would race for it.
  const groupOf = overlapGroups(rules);
  const members = new Map<number, SyncRule[]>();
  rules.forEach((rule, i) => {
    const g = groupOf[i];
    if (g !== undefined) members.set(g, [...(members.get(g) ?? []), rule]);
  });
  const listed = (r: SyncRule) => !r.tags && !r.digest;
  const grouped = new Set([...members.values()].filter((group) => group.some(listed)).flat());
  const groups: ExpandGroupMessage[] = [];
  for (const group of members.values()) {
    if (!group.some(listed)) continue;
    const exact = group.filter((r) => !listed(r)).flatMap(exactCopies);
    groups.push({ v: 1, kind: 'expand-group', rules: group.filter(listed).map((r) => expandMessageFor(r, platforms)), ...(exact.length ? { copies: exact } : {}) });
  }
  for (const rule of rules) {
    if (grouped.has(rule)) continue;
    if (listed(rule)) expands.push(expandMessageFor(rule, platforms));
    else copies.push(...exactCopies(rule));
  }
  // As in `sync` (plan/planner.ts): two exact sources for one destination never race.
  const all = [...copies, ...groups.flatMap((g) => g.copies ?? [])];
  const conflicts = findConflicts(all);
  if (conflicts.length) throw new ConfigError(`${conflicts.length} destination(s) claimed by more than one source`, conflicts.map((e) => e.message));
  return { copies, expands, groups };
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
  /** Where a rule that cannot be listed for a permanent reason goes, with its reason. */
  dlq?: DeadLetterStore;
  logger?: Logger;
  /** One EMF line per run (images planned, rules that failed): the dashboard and the failed-rules alarm. */
  metrics?: { service: string; write(line: string): void };
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
      const summary: PlanSummary = { skipped: why, images: 0, repositories: 0, failedRules: 0, sent: 0, durationMs: Math.round(now() - started) };
      opts.logger?.warn(summary, `planner skipped: ${why}`);
      return summary;
    }
  }
  const { rules, failed } = await listNamespaces(opts);
  const platforms = opts.config.defaults.platforms;
  const { copies, expands, groups } = planTwoLevel(rules, platforms);
  // A namespace rule whose listing failed stops no other rule: for a passing reason a copier lists
  // it again (the message's backoff and attempts); for a permanent one its letter goes to the DLQ
  // with the reason, as `sync` does (pipeline/sync.ts ruleFailure).
  const relist: ExpandNamespaceMessage[] = [];
  // Rules sent to the DLQ: not among the run's messages, but said on its record (its summary: lib/notify).
  const lettered: { source: string; destination: string; error: { code: string; message: string } }[] = [];
  for (const f of failed) {
    const message = namespaceMessageFor(f.rule, platforms);
    const verdict = ruleFailure(f.error, undefined);
    opts.logger?.error({ source: message.source, origin: f.rule.origin, code: failureCode(f.error), err: errorMessage(f.error) }, verdict.action === 'retry' ? 'cannot list the rule; a copier lists it again' : 'cannot list the rule; sent to the DLQ');
    if (verdict.action === 'retry' || !opts.dlq) relist.push(message);
    else {
      await opts.dlq.add({ id: randomUUID(), body: encodeMessage(message), receiveCount: 1, reason: verdict.reason, at: new Date().toISOString() });
      lettered.push({ source: message.source, destination: ruleDestinationText(message), error: verdict.reason });
    }
  }
  // SWR names, organizations and quota before anything is enqueued: a copier would only fail later.
  await swrPreflight(ruleDestinations(rules), opts.config.resolve, { logger: opts.logger });
  // Copy messages first: copiers start on them while others expand the repositories.
  const planned = [...copies, ...expands, ...groups, ...relist].map(encodeMessage);
  const { bodies, run } = await startRun(opts, planned, { images: copies.length, repositories: expands.length + groups.length });
  if (run) await opts.runs?.rulesFailed(run, lettered).catch((err: unknown) => opts.logger?.warn({ run, code: failureCode(err) }, `cannot record the failed rules on the run: ${errorMessage(err)}`));
  await sendForRun(opts, bodies, run);
  const summary: PlanSummary = {
    ...(run ? { run } : {}),
    images: copies.length,
    repositories: expands.length + groups.reduce((n, g) => n + g.rules.length, 0),
    ...(groups.length ? { groups: groups.length } : {}),
    failedRules: failed.length,
    sent: bodies.length,
    durationMs: Math.round(now() - started),
  };
  opts.logger?.info(summary, `planned ${summary.images} image(s) and ${summary.repositories} repository listing(s); ${summary.sent} message(s) sent`);
  opts.metrics?.write(`${plannerEmfLine(summary, { service: opts.metrics.service })}\n`);
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
