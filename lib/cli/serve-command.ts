// `serve`: one long-running process (docs/serve.md). The embedded queue and its copiers run until
// SIGTERM/SIGINT; scheduled runs (the config's `schedule`, or one run at start) and webhook
// re-checks feed it; /healthz, /metrics and /hooks/... answer on --listen. The queue is journalled
// in --state-dir, so a restart, even after SIGKILL, resumes what was not settled.
import type { Logger } from 'pino';
import { notifyPipelineRun } from '../notify/index.js';
import type { NotifySettings } from '../config/service-settings.js';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { DEFAULT_DLQ_PATH } from '../queue/dlq-path.js';
import { ServeMetrics } from '../serve/metrics.js';
import { JOURNAL_FILE } from '../serve/journal.js';
import { DLQ_FILE, ServeRuntime } from '../serve/runtime.js';
import { type RunSummary, RunScheduler } from '../serve/schedule.js';
import { createServeServer, listen, parseListen } from '../serve/server.js';
import { webhookReceiver } from '../serve/webhooks.js';
import { ExitCode } from './errors.js';
import { type CommandEnv, type PipelineFlags, checked, loadInputs, whyUnwritable } from './pipeline-commands.js';
import { userWarnings } from './warnings.js';

export interface ServeFlags extends PipelineFlags {
  listen?: string;
  'state-dir'?: string;
  'no-initial-sync'?: boolean;
  'drain-timeout'?: string;
}

export const DEFAULT_LISTEN = '127.0.0.1:8080';
/** Where serve keeps its state by default: the directory of sync's default DLQ (`.swr-migrate`). */
export const DEFAULT_STATE_DIR = dirname(DEFAULT_DLQ_PATH);
/** Seconds copies in flight get to finish after SIGTERM: below Kubernetes' default 30 s grace. */
const DEFAULT_DRAIN_S = 25;

export interface ServeHooks {
  /** Each finished run; the seam for a run summary (lib/notify). */
  onSummary?: (summary: RunSummary) => Promise<void> | void;
}

export async function serveCommand(flags: ServeFlags, env: CommandEnv, hooks: ServeHooks = {}): Promise<number> {
  const problems: string[] = [];
  const address = checked(problems, () => parseListen(flags.listen ?? DEFAULT_LISTEN));
  const drainS = checked(problems, () => drainFlag(flags['drain-timeout']));
  const stateDir = flags['state-dir'] ?? DEFAULT_STATE_DIR;
  const why = await whyUnwritable(join(stateDir, DLQ_FILE));
  if (why) problems.push(`cannot write in ${stateDir} (${why}); choose another directory with --state-dir`);
  const { config, proc, retries } = await loadInputs(flags, true, { command: 'serve', problems });
  const { logger } = env;
  const warn = userWarnings(env.stderr, { logger });

  let runtime: ServeRuntime | undefined;
  const metrics = new ServeMetrics({
    queue: async () => (runtime ? runtime.depth() : 0),
    dlq: async () => (runtime ? (await runtime.dlq.list()).length : 0),
  });
  runtime = new ServeRuntime({
    config,
    proc,
    retries,
    stateDir,
    logger,
    pace: flags.pace ?? false,
    onWarning: warn,
    onOutcome: (o) => {
      if (o.kind !== 'invalid' || o.status === 'failed') metrics.outcome(o.status);
      if (o.status === 'failed') logger.warn({ source: o.source, destination: o.destination, code: o.error?.code }, 'image failed');
    },
    onBytes: (n) => metrics.copiedBytes(n),
    onResponse: (registry, status) => metrics.response(registry, status),
  });
  const rt = runtime;
  let draining = false;
  const receiver = config.events ? webhookReceiver(config.events, config.rules, rt, metrics, logger) : undefined;
  const server = createServeServer({
    metrics,
    logger,
    healthy: () => rt.running,
    draining: () => draining,
    ...(receiver ? { hooks: receiver.hooks } : {}),
  });
  // Listen before anything runs: a port in use is a usage error (exit 2), not a half-started service.
  const bound = await listen(server, address!.host, address!.port);
  try {
    const resumed = await rt.start();
    const scheduler = new RunScheduler({
      runtime: rt,
      logger,
      overlap: config.defaults.overlap ?? false,
      signal: env.signal,
      onRun: (result) => metrics.scheduleRun(result),
      // Each finished run is announced as `sync` announces its one (notify: in the config).
      onSummary: hooks.onSummary ?? ((summary) => announce(config.notify, summary, logger, env)),
    });
    if (config.schedule) scheduler.schedule(config.schedule);
    env.stderr.write(
      `serve: listening on http://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}; state in ${stateDir}` +
        `${resumed ? `; ${resumed} unsettled message(s) resumed from ${join(stateDir, JOURNAL_FILE)}` : ''}` +
        `${config.schedule ? `; schedule "${config.schedule}" (UTC), next run ${scheduler.next()?.toISOString() ?? 'never'}` : ''}\n`,
    );
    // Without a schedule, one full sync at start; not when resuming (the journal is that work) or told not to.
    if (!config.schedule && !flags['no-initial-sync'] && resumed === 0) void scheduler.fire('start');
    await new Promise<void>((resolve) => (env.signal.aborted ? resolve() : env.signal.addEventListener('abort', () => resolve(), { once: true })));
  } finally {
    draining = true;
    // Re-checks still in their burst window go on the queue (and so into the journal) first.
    await receiver?.flush().catch((err: unknown) => logger.warn({ err: String(err) }, 'cannot flush the webhook window'));
    const left = await rt.stop((drainS ?? DEFAULT_DRAIN_S) * 1000);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    env.stderr.write(`serve: stopped; ${left} unsettled message(s) kept in ${join(stateDir, JOURNAL_FILE)} for the next start\n`);
  }
  return ExitCode.INTERRUPTED;
}

function drainFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 3600) throw new UsageError(`--drain-timeout must be a whole number of seconds from 0 to 3600, got "${value}"`);
  return n;
}

/** The run's summary to the config's SNS topic and/or webhook; a failed delivery is a warning only. */
async function announce(notify: NotifySettings | undefined, summary: RunSummary, logger: Logger, env: CommandEnv): Promise<void> {
  if (!notify || summary.interrupted) return;
  const bytes = summary.outcomes.reduce((n, o) => n + (o.bytes ?? 0), 0);
  const durationMs = Date.parse(summary.finished) - Date.parse(summary.started);
  await notifyPipelineRun(notify, { outcomes: summary.outcomes, bytes, durationMs, run: summary.id }, { logger, onWarning: (m) => env.stderr.write(`warning: ${m}\n`) });
}
