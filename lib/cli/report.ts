// The `--report FILE` JSON and the end-of-run summary. The report is written to a temporary file
// and renamed into place, so an interrupted run never leaves a half-written report.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ImageOutcome } from '../pipeline/copier.js';
import type { PipelineRun, Unfinished } from '../pipeline/sync.js';
import { decodeMessage, isRuleKind, ruleDestinationText, ruleSourceText } from '../queue/messages.js';
import { formatBytes, formatDuration } from './format.js';

export interface Summary {
  /** Images only: a rule (a repository to list) is counted under `rules`. */
  images: number;
  copied: number;
  skipped: number;
  /** Not copied because the platform filter wants none of the image: not failures. */
  filtered: number;
  /** Not copied: `overwrite: false` and the destination tag holds another image (the user's choice, not a failure). */
  kept: number;
  failed: number;
  /** A rule's prune (pipeline/prune.ts): tags deleted, tags it left (shared digest, DELETE refused), rules held above prune.max. */
  prune: { pruned: number; kept: number; held: number };
  /** Started but cut short by the interrupt. */
  unfinished: number;
  /** Never tried because of the interrupt: not a failure, and in the DLQ for replay. */
  notStarted: number;
  rules: { failed: number; notStarted: number };
  /** Left in the DLQ because a source's pull budget was spent (SWRM_RATE_BUDGET): not failures. */
  deferred: number;
  /** Failures by code, most frequent first: `MANIFEST_UNKNOWN x 12`. */
  failures: { code: string; count: number; example: string }[];
  bytes: number;
  durationMs: number;
  interrupted: boolean;
  leftOver: number;
  /** Messages whose DLQ write failed (printed on stderr). */
  lost: number;
}

const isRule = (body: string) => {
  try {
    return isRuleKind(decodeMessage(body).kind);
  } catch {
    return false;
  }
};

