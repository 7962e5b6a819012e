// The commands against a real SQS queue (issue 7 item 7): `sync --queue-url`, `plan --enqueue
// --queue-url`, `work --queue-url [--until-empty]`, `replay --queue-url` and `status --queue-url`.
// The queue's DLQ is its RedrivePolicy target, found before anything is sent.
import { randomUUID } from 'node:crypto';
import { UsageError, errorMessage, failureCode } from '../errors.js';
import { flagError } from '../config/load.js';
import { redriveAndWait } from '../pipeline/replay.js';
import { listerFor } from '../listing/index.js';
import { expandRules, poolTagLister, runPlanner } from '../plan/planner.js';
import { ruleDestinations, swrPreflight } from '../vendors/swr/preflight.js';
import { encodeMessage } from '../queue/messages.js';
import { SqsWorkQueue } from '../queue/sqs-queue.js';
import { ClientPool } from '../registry/pool.js';
import { ExitCode } from './errors.js';
import { checked, type CommandEnv, loadInputs, type PipelineFlags, unwritable } from './pipeline-commands.js';
import { Progress } from './progress.js';
import { openQueue, type QueueRun, queueUrlFlag, runOnQueue } from './queue-run.js';
import { outcomeNotes, summarise, summaryLines, writeReport } from './report.js';
import { userWarnings } from './warnings.js';
import { invalidTagsWarning } from '../plan/warnings.js';
import { notifyPipelineRun } from '../notify/index.js';
import { stateTableFrom } from '../lambda/env.js';
import { DynamoStateStore } from '../state/dynamo-store.js';
import { type RunRecord, RunTracker, runInProgress, runLine, settledTotal } from '../state/runs.js';

export interface QueueFlags extends PipelineFlags {
  'queue-url'?: string;
  'state-table'?: string;
  enqueue?: boolean;
  'until-empty'?: boolean;
  /** status: the stack's long-haul queue (issue 14, item 4). */
  'long-queue-url'?: string;
}

/** `sync --queue-url` (plan, enqueue, work until this run is settled) and `work --queue-url`. */
/**
 * Flags a command accepts that mean nothing with --queue-url: refused rather than silently ignored
 * (a user who gave --dlq expects it to act).
 */
function unusedWithQueue(flags: QueueFlags, command: string, unused: Partial<Record<keyof QueueFlags, string>>): string[] {
  return Object.entries(unused)
    .filter(([flag]) => flags[flag as keyof QueueFlags] !== undefined)
    .map(([flag, why]) => `${command} --queue-url: --${flag} is not used (${why})`);
}

