#!/usr/bin/env node
// The command-line program. Parses flags, runs one command, maps the outcome to an exit code.
import { setMaxListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import type { PipelineFlags } from './pipeline-commands.js';
import { DEFAULT_DLQ_PATH } from '../queue/dlq-file.js';
import { ExitCode, reportError } from './errors.js';

const HELP = `swr-migrate: migrate container images between Docker Registry V2 / OCI registries (and into Huawei Cloud SWR)

Usage:
  swr-migrate copy SRC DST [--auth FILE]       copy one image with all its platforms
  swr-migrate sync   INPUTS [options]           plan, then copy every image with N copiers until done
  swr-migrate plan   INPUTS [--json]            print the images a sync would copy
  swr-migrate verify INPUTS [--json]            compare source and destination digests of every planned image
  swr-migrate replay INPUTS [--dlq FILE]        run the dead-letter queue again; remove what now succeeds
  swr-migrate demo                              start two local registries, seed them, sync, show the summary

INPUTS: --config FILE (native YAML/JSON config), or --images FILE [--auth FILE] (image-syncer / image-migrator files)

Options:
  --proc N           copiers at once (default: the config's defaults.concurrency, 16)
  --retries N        extra attempts per failing image before the DLQ (default: defaults.retries, 2)
  --os OS --arch A   keep only these platforms of multi-platform images (comma lists; image-syncer flags)
  --dry-run          sync: only print the plan
  --report FILE      sync/replay: write a JSON report (per image: source, destination, digest, status, bytes, duration, error)
  --dlq FILE         the dead-letter file (default: ${DEFAULT_DLQ_PATH})
  --auth FILE        image-syncer auth file: "host" or "host/namespace" -> {username, password, insecure}
  --log-level LEVEL  fatal|error|warn|info|debug|trace|silent (default: warn); JSON logs go to stderr
  -h, --help, -v, --version

Exit codes: 0 success, 1 failure (for sync: an image failed and is in the DLQ), 2 usage or config error, 130 interrupted.
`;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

// undici parses HTTP with llhttp compiled to WebAssembly. V8 re-optimises that module in the
// background, and the process cannot exit until the job ends: 150-200 ms after the last request of
// every run (measured). The baseline compiler is fast enough for a parser that only frames bytes.
// Set before the first dynamic import below loads undici.
setFlagsFromString('--liftoff-only');

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        auth: { type: 'string' },
        config: { type: 'string', short: 'c' },
        images: { type: 'string' },
        proc: { type: 'string', short: 'p' },
        retries: { type: 'string', short: 'r' },
        os: { type: 'string' },
        arch: { type: 'string' },
        report: { type: 'string' },
        dlq: { type: 'string' },
        json: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }));
  } catch (err) {
    return reportError(new UsageError((err as Error).message));
  }
  if (values.help) {
    process.stdout.write(HELP);
    return ExitCode.OK;
  }
  if (values.version) {
    process.stdout.write(`${await version()}\n`);
    return ExitCode.OK;
  }
  const level = (values['log-level'] as string | undefined) ?? 'warn';
  if (!LEVELS.includes(level)) return reportError(new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`));
  const logger = createLogger(level as LevelWithSilent);
  const abort = new AbortController();
  // One run-wide signal is shared by every request in flight (each adds a listener while it runs).
  setMaxListeners(0, abort.signal);
  // First Ctrl-C: stop cleanly (in-flight images stay replayable). Second: leave at once.
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(ExitCode.INTERRUPTED);
    process.stderr.write('\nswr-migrate: stopping; unfinished images stay replayable (Ctrl-C again to quit at once)\n');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const env = { logger, signal: abort.signal, stdout: process.stdout, stderr: process.stderr };
  const flags = values as PipelineFlags;

  const [command, ...args] = positionals;
  try {
    if (command !== 'copy' && args.length) throw new UsageError(`unexpected argument "${args[0]}" for ${command}`);
    switch (command) {
      case 'copy': {
        if (args.length !== 2) throw new UsageError('copy takes exactly two arguments: SRC DST');
        const started = performance.now();
        // Commands load on demand: --help and usage errors answer without loading the engine.
        const { copyCommand, describeCopy } = await import('./copy-command.js');
        const result = await copyCommand({
          source: args[0]!,
          destination: args[1]!,
          authFile: values.auth as string | undefined,
          logger,
          signal: abort.signal,
        });
        process.stdout.write(`${describeCopy(result, performance.now() - started)}\n`);
        return ExitCode.OK;
      }
      case 'sync':
        return await (await import('./pipeline-commands.js')).syncCommand(flags, env);
      case 'plan':
        return await (await import('./pipeline-commands.js')).planCommand(flags, env);
      case 'verify':
        return await (await import('./pipeline-commands.js')).verifyCommand(flags, env);
      case 'replay':
        return await (await import('./pipeline-commands.js')).replayCommand(flags, env);
      case 'demo': {
        const { demoCommand } = await import('../demo/demo.js');
        return await demoCommand(env);
      }
      case undefined:
        process.stdout.write(HELP);
        return ExitCode.USAGE;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (abort.signal.aborted && command === 'copy') {
      process.stderr.write('swr-migrate: interrupted\n');
      return ExitCode.INTERRUPTED;
    }
    return reportError(err, logger);
  }
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`swr-migrate: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
