// How a failure reaches the user: one line on stderr and an exit code. 2 for what the user typed
// (usage, references, config), 1 for everything else. Never a stack trace: an unexpected error is
// logged with its stack at debug level only.
import type { Logger } from 'pino';
import { ConfigError, InvalidReferenceError, MigrateError, UsageError, errorMessage, failureCode } from '../errors.js';

export const ExitCode = { OK: 0, FAILED: 1, USAGE: 2, INTERRUPTED: 130, TERMINATED: 143 } as const;

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof InvalidReferenceError || err instanceof ConfigError) return ExitCode.USAGE;
  return ExitCode.FAILED;
}

export function reportError(err: unknown, logger?: Logger): number {
  const code = exitCodeFor(err);
  if (!(err instanceof MigrateError)) {
    logger?.debug({ err }, 'unexpected error');
    process.stderr.write(`swr-migrate: ${errorMessage(err)} (unexpected; rerun with --log-level debug for details)\n`);
  } else if (code === ExitCode.USAGE) {
    process.stderr.write(`swr-migrate: ${err.message}\n`);
  } else {
    // The stable code (SWRM_*, or the registry's own) ends the line, for scripts and for searching docs.
    process.stderr.write(`swr-migrate: ${err.message} [${failureCode(err)}]\n`);
  }
  if (code === ExitCode.USAGE && !(err instanceof ConfigError) && !/--help'/.test(err instanceof Error ? err.message : '')) {
    process.stderr.write(`Run 'swr-migrate --help' for usage.\n`);
  }
  return code;
}