export async function queueWorkCommand(flags: QueueFlags, env: CommandEnv, what: 'sync' | 'work'): Promise<number> {
  const problems = await unwritable(flags, ['report']);
  problems.push(
    ...unusedWithQueue(flags, what, {
      dlq: "failures go to the queue's own DLQ, named by its RedrivePolicy",
      'output-success-images': 'only the embedded sync writes it',
    }),
  );
  const queueUrl = checked(problems, () => queueUrlFlag(flags['queue-url'], what));
  const inputs = await loadInputs(flags, what === 'sync', { command: what, problems });
  const { queue, dlq } = await openQueue(queueUrl!);
  const startedAt = new Date();
  const started = performance.now();
  const progress = new Progress(env.stderr);
  const warn = userWarnings(env.stderr, { logger: env.logger, progress });
  let run: QueueRun;
  try {
    run = await runOnQueue({
      ...inputs,
      queue,
      dlq,
      plan: what === 'sync',
      untilEmpty: what === 'sync' || Boolean(flags['until-empty']),
      logger: env.logger,
      signal: env.signal,
      progress,
      pace: flags.pace ?? false,
      onWarning: warn,
      // The pull-budget notice is a warning like any other (lib/cli/warnings.ts).
      onNotice: warn,
    });
  } finally {
    progress.stop();
  }
  const ms = performance.now() - started;
  // `sync --queue-url` ends here, as `sync` does: its summary once (`work` has no end of its own;
  // a state table's runs are announced by the copier that settles their last message: notify/run-end.ts).
  if (what === 'sync') await notifyPipelineRun(inputs.config.notify, { outcomes: run.outcomes, bytes: run.bytes, durationMs: ms, unfinished: run.unfinished.length, startedAt }, { logger: env.logger, onWarning: warn });
  const summary = summarise(run, ms);
  const lines = summaryLines(summary, dlq.dlqUrl, { replay: `'swr-migrate replay --queue-url ${queueUrl}'` }).map((l) =>
    // The embedded wording names `replay` on a file; here the letters are on the DLQ queue.
    l.startsWith('failures are in ') ? `failures are in the DLQ ${dlq.dlqUrl}; fix the cause, then run 'swr-migrate replay --queue-url ${queueUrl}'` : l,
  );
  const kept = lines.filter((l) => !l.startsWith('interrupted: '));
  if (run.interrupted) kept.push(`interrupted: unfinished messages stay on ${queueUrl}; 'swr-migrate work --queue-url ${queueUrl} --until-empty' finishes them`);
  if (run.foreign) kept.push(`also settled ${run.foreign} message(s) of other runs found on the queue`);
  const [first, ...rest] = kept;
  env.stdout.write(`${what}: ${first}\n${rest.map((l) => `${l}\n`).join('')}`);
  for (const line of outcomeNotes(run.outcomes, { keptAndPrunedOnly: true })) env.stderr.write(`${line}\n`);
  if (flags.report) await writeReport(flags.report, summary, run.outcomes, run.unfinished, startedAt);
  if (run.interrupted) return ExitCode.INTERRUPTED;
  return summary.failed + summary.rules.failed > 0 ? ExitCode.FAILED : ExitCode.OK;
}

/** `plan --enqueue --queue-url`: plan as `sync` does and only enqueue; copiers (Lambda, `work`) do the rest. */
export async function planEnqueueCommand(flags: QueueFlags, env: CommandEnv): Promise<number> {
  const problems: string[] = [];
  if (!flags.enqueue) problems.push('plan takes --queue-url only with --enqueue (plan --enqueue --queue-url URL)');
  const queueUrl = checked(problems, () => queueUrlFlag(flags['queue-url'], 'plan --enqueue'));
  const { config } = await loadInputs(flags, true, { command: 'plan', problems });
  const { queue, dlq } = await openQueue(queueUrl!);
  // SWR names, quota and organizations before anything is sent, as `sync` does: the copiers this
  // feeds (Lambda, `work`) would otherwise fail every push into a fresh SWR account.
  await swrPreflight(ruleDestinations(config.rules), config.resolve, { logger: env.logger });
  const pool = new ClientPool({ resolve: config.resolve, logger: env.logger, timeout: config.defaults.timeout, connections: config.defaults.connections });
  let sent = 0;
  let failed = 0;
  const warn = userWarnings(env.stderr, { logger: env.logger });
  const letter = (body: string, code: string, message: string) =>
    dlq.add({ id: randomUUID(), body, receiveCount: 1, reason: { code, message }, at: new Date().toISOString() });
  const planOpts = { signal: env.signal, repositories: (registry: string) => listerFor(pool, registry), onWarning: warn };
  try {
    // Namespace rules listed first, so the pre-flight sees the organizations they map to.
    const expanded = await expandRules(config.rules, planOpts);
    const listed = expanded.rules.filter((r) => !config.rules.includes(r));
    if (listed.length) await swrPreflight(ruleDestinations(listed), config.resolve, { logger: env.logger });
    await runPlanner(
      config.rules,
      poolTagLister(pool),
      {
        tasks: async (ms) => {
          await queue.send(ms.map(encodeMessage));
          sent += ms.length;
          for (const m of ms) env.stdout.write(flags.json ? `${encodeMessage(m)}\n` : `${m.source} -> ${m.destination}\n`);
        },
        ruleFailed: async (m, err) => {
          failed++;
          env.stderr.write(`cannot list tags of ${m.source} (${m.origin ?? 'rule'}): ${errorMessage(err)}\n`);
          await letter(encodeMessage(m), failureCode(err), errorMessage(err));
        },
        conflict: async (m, err) => {
          failed++;
          env.stderr.write(`conflict: ${m.source} -> ${m.destination}: ${err.message}\n`);
          await letter(encodeMessage(m), err.code, err.message);
        },
      },
      {
        ...planOpts,
        expanded,
        platforms: config.defaults.platforms,
        onInvalidTags: (source, tags, origin) => warn(invalidTagsWarning(source, tags, origin)),
      },
    );
  } finally {
    await pool.close();
  }
  (flags.json ? env.stderr : env.stdout).write(`plan: ${sent} message(s) enqueued on ${queueUrl}${failed ? `, ${failed} sent to the DLQ ${dlq.dlqUrl}` : ''}\n`);
  if (env.signal.aborted) return ExitCode.INTERRUPTED;
  return failed ? ExitCode.FAILED : ExitCode.OK;
}

