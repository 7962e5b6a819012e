#!/usr/bin/env node
// The command-line program. Parses flags, runs one command, maps the outcome to an exit code.
import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { copyCommand, describeCopy } from './copy-command.js';
import { ExitCode, reportError } from './errors.js';

const HELP = `swr-migrate: copy container images between Docker Registry V2 / OCI registries (and into Huawei Cloud SWR)

Usage:
  swr-migrate copy SRC DST [--auth FILE]   copy one image with all its platforms

  SRC  an image reference: alpine, docker.io/library/alpine:3.20, host:5000/a/b@sha256:...
  DST  a reference with or without a tag: host/ns/alpine (keeps the source tag) or host/ns/alpine:v1

Options:
  --auth FILE        image-syncer auth file (JSON or YAML): "host" or "host/namespace" ->
                     {username, password, insecure}; $VAR and \${VAR} are expanded; insecure: true = plain HTTP
  --log-level LEVEL  fatal|error|warn|info|debug|trace|silent (default: warn); JSON logs go to stderr
  -h, --help         this help
  -v, --version      the version

Exit codes: 0 success, 1 failure (one-line reason on stderr), 2 usage or config error.
`;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        auth: { type: 'string' },
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
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const [command, ...args] = positionals;
  try {
    switch (command) {
      case 'copy': {
        if (args.length !== 2) throw new UsageError('copy takes exactly two arguments: SRC DST');
        const started = performance.now();
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
      case undefined:
        process.stdout.write(HELP);
        return ExitCode.USAGE;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (abort.signal.aborted) {
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
