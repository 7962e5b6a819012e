// pino JSON logs on stderr (stdout is for the human result). Credentials never reach a log line:
// pino's `redact.paths` are exact and case-sensitive, so every logged object, child binding and
// message string goes through secrets.ts instead (keys matched case-insensitively at any depth,
// plus URL userinfo, Bearer/Basic values and presigned query strings in strings). URLs are also
// logged without their query (registry/http/location.ts).
import { pino, type DestinationStream, type Logger, type LevelWithSilent, type LoggerOptions } from 'pino';
import { maskSecretText, maskSecrets } from './secrets.js';

function loggerOptions(level: LevelWithSilent): LoggerOptions {
  return {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    // formatters.log runs before pino's serializers, so an Error under `err` is masked too.
    formatters: {
      log: (obj) => maskSecrets(obj),
    },
    hooks: {
      // The message and printf-style arguments are not part of the object formatters.log sees.
      logMethod(args, method) {
        const masked: unknown[] = args.map((a: unknown) => (typeof a === 'string' ? maskSecretText(a) : a));
        // Without a message pino takes the error's own message (`log.error(err)`, `{ err }`) as is.
        const first = masked[0] as { err?: unknown } | undefined;
        const err = first instanceof Error ? first : first?.err instanceof Error ? first.err : undefined;
        if (err && typeof masked[1] !== 'string') masked.splice(1, 0, maskSecretText(err.message));
        return method.apply(this, masked as Parameters<typeof method>);
      },
    },
  };
}

/** `dest`: a file descriptor (2: stderr), or a stream (tests). */
export function createLogger(level: LevelWithSilent = 'info', dest: number | DestinationStream = 2): Logger {
  const logger = pino(loggerOptions(level), typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : dest);
  // pino applies no formatter to a child's bindings (it resets formatters.bindings for children),
  // so they are masked here; children inherit this `child` from the root through the prototype.
  const child = logger.child;
  logger.child = function maskedChild(this: Logger, bindings, options) {
    return child.call(this, maskSecrets(bindings), options);
  } as Logger['child'];
  return logger;
}
