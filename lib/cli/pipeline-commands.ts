// `sync`, `plan`, `verify` and `replay`: the pipeline commands. Each takes the same inputs
// (--config FILE, or --images FILE [--auth FILE] as image-syncer does) and returns an exit code.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Format } from '../copy/transforms.js';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/types.js';
import { UsageError, errorMessage } from '../errors.js';
import { listerFor } from '../listing/index.js';
import { ExplainCollector } from '../plan/explain.js';
import { expandRules, poolTagLister, runPlanner } from '../plan/planner.js';
import { FileDeadLetterStore, DEFAULT_DLQ_PATH } from '../queue/dlq-file.js';
import { encodeMessage } from '../queue/messages.js';
import { ClientPool } from '../registry/pool.js';
import { runReplay } from '../pipeline/replay.js';
import { type PipelineOptions, type PipelineRun, runSync } from '../pipeline/sync.js';
import { ruleDestinations, swrPreflight } from '../vendors/swr/preflight.js';
import { runVerify } from '../pipeline/verify.js';
import { FileDigestMemo, memoPathFor } from '../state/digest-memo-file.js';
import { destinationStateFor } from '../copy/destination-state.js';
import { ExitCode } from './errors.js';
import { Progress } from './progress.js';
import { successImagesFormat, writeSuccessImages } from './success-images.js';
import { outcomeNotes, summarise, summaryLines, writeReport } from './report.js';
import { userWarnings } from './warnings.js';
import { invalidTagsWarning } from '../plan/warnings.js';
import { notifyPipelineRun } from '../notify/index.js';
import type { SyncRule } from '../config/types.js';
import { type SourceTags, prunePlan } from '../pipeline/prune.js';

export interface PipelineFlags {
  config?: string;
  auth?: string;
  images?: string;
  proc?: string;
  retries?: string;
  /** Repeatable; each value may be a comma list. */
  os?: string | string[];
  arch?: string | string[];
  report?: string;
  dlq?: string;
  json?: boolean;
  /** plan: per rule, what the listing gave and what each filter kept and dropped. */
  explain?: boolean;
  'dry-run'?: boolean;
  timeout?: string;
  format?: string;
  /** image-syncer compatibility (sync): see loadInputs and writeSuccessImages. */
  registry?: string;
  namespace?: string;
  force?: boolean;
  'output-success-images'?: string;
  'output-images-format'?: string;
  /** sync: wait for a source's pull budget (Docker Hub) instead of leaving the rest for later. */
  pace?: boolean;
  /** verify: HEAD every child manifest and blob too; sync: repair what of them is missing. */
  deep?: boolean;
  /** sync: HEAD every destination tag, trusting no record (copy/destination-state.ts). */
  'full-check'?: boolean;
}

