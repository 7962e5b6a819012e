// A run's summary for its notification (issue 16, item 5): counts by outcome, failures grouped by
// code with a few examples, bytes, duration and the run id, built either from the outcomes a `sync`
// (or `serve`'s scheduled run) collected in memory, or from a queue run's record in the state store
// (lib/state/runs.ts). Pure: no I/O. Outcomes are iterated from RUN_OUTCOMES, so an outcome added
// there shows in the counts and the title without an edit here.
import { formatBytes, formatDuration } from '../cli/format.js';
import type { NotifySettings } from '../config/service-settings.js';
import type { ImageOutcome } from '../pipeline/copier.js';
import { isRuleKind } from '../queue/messages.js';
import { maskSecretText } from '../secrets.js';
import { remoteText } from '../text.js';
import { FAILURE_EXAMPLES, RUN_OUTCOMES, type RunFailureGroup, type RunRecord, runTime } from '../state/runs.js';

export type RunStatus = 'ok' | 'failed';

export interface RunSummary {
  run: string;
  /** `failed`: an image or a rule failed (it is in the DLQ). Deferred images are not failures. */
  status: RunStatus;
  /** Settled messages by outcome, in RUN_OUTCOMES order (then any other outcome seen). */
  counts: Record<string, number>;
  /** Rules (repository or namespace listings) that failed; their images were never planned. */
  rulesFailed: number;
  failures: RunFailureGroup[];
  bytes: number;
  durationMs: number;
  /** Some work never finished (an interrupt, or a run record with unsettled messages). */
  unfinished?: number;
}

/** Longest example message in a summary; the DLQ (and --report) keep the whole reason. */
const MAX_MESSAGE = 240;

/** An example as the summary shows it: one line, masked again (defence in depth: secrets.ts), short. */
function example(source: string, destination: string, message: string): RunFailureGroup['examples'][number] {
  return { source: remoteText(source, 300), destination: remoteText(destination, 300), message: remoteText(maskSecretText(message), MAX_MESSAGE) };
}

function orderedCounts(counts: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of RUN_OUTCOMES) out[o] = counts[o] ?? 0;
  for (const [o, n] of Object.entries(counts)) if (!(o in out)) out[o] = n;
  return out;
}

function statusOf(counts: Record<string, number>, rulesFailed: number): RunStatus {
  return (counts.failed ?? 0) > 0 || rulesFailed > 0 ? 'failed' : 'ok';
}

/** From a `sync` run's final outcomes (images and rules alike; `retrying` ones are not final). */
export function summaryFromOutcomes(run: string, outcomes: readonly ImageOutcome[], info: { bytes: number; durationMs: number; unfinished?: number }): RunSummary {
  const counts: Record<string, number> = {};
  let rulesFailed = 0;
  const groups = new Map<string, RunFailureGroup>();
  for (const o of outcomes) {
    if (o.status === 'retrying') continue;
    if (o.status === 'failed' && isRuleKind(o.kind)) rulesFailed++;
    else counts[o.status] = (counts[o.status] ?? 0) + 1;
    if (o.status !== 'failed') continue;
    const code = o.error?.code ?? 'SWRM_INTERNAL';
    const g = groups.get(code) ?? { code, count: 0, examples: [] };
    g.count++;
    if (g.examples.length < FAILURE_EXAMPLES) g.examples.push(example(o.source, o.destination, o.error?.message ?? 'unknown error'));
    groups.set(code, g);
  }
  const ordered = orderedCounts(counts);
  return {
    run,
    status: statusOf(ordered, rulesFailed),
    counts: ordered,
    rulesFailed,
    failures: sortGroups([...groups.values()]),
    bytes: info.bytes,
    durationMs: info.durationMs,
    ...(info.unfinished ? { unfinished: info.unfinished } : {}),
  };
}

/** From a queue run's record and its failure groups (state/runs.ts), at `nowMs` (its end). */
export function summaryFromRecord(rec: RunRecord, failures: readonly RunFailureGroup[], nowMs = Date.now()): RunSummary {
  const started = (rec.started ? Date.parse(rec.started) : NaN) || runTime(rec.id) || nowMs;
  const counts = orderedCounts(rec.settled);
  const rulesFailed = rec.rulesFailed ?? 0;
  const left = rec.enqueued - Object.values(rec.settled).reduce((n, c) => n + c, 0);
  return {
    run: rec.id,
    status: statusOf(counts, rulesFailed),
    counts,
    rulesFailed,
    failures: sortGroups(failures.map((g) => ({ ...g, examples: g.examples.map((e) => example(e.source, e.destination, e.message)) }))),
    bytes: rec.bytes ?? 0,
    durationMs: Math.max(0, nowMs - started),
    ...(left > 0 ? { unfinished: left } : {}),
  };
}

function sortGroups(groups: RunFailureGroup[]): RunFailureGroup[] {
  return groups.sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
}

/** Whether the settings want this run announced: `always`, or `failure` and it failed. */
export function wantsNotice(settings: NotifySettings | undefined, s: RunSummary): boolean {
  return Boolean(settings && (settings.snsTopicArn || settings.webhookUrl) && (settings.on === 'always' || s.status === 'failed'));
}

/**
 * `swr-migrate run <id>: 40 copied, 2 failed, 1.2 GiB, 3m12s`. Copied and failed always; every
 * other outcome when it happened (`expanded` is bookkeeping: a rule fanned out into its images).
 */
export function summaryTitle(s: RunSummary): string {
  const parts = Object.entries(s.counts)
    .filter(([o, n]) => o === 'copied' || o === 'failed' || (n > 0 && o !== 'expanded'))
    .map(([o, n]) => `${n} ${o}`);
  if (s.rulesFailed) parts.push(`${s.rulesFailed} rule(s) failed`);
  if (s.unfinished) parts.push(`${s.unfinished} unfinished`);
  return `swr-migrate run ${s.run}: ${parts.join(', ')}, ${formatBytes(s.bytes)}, ${formatDuration(s.durationMs)}`;
}

/** The failure groups, then what deferred means: the lines under the title. */
export function summaryDetails(s: RunSummary): string[] {
  const lines: string[] = [];
  for (const g of s.failures) {
    lines.push(`${g.code} x ${g.count}`);
    for (const e of g.examples) lines.push(`  ${e.source} -> ${e.destination}: ${e.message}`);
    if (g.count > g.examples.length) lines.push(`  ... and ${g.count - g.examples.length} more`);
  }
  const deferred = s.counts.deferred ?? 0;
  if (deferred) lines.push(`${deferred} deferred: a source's pull budget was spent (not failures); replay them after its window`);
  if (s.status === 'failed') lines.push('failed images and rules are in the DLQ; fix the cause, then replay it');
  return lines;
}

/** The whole text: title, then details. */
export function summaryText(s: RunSummary): string {
  return [summaryTitle(s), ...summaryDetails(s)].join('\n');
}