/** `replay --queue-url`: SQS's own redrive (StartMessageMoveTask) from the DLQ, waited for. */
export async function replayQueueCommand(flags: QueueFlags, env: CommandEnv): Promise<number> {
  const queueUrl = queueUrlFlag(flags['queue-url'], 'replay');
  const why = "SQS moves the DLQ's messages back onto the queue; 'swr-migrate work --queue-url' copies them";
  const unused = unusedWithQueue(flags, 'replay', { config: why, auth: why, images: why, proc: why, retries: why, report: why, dlq: why, timeout: why, pace: why });
  if (unused.length) throw flagError(unused);
  const { queue, dlq } = await openQueue(queueUrl);
  const waiting = await new SqsWorkQueue({ queueUrl: dlq.dlqUrl, client: queue.client }).counts();
  const running = (await dlq.redriveStatus())?.status === 'RUNNING';
  if (!running && waiting.visible + waiting.inFlight + waiting.delayed === 0) {
    env.stdout.write(`replay: the DLQ ${dlq.dlqUrl} has no messages; nothing to do\n`);
    return ExitCode.OK;
  }
  const status = await redriveAndWait(dlq, { signal: env.signal });
  if (env.signal.aborted) {
    env.stdout.write(`replay: stopped waiting; the move task goes on (${status.moved} moved so far)\n`);
    return ExitCode.INTERRUPTED;
  }
  const of = status.toMove !== undefined ? ` of ${status.toMove}` : '';
  const dups = status.duplicates ? `; ${status.duplicates} duplicate letter(s) of the same image deleted first, so each image moved once` : '';
  env.stdout.write(`replay: moved ${status.moved}${of} message(s) from ${dlq.dlqUrl} back to ${queueUrl} (${status.status})${dups}\n`);
  if (status.status !== 'COMPLETED') {
    env.stderr.write(`swr-migrate: the DLQ move task of ${dlq.dlqUrl} ended ${status.status}${status.failureReason ? `: ${status.failureReason}` : ''} [SWRM_QUEUE]\n`);
    return ExitCode.FAILED;
  }
  return ExitCode.OK;
}

/** Runs `status` shows from the state table. */
const STATUS_RUNS = 5;

/** The deployment's state table: --state-table, else SWRM_STATE_TABLE (as the handlers have it). */
function statusTable(flags: QueueFlags): string | undefined {
  const flag = flags['state-table'];
  return stateTableFrom({ SWRM_STATE_TABLE: flag ?? process.env.SWRM_STATE_TABLE }, flag !== undefined ? '--state-table' : 'SWRM_STATE_TABLE');
}

/** The last runs as JSON: the record, its settled total and whether it is still running. */
function runJson(r: RunRecord) {
  return { ...r, settledTotal: settledTotal(r), inProgress: runInProgress(r) };
}