export interface CommandEnv {
  logger: Logger;
  signal: AbortSignal;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

function intFlag(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

/** `--timeout SECONDS`: the same bounds as the config's defaults.timeout. */
/** `--format docker|keep`; undefined when not given. */
export function formatFlag(value: string | undefined): Format | undefined {
  if (value === undefined) return undefined;
  if (value !== 'docker' && value !== 'keep') throw new UsageError(`--format must be docker (convert OCI media types to Docker's) or keep (push as is), not "${value}"`);
  return value;
}

export function timeoutFlag(value: string | undefined): number | undefined {
  return intFlag(value, 'timeout', 1, 86_400);
}

/** A repeatable flag's values, each of which may be a comma list: `--arch amd64 --arch arm64,s390x`. */
function listFlag(value: string | string[] | undefined): string[] {
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/**
 * image-syncer's --os/--arch: repeatable and comma lists, every combination becomes a platform;
 * `arch:variant` (image-syncer's spelling, e.g. `arm64:v8`) becomes `os/arch/variant`. The result
 * is checked against PLATFORM by loadConfig.
 */
export function platformsFrom(flags: Pick<PipelineFlags, 'os' | 'arch'>): string[] | undefined {
  const oses = listFlag(flags.os);
  const arches = listFlag(flags.arch);
  if (!oses.length && !arches.length) return undefined;
  if (!arches.length) throw new UsageError('--os needs --arch too (e.g. --os linux --arch amd64,arm64)');
  // image-syncer also takes `os:osversion` (Windows builds); we cannot filter on it, and dropping it
  // silently would copy platforms the user excluded.
  const osVersion = oses.find((o) => o.includes(':'));
  if (osVersion) throw new UsageError(`--os "${osVersion}": os:osversion is not supported; give the os alone (e.g. --os windows)`);
  return [...new Set((oses.length ? oses : ['linux']).flatMap((o) => arches.map((a) => `${o}/${a.replace(':', '/')}`)))];
}

/** The value of a flag check, or undefined with its UsageError's message added to `problems`. */
export function checked<T>(problems: string[], check: () => T): T | undefined {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    problems.push(err.message);
    return undefined;
  }
}

/**
 * The config and the flags that go with it. Every problem of both comes in one error (issue 13): the
 * flags' own (and `more.problems`, the command's other flags) are handed to loadConfig, which lists
 * them with the files' problems, or alone as a usage error when the files are fine.
 */
export async function loadInputs(
  flags: PipelineFlags,
  requireRules = true,
  more: { command?: string; problems?: string[] } = {},
): Promise<{ config: LoadedConfig; proc: number; retries: number }> {
  const problems = [...(more.problems ?? [])];
  const proc = checked(problems, () => intFlag(flags.proc, 'proc', 1, 256));
  const retries = checked(problems, () => intFlag(flags.retries, 'retries', 0, 20));
  const timeout = checked(problems, () => timeoutFlag(flags.timeout));
  const platforms = checked(problems, () => platformsFrom(flags));
  const format = checked(problems, () => formatFlag(flags.format));
  const config = await loadConfig({
    config: flags.config,
    auth: flags.auth,
    images: flags.images,
    platforms,
    requireRules,
    problems,
    ...(more.command ? { command: more.command } : {}),
    ...(flags.registry ? { registry: flags.registry } : {}),
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
  });
  if (platforms) config.defaults.platforms = platforms;
  if (flags.force) {
    // In each rule, hence in every message it plans (expand messages included): a replayed dead
    // letter, or an image a copier plans from an expand message, is forced too.
    config.defaults.force = true;
    for (const r of config.rules) r.force = true;
  }
  // --deep (sync): likewise in every message, so a repair is carried by expand messages and replays.
  if (flags.deep) for (const r of config.rules) r.deep = true;
  if (flags['full-check']) for (const r of config.rules) r.fullCheck = true;
  if (timeout !== undefined) config.defaults.timeout = timeout;
  if (format) {
    // The flag is this run's decision: it wins over defaults.format and each rule's own format.
    config.defaults.format = format;
    for (const r of config.rules) r.format = format;
  }
  return { config, proc: proc ?? config.defaults.concurrency, retries: retries ?? config.defaults.retries };
}

/** Run the pipeline with a progress display, from the loaded inputs. */
async function withProgress<R extends PipelineRun>(
  flags: PipelineFlags,
  env: CommandEnv,
  inputs: { config: LoadedConfig; proc: number; retries: number },
  run: (opts: PipelineOptions) => Promise<R>,
): Promise<{ run: R; dlqPath: string; startedAt: Date; ms: number; corruptLines: number }> {
  const dlqPath = flags.dlq ?? DEFAULT_DLQ_PATH;
  const startedAt = new Date();
  const started = performance.now();
  const progress = new Progress(env.stderr);
  const warn = userWarnings(env.stderr, { logger: env.logger, progress });
  const dlq = new FileDeadLetterStore(dlqPath);
  const memo = new FileDigestMemo(memoPathFor(dlqPath), env.logger);
  try {
    const result = await run({
      ...inputs,
      dlq,
      memo,
      // Records of pushed tags and touched repositories, in the same state directory as the memo.
      destinations: destinationStateFor(memo.store, inputs.config.defaults, env.logger),
      logger: env.logger,
      signal: env.signal,
      onPlanned: (n) => progress.planned(n),
      onOutcome: (o) => progress.outcome(o),
      onBytes: (n) => progress.moved(n),
      pace: flags.pace ?? false,
      // The pull budget notice is a warning like any other: the same form in every command.
      onNotice: warn,
      onWarning: warn,
      onLost: (body, err) => {
        progress.clear();
        env.stderr.write(`swr-migrate: could not write to ${dlqPath} (${errorMessage(err)}); not saved: ${body}\n`);
      },
    });
    return { run: result, dlqPath, startedAt, ms: performance.now() - started, corruptLines: dlq.corruptLines };
  } finally {
    progress.stop();
  }
}

export async function syncCommand(flags: PipelineFlags, env: CommandEnv): Promise<number> {
  const problems: string[] = [];
  const successFormat = checked(problems, () => successImagesFormat(flags)) ?? 'yaml';
  // A dry run writes nothing; a sync needs somewhere for failures, the report and the success list.
  if (!flags['dry-run']) problems.push(...(await unwritable(flags, ['dlq', 'report', 'output-success-images'])));
  const inputs = await loadInputs(flags, true, { command: 'sync', problems });
  if (flags['dry-run']) return planCommand(flags, env, inputs.config);
  const { run, dlqPath, startedAt, ms } = await withProgress(flags, env, inputs, runSync);
  // The run's summary to the config's notify targets (lib/notify), once; a failed delivery is a warning.
  await notifyPipelineRun(inputs.config.notify, { outcomes: run.outcomes, bytes: run.bytes, durationMs: ms, unfinished: run.unfinished.length, startedAt }, { logger: env.logger, onWarning: userWarnings(env.stderr, { logger: env.logger }) });
  if (flags['output-success-images']) await writeSuccessImages(flags['output-success-images'], successFormat, run.outcomes);
  return finish(run, flags, env, dlqPath, startedAt, ms, 'sync');
}

export async function replayCommand(flags: PipelineFlags, env: CommandEnv): Promise<number> {
  const problems = await unwritable(flags, ['dlq', 'report']);
  const inputs = await loadInputs(flags, false, { command: 'replay', problems });
  const { run, dlqPath, startedAt, ms, corruptLines } = await withProgress(flags, env, inputs, runReplay);
  // Corrupt lines (a crash mid-write, a hand edit) stay in the file verbatim; say so every time.
  if (corruptLines) env.stderr.write(`replay: ${dlqPath}: ${corruptLines} corrupt line(s) skipped and kept in the file; fix or delete them by hand\n`);
  if (run.letters === 0) {
    env.stdout.write(`replay: ${dlqPath} has no messages; nothing to do${corruptLines ? ` (${corruptLines} corrupt line(s))` : ''}\n`);
    return corruptLines ? ExitCode.FAILED : ExitCode.OK;
  }
  // Each letter counted once: recovered + still in the DLQ + duplicates (of an image that ran once).
  env.stdout.write(
    `replay: ${run.letters} message(s) from ${dlqPath}: ${run.recovered} recovered, ${run.kept} still in the DLQ` +
      `${run.duplicates ? `, ${run.duplicates} duplicate(s) of the same image merged` : ''}` +
      `${corruptLines ? `, ${corruptLines} corrupt line(s) skipped` : ''}${run.added ? `; ${run.added} new letter(s) for images it planned` : ''}\n`,
  );
  return finish(run, flags, env, dlqPath, startedAt, ms, 'replay');
}

async function finish(run: PipelineRun, flags: PipelineFlags, env: CommandEnv, dlqPath: string, startedAt: Date, ms: number, what: string): Promise<number> {
  const summary = summarise(run, ms);
  const [first, ...rest] = summaryLines(summary, dlqPath);
  env.stdout.write(`${what}: ${first}\n${rest.map((l) => `${l}\n`).join('')}`);
  for (const line of outcomeNotes(run.outcomes)) env.stderr.write(`${line}\n`);
  if (flags.report) await writeReport(flags.report, summary, run.outcomes, run.unfinished, startedAt);
  if (run.interrupted) return ExitCode.INTERRUPTED;
  return summary.failed + summary.rules.failed + summary.lost > 0 ? ExitCode.FAILED : ExitCode.OK;
}

/**
 * The files a command will write, checked before anything is copied (failures and the report must
 * have somewhere to go): one problem line per flag whose file cannot be written.
 */
export async function unwritable(flags: PipelineFlags, which: ('dlq' | 'report' | 'output-success-images')[]): Promise<string[]> {
  const problems: string[] = [];
  for (const flag of which) {
    const file = flag === 'dlq' ? (flags.dlq ?? DEFAULT_DLQ_PATH) : flags[flag];
    if (file === undefined) continue;
    const why = await whyUnwritable(file);
    if (why) problems.push(`cannot write ${file} (${why}); choose another path with --${flag}`);
  }
  return problems;
}

/** Why a file cannot be written: it is a directory, or it (or the nearest existing parent) is not writable. */
export async function whyUnwritable(file: string): Promise<string | undefined> {
  const info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) return 'it is a directory';
  let target = info ? file : dirname(resolve(file));
  for (;;) {
    const st = await stat(target).catch(() => undefined);
    if (st) {
      if (!st.isDirectory() && target !== file) return `${target} is not a directory`;
      break;
    }
    const up = dirname(target);
    if (up === target) break;
    target = up;
  }
  return access(target, constants.W_OK).then(
    () => undefined,
    () => 'permission denied',
  );
}

export async function planCommand(flags: PipelineFlags, env: CommandEnv, loaded?: LoadedConfig): Promise<number> {
  const config = loaded ?? (await loadInputs(flags, true, { command: 'plan' })).config;
  // Names and quota only: a dry run creates no organization.
  await swrPreflight(ruleDestinations(config.rules), config.resolve, { logger: env.logger, mode: 'check' });
  const pool = new ClientPool({ resolve: config.resolve, logger: env.logger, timeout: config.defaults.timeout, connections: config.defaults.connections });
  let tasks = 0;
  let failures = 0;
  let conflicts = 0;
  const explain = flags.explain ? new ExplainCollector() : undefined;
  const warn = userWarnings(env.stderr, { logger: env.logger });
  let pruning = 0;
  // What each pruning rule would delete: the records of pushed tags are those sync keeps beside its DLQ.
  const records = destinationStateFor(new FileDigestMemo(memoPathFor(flags.dlq ?? DEFAULT_DLQ_PATH), env.logger).store, config.defaults, env.logger);
  const showPrune = async (rule: SyncRule, listed: SourceTags) => {
    const plan = await prunePlan(rule, listed, { pool, destinations: records, logger: env.logger, onWarning: warn, signal: env.signal });
    for (const d of plan?.destinations ?? []) {
      const at = `${d.registry}/${d.repository}`;
      const action = plan!.held ? 'held' : 'delete';
      for (const t of d.tags) {
        if (!plan!.held) pruning++;
        env.stdout.write(flags.json
          ? `${JSON.stringify({ kind: 'prune', origin: rule.origin, destination: `${at}:${t.tag}`, digest: t.record.digest, action })}\n`
          : `prune ${at}:${t.tag}  ${plan!.held ? `kept: above prune.max ${plan!.max}` : 'would be deleted: gone at the source'}\n`);
      }
      for (const tag of d.protected) {
        env.stdout.write(flags.json ? `${JSON.stringify({ kind: 'prune', origin: rule.origin, destination: `${at}:${tag}`, action: 'protect' })}\n` : `prune ${at}:${tag}  kept: prune.protect\n`);
      }
    }
  };
  const planOpts = {
    signal: env.signal,
    repositories: (registry: string) => listerFor(pool, registry),
    onWarning: warn,
    ...(explain ? { explain } : {}),
  };
  try {
    // Namespace rules listed first, as sync does, so the check sees the destinations they map to.
    const expanded = await expandRules(config.rules, planOpts);
    const listed = expanded.rules.filter((r) => !config.rules.includes(r));
    if (listed.length) await swrPreflight(ruleDestinations(listed), config.resolve, { logger: env.logger, mode: 'check' });
    await runPlanner(
      config.rules,
      poolTagLister(pool),
      {
        tasks: async (ms) => {
          tasks += ms.length;
          for (const m of ms) env.stdout.write(flags.json ? `${encodeMessage(m)}\n` : `${m.source} -> ${m.destination}\n`);
        },
        ruleFailed: async (m, err) => {
          failures++;
          env.stderr.write(`cannot list tags of ${m.source} (${m.origin ?? 'rule'}): ${(err as Error).message}\n`);
        },
        conflict: async (m, err) => {
          conflicts++;
          env.stderr.write(`conflict: ${m.source} -> ${m.destination}: ${err.message}\n`);
        },
      },
      {
        ...planOpts,
        expanded,
        platforms: config.defaults.platforms,
        onInvalidTags: (source, bad, origin) => warn(invalidTagsWarning(source, bad, origin)),
        onListed: showPrune,
      },
    );
  } finally {
    await pool.close();
  }
  // With --json stdout carries only JSON lines, so the explanation goes to stderr too.
  if (explain) for (const line of explain.lines()) (flags.json ? env.stderr : env.stdout).write(`${line}\n`);
  // With --json stdout carries only JSON lines, so the summary goes to stderr.
  (flags.json ? env.stderr : env.stdout).write(
    `plan: ${tasks} image(s)${failures ? `, ${failures} rule(s) could not be listed` : ''}` +
      `${conflicts ? `, ${conflicts} held back by destination conflicts` : ''}${pruning ? `, ${pruning} tag(s) to prune` : ''}\n`,
  );
  if (env.signal.aborted) return ExitCode.INTERRUPTED;
  return failures || conflicts ? ExitCode.FAILED : ExitCode.OK;
}

export async function verifyCommand(flags: PipelineFlags, env: CommandEnv): Promise<number> {
  const { config, proc } = await loadInputs(flags, true, { command: 'verify' });
  const memo = new FileDigestMemo(memoPathFor(flags.dlq ?? DEFAULT_DLQ_PATH), env.logger);
  const lines = await runVerify(config, proc, env.logger, env.signal, memo, userWarnings(env.stderr, { logger: env.logger }), { deep: flags.deep === true });
  const counts: Record<string, number> = {};
  for (const l of lines) {
    counts[l.status] = (counts[l.status] ?? 0) + 1;
    if (flags.json) env.stdout.write(`${JSON.stringify(l)}\n`);
    else if (l.status !== 'ok') {
      const detail =
        l.status === 'different'
          ? `has ${l.destinationDigest}, source has ${l.sourceDigest}`
          : l.status === 'missing'
            ? `source has ${l.sourceDigest}`
            : (l.message ?? '');
      env.stdout.write(`${l.status.padEnd(14)} ${l.destination}  ${detail}\n`);
    }
  }
  if (env.signal.aborted) return ExitCode.INTERRUPTED;
  // A filtered image (no wanted platform) is expected nowhere: neither a match nor a problem.
  const bad = lines.length - (counts.ok ?? 0) - (counts.filtered ?? 0);
  (flags.json ? env.stderr : env.stdout).write(
    `verify: ${lines.length} image(s): ${counts.ok ?? 0} match, ${counts.missing ?? 0} missing, ${counts.different ?? 0} different` +
      `${counts.filtered ? `, ${counts.filtered} filtered` : ''}` +
      `${counts.incomplete ? `, ${counts.incomplete} incomplete` : ''}` +
      `${counts['source-missing'] ? `, ${counts['source-missing']} missing at the source` : ''}${counts.error ? `, ${counts.error} errors` : ''}\n`,
  );
  return bad ? ExitCode.FAILED : ExitCode.OK;
}