export function summarise(run: PipelineRun, durationMs: number): Summary {
  const images = run.outcomes.filter((o) => !isRuleKind(o.kind) && o.kind !== 'prune');
  const pruning = run.outcomes.filter((o) => o.kind === 'prune');
  const rules = run.outcomes.filter((o) => isRuleKind(o.kind));
  const stoppedImages = run.unfinished.filter((u) => !isRule(u.body));
  const byCode = new Map<string, { code: string; count: number; example: string }>();
  for (const o of run.outcomes) {
    if (o.status !== 'failed') continue;
    const code = o.error?.code ?? 'SWRM_INTERNAL';
    const g = byCode.get(code) ?? { code, count: 0, example: `${o.source} -> ${o.destination}: ${o.error?.message ?? 'unknown error'}` };
    g.count++;
    byCode.set(code, g);
  }
  return {
    images: images.length + stoppedImages.length,
    copied: images.filter((o) => o.status === 'copied').length,
    skipped: images.filter((o) => o.status === 'skipped').length,
    filtered: images.filter((o) => o.status === 'filtered').length,
    kept: images.filter((o) => o.status === 'kept').length,
    prune: {
      pruned: pruning.filter((o) => o.status === 'pruned').length,
      kept: pruning.filter((o) => o.status === 'kept').length,
      held: pruning.filter((o) => o.status === 'held').length,
    },
    failed: images.filter((o) => o.status === 'failed').length,
    deferred: images.filter((o) => o.status === 'deferred').length,
    unfinished: stoppedImages.filter((u) => u.started).length,
    notStarted: stoppedImages.filter((u) => !u.started).length,
    rules: {
      failed: rules.filter((o) => o.status === 'failed').length,
      notStarted: run.unfinished.filter((u) => !u.started && isRule(u.body)).length,
    },
    failures: [...byCode.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
    bytes: run.bytes,
    durationMs,
    interrupted: run.interrupted,
    leftOver: run.leftOver,
    lost: run.lost,
  };
}

/**
 * The end-of-run summary (stdout). Each failure is counted once, under its code. `replay` is the
 * command that runs the DLQ again, `pace` the one that waits out a pull budget instead (none with
 * --queue-url, whose copiers always leave the rest for later): hints name only what works.
 */
export function summaryLines(s: Summary, dlqPath: string, how: { replay: string; pace?: string } = { replay: "'swr-migrate replay'", pace: 'sync with --pace' }): string[] {
  const stopped = s.interrupted || s.unfinished || s.notStarted ? `, ${s.unfinished} unfinished, ${s.notStarted} not started` : '';
  const rules = s.rules.failed || s.rules.notStarted
    ? `; rules: ${s.rules.failed} could not be listed${s.rules.notStarted ? `, ${s.rules.notStarted} not started` : ''}`
    : '';
  const deferred = s.deferred ? `, ${s.deferred} left for later` : '';
  const filtered = s.filtered ? `, ${s.filtered} filtered` : '';
  const kept = s.kept ? `, ${s.kept} kept (overwrite: false)` : '';
  const p = s.prune;
  const pruned = p.pruned || p.kept || p.held
    ? `, ${p.pruned} pruned${p.kept ? ` (${p.kept} kept by prune)` : ''}${p.held ? `, ${p.held} rule(s) not pruned: above prune.max` : ''}`
    : '';
  const lines = [
    `${s.images} image(s): ${s.copied} copied, ${s.skipped} already present${filtered}${kept}, ${s.failed} failed${deferred}${stopped}${rules}${pruned}; ` +
      `${formatBytes(s.bytes)} moved in ${formatDuration(s.durationMs)}`,
  ];
  if (s.failures.length) {
    lines.push(`failures: ${s.failures.map((f) => `${f.code} x ${f.count}`).join(', ')}`);
    for (const f of s.failures) lines.push(`  ${f.code}: e.g. ${f.example}`);
  }
  if (s.interrupted) lines.push(`interrupted: ${s.unfinished + s.notStarted + s.rules.notStarted} unfinished or not started kept in ${dlqPath} for 'swr-migrate replay'`);
  if (s.deferred) {
    lines.push(`${s.deferred} left for later (pull budget spent, ${s.deferred} x SWRM_RATE_BUDGET in ${dlqPath}): run ${how.replay} once the window refills${how.pace ? `, or ${how.pace}` : ''}`);
  }
  if (s.failed + s.rules.failed > 0) lines.push(`failures are in ${dlqPath} (--report has every one); fix the cause, then run 'swr-migrate replay'`);
  if (s.lost) lines.push(`${s.lost} message(s) could not be written to ${dlqPath}; they are printed on stderr above`);
  return lines;
}

/**
 * One stderr line per image or tag the summary's counts do not explain: filtered, kept (overwrite:
 * false), converted, and each tag a rule's prune deleted or left (and a prune held above its max).
 */
export function outcomeNotes(outcomes: readonly ImageOutcome[], opts: { keptAndPrunedOnly?: boolean } = {}): string[] {
  const lines: string[] = [];
  for (const o of outcomes) {
    if (o.kind === 'prune') lines.push(`${o.status === 'held' ? 'prune held' : o.status}: ${o.destination}${o.conversion ? ` (${o.conversion})` : ' (gone at the source)'}`);
    else if (o.status === 'kept') lines.push(`kept: ${o.destination} not overwritten: ${o.conversion}`);
    else if (opts.keptAndPrunedOnly) continue;
    else if (o.status === 'filtered') lines.push(`filtered: ${o.source} -> ${o.destination} not copied: ${o.conversion}`);
    else if (o.conversion) lines.push(`converted: ${o.destination} (${o.conversion}; source ${o.sourceDigest} -> ${o.digest})`);
  }
  return lines;
}

export interface ReportEntry {
  source: string;
  destination: string;
  digest?: string;
  sourceDigest?: string;
  conversion?: string;
  /** Set for a rule (a repository whose tags are listed), or a destination tag a rule's prune dealt with; absent for an image. */
  kind?: 'rule' | 'prune';
  status: ImageOutcome['status'] | 'unfinished' | 'not-started';
  bytes: number;
  durationMs: number;
  attempts: number;
  error?: { code: string; message: string };
}

export async function writeReport(file: string, summary: Summary, outcomes: ImageOutcome[], unfinished: Unfinished[], startedAt: Date): Promise<void> {
  const images: ReportEntry[] = outcomes.map((o) => ({
    source: o.source,
    destination: o.destination,
    ...(isRuleKind(o.kind) ? { kind: 'rule' as const } : o.kind === 'prune' ? { kind: 'prune' as const } : {}),
    ...(o.digest ? { digest: o.digest } : {}),
    ...(o.conversion ? { sourceDigest: o.sourceDigest, conversion: o.conversion } : {}),
    status: o.status,
    bytes: o.bytes,
    durationMs: Math.round(o.durationMs),
    attempts: o.attempt,
    ...(o.error ? { error: o.error } : {}),
  }));
  for (const u of unfinished) images.push(unfinishedEntry(u));
  const body = JSON.stringify({ version: 1, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), summary, images }, null, 2);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${body}\n`);
  await rename(tmp, file);
}

function unfinishedEntry(u: Unfinished): ReportEntry {
  const status = u.started ? 'unfinished' : 'not-started';
  const base = { bytes: 0, durationMs: 0, attempts: 0, status } as const;
  try {
    const m = decodeMessage(u.body);
    if (m.kind === 'copy-image') return { source: m.source, destination: m.destination, ...base };
    return { source: ruleSourceText(m), destination: ruleDestinationText(m), kind: 'rule', ...base };
  } catch {
    return { source: '', destination: '', ...base };
  }
}