/** `status --queue-url`: the queue's and the DLQ's counts, the DLQ's reasons by code (not consumed), the last runs. */
export async function statusCommand(flags: QueueFlags, env: CommandEnv): Promise<number> {
  const queueUrl = queueUrlFlag(flags['queue-url'], 'status');
  const longUrl = statusLongQueue(flags);
  const table = statusTable(flags);
  // First, so that a missing table or a refused Query is the one line it prints.
  const runs = table ? await new RunTracker(new DynamoStateStore({ table })).last(STATUS_RUNS) : undefined;
  const { queue, dlq } = await openQueue(queueUrl);
  const counts = await queue.counts();
  const longHaul = longUrl ? { url: longUrl, ...(await new SqsWorkQueue({ queueUrl: longUrl, client: queue.client }).counts()) } : undefined;
  const dlqCounts = await new SqsWorkQueue({ queueUrl: dlq.dlqUrl, client: queue.client }).counts();
  // Letters read (at most 1000), distinct images among them, and reasons counting each image once.
  const { reasons, letters, images, duplicates } = await dlq.census();
  const redrive = await dlq.redriveStatus();
  if (flags.json) {
    const state = runs ? { runs: { table, last: runs.map(runJson) } } : {};
    env.stdout.write(`${JSON.stringify({ queue: { url: queueUrl, ...counts }, dlq: { url: dlq.dlqUrl, ...dlqCounts, read: letters, images, duplicates, reasons }, ...(longHaul ? { longHaul } : {}), ...(redrive ? { redrive } : {}), ...state })}\n`);
    return ExitCode.OK;
  }
  const dups = duplicates ? `, ${duplicates} duplicate(s) of the same image` : '';
  const lines = [
    `queue ${queueUrl}: ${counts.visible} visible, ${counts.inFlight} in flight, ${counts.delayed} delayed`,
    `DLQ ${dlq.dlqUrl}: ${dlqCounts.visible + dlqCounts.inFlight + dlqCounts.delayed} message(s)${dlqCounts.inFlight ? ` (${dlqCounts.inFlight} in flight)` : ''}` +
      `${letters ? `; ${letters} read: ${images} image(s)${dups}` : ''}`,
    ...reasons.map((r) => `  ${r.code} x ${r.count}: e.g. ${r.example}`),
  ];
  if (redrive?.status === 'RUNNING') lines.push(`a DLQ move is running: ${redrive.moved} moved${redrive.toMove !== undefined ? ` of ${redrive.toMove}` : ''}`);
  if (longHaul) lines.push(longHaulLine(longHaul));
  if (runs) lines.push(runs.length ? `last runs in ${table}:` : `no runs recorded in ${table}`, ...runs.map((r) => `  ${runLine(r)}`));
  env.stdout.write(`${lines.join('\n')}\n`);
  return ExitCode.OK;
}

// The long-haul queue in `status` (issue 14, item 4): images the copier's deadline cut twice.

/**
 * `--long-queue-url`, else LONG_QUEUE_URL (the functions' variable, so a shell set up like them needs
 * no flag): a queue URL like --queue-url's, a bad one named by where it came from.
 */
function statusLongQueue(flags: QueueFlags): string | undefined {
  const flag = flags['long-queue-url'];
  const value = flag ?? (process.env.LONG_QUEUE_URL?.trim() || undefined);
  if (value === undefined) return undefined;
  try {
    return queueUrlFlag(value, 'status');
  } catch (err) {
    throw err instanceof UsageError ? new UsageError(err.message.replace('--queue-url', flag !== undefined ? '--long-queue-url' : 'LONG_QUEUE_URL')) : err;
  }
}

function longHaulLine(q: { url: string; visible: number; inFlight: number; delayed: number }): string {
  const held = q.visible + q.inFlight + q.delayed;
  const what = `long-haul queue ${q.url}: ${held} message(s)${q.inFlight ? ` (${q.inFlight} in flight)` : ''}`;
  return held ? `${what}: images too long for the Lambda copier; 'swr-migrate work --queue-url ${q.url}' copies them` : what;
}
