#!/usr/bin/env node
// The command-line program. Parses flags, runs one command, maps the outcome to an exit code.
import { setMaxListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import type { LevelWithSilent } from 'pino';
import { enableStreamGc } from '../copy/memory.js';
import { UsageError } from '../errors.js';
import type { createLogger } from '../log.js';
import type { QueueFlags } from './queue-commands.js';
import { COMMANDS, commandHelp, mainHelp, parseCommandLine } from './commands.js';
import { ExitCode, reportError } from './errors.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// undici parses HTTP with llhttp compiled to WebAssembly. V8 re-optimises that module in the
// background, and the process cannot exit until the job ends: 150-200 ms after the last request of
// every run (measured). The baseline compiler is fast enough for a parser that only frames bytes.
// Set before the first dynamic import below loads undici.
setFlagsFromString('--liftoff-only');
// AWS SDK releases after early January 2027 print a multi-line NodeVersionSupportWarning on Node 20
// when the first client is made; we pin the SDK that still supports it (issue 7), so say nothing.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Scavenges while streaming keep RSS flat (copy/memory.ts); a V8 flag, so the entry point sets it.
enableStreamGc();

// `swr-migrate plan | head`: the reader left. Like a Unix filter killed by SIGPIPE, stop quietly
// (Node ignores SIGPIPE, so without this the write error surfaces as an unhandled 'error' event and
// a stack trace). Exit 0: the reader chose to stop, and `set -o pipefail` scripts keep working.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    // Anything else (EIO: the terminal went away) leaves nowhere to report to: exit 1.
    process.exit(err.code === 'EPIPE' ? ExitCode.OK : ExitCode.FAILED);
  });
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    return reportError(err);
  }
  const { command, values, args } = parsed;
  if (command === undefined) {
    if (values.version) {
      process.stdout.write(`${await version()}\n`);
      return ExitCode.OK;
    }
    process.stdout.write(mainHelp());
    return values.help ? ExitCode.OK : ExitCode.USAGE;
  }
  if (!(command in COMMANDS)) return reportError(new UsageError(`unknown command "${command}"`));
  if (values.help) {
    process.stdout.write(commandHelp(command));
    return ExitCode.OK;
  }
  const logFile = values.log as string | undefined;
  // A log file is read afterwards, like image-syncer's --log: it gets the per-image info lines.
  // serve is a service: its one line per webhook and per run are info lines.
  const level = (values['log-level'] as string | undefined) ?? (logFile || command === 'serve' ? 'info' : 'warn');
  if (!LEVELS.includes(level)) return reportError(new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`));
  let logger: ReturnType<typeof createLogger>;
  // Loaded here, not at start-up: `--help`, `--version` and usage errors need no logger.
  const [{ pino }, log] = await Promise.all([import('pino'), import('../log.js')]);
  try {
    // --log FILE: the JSON lines go there (appended) instead of stderr; the summary stays on stdout
    // and errors still reach stderr. Opened now, so a bad path fails before any work.
    logger = log.createLogger(level as LevelWithSilent, logFile ? pino.destination({ dest: logFile, sync: true, append: true }) : 2);
  } catch (err) {
    return reportError(new UsageError(`cannot write the log file ${logFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); choose another path with --log`));
  }
  const abort = new AbortController();
  stopSignal = abort.signal;
  // One run-wide signal is shared by every request in flight (each adds a listener while it runs).
  setMaxListeners(0, abort.signal);
  // First signal: stop cleanly (unfinished images go to the DLQ). Second: leave at once.
  // 130 / 143 are the shell's 128 + SIGINT(2) / SIGTERM(15); SIGTERM comes from a supervisor
  // (systemd, Kubernetes, CI), not a keyboard, so its message does not talk about Ctrl-C.
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    const code = sig === 'SIGTERM' ? ExitCode.TERMINATED : ExitCode.INTERRUPTED;
    if (abort.signal.aborted) process.exit(code);
    stoppedBy = sig;
    process.stderr.write(
      sig === 'SIGINT'
        ? '\nswr-migrate: stopping; unfinished images stay replayable (Ctrl-C again to quit at once)\n'
        : `swr-migrate: ${sig} received, stopping; unfinished images stay replayable\n`,
    );
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const env = { logger, signal: abort.signal, stdout: process.stdout, stderr: process.stderr };
  const flags = values as QueueFlags;
  const signalled = (code: number) => (code === ExitCode.INTERRUPTED && stoppedBy === 'SIGTERM' ? ExitCode.TERMINATED : code);

  try {
    switch (command) {
      case 'copy': {
        const started = performance.now();
        // Commands load on demand: --help and usage errors answer without loading the engine.
        const { copyCommand, describeCopy } = await import('./copy-command.js');
        const { timeoutFlag } = await import('./pipeline-commands.js');
        const result = await copyCommand({
          source: args[0]!,
          destination: args[1]!,
          authFile: values.auth as string | undefined,
          timeout: timeoutFlag(values.timeout as string | undefined),
          format: values.format as string | undefined,
          logger,
          signal: abort.signal,
        });
        process.stdout.write(`${describeCopy(result, performance.now() - started)}\n`);
        return ExitCode.OK;
      }
      case 'sync':
        if (values['queue-url'] !== undefined && !values['dry-run']) return signalled(await (await import('./queue-commands.js')).queueWorkCommand(flags, env, 'sync'));
        return signalled(await (await import('./pipeline-commands.js')).syncCommand(flags, env));
      case 'plan':
        if (values['queue-url'] !== undefined || values.enqueue) return signalled(await (await import('./queue-commands.js')).planEnqueueCommand(flags, env));
        return signalled(await (await import('./pipeline-commands.js')).planCommand(flags, env));
      case 'work':
        return signalled(await (await import('./queue-commands.js')).queueWorkCommand(flags, env, 'work'));
      case 'status':
        return signalled(await (await import('./queue-commands.js')).statusCommand(flags, env));
      case 'verify':
        return signalled(await (await import('./pipeline-commands.js')).verifyCommand(flags, env));
      case 'replay':
        if (values['queue-url'] !== undefined) return signalled(await (await import('./queue-commands.js')).replayQueueCommand(flags, env));
        return signalled(await (await import('./pipeline-commands.js')).replayCommand(flags, env));
      case 'serve':
        return signalled(await (await import('./serve-command.js')).serveCommand(flags, env));
      case 'images-from-cluster': {
        const { imagesFromClusterCommand } = await import('./images-from-cluster-command.js');
        return signalled(await imagesFromClusterCommand(values as Record<string, string | boolean | undefined>, env));
      }
      case 'demo': {
        const { demoCommand } = await import('../demo/demo.js');
        return signalled(await demoCommand(env));
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (abort.signal.aborted && command === 'copy') {
      process.stderr.write('swr-migrate: interrupted\n');
      return signalled(ExitCode.INTERRUPTED);
    }
    return reportError(err, logger);
  }
}

/** The package's version, set by the bundle's build (scripts/build-cli.mjs); tsc's output reads package.json. */
declare const SWRM_BUILD_VERSION: string | undefined;

async function version(): Promise<string> {
  if (typeof SWRM_BUILD_VERSION === 'string') return SWRM_BUILD_VERSION;
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Set once main() made its run signal: an interrupted run leaves at once when its command returns. */
let stopSignal: AbortSignal | undefined;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // After Ctrl-C or SIGTERM the command has said and saved everything; a request it gave up on
    // (a TLS handshake that never completes: undici keeps it until its connect timeout) must not
    // hold the process for another 15 s. stdout and stderr are synchronous for files and pipes.
    if (stopSignal?.aborted) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`swr-migrate: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
