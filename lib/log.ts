// pino JSON logs on stderr (stdout is for the human result). Credentials, tokens and Authorization
// headers are redacted by path, and URLs are logged without their query (see registry/location.ts).
import { pino, type Logger, type LevelWithSilent } from 'pino';

export const REDACT_PATHS = [
  'password',
  'credentials',
  'authorization',
  'token',
  '*.password',
  '*.credentials',
  '*.authorization',
  '*.token',
  'headers.authorization',
  'req.headers.authorization',
];

export function createLogger(level: LevelWithSilent = 'info', fd = 2): Logger {
  return pino(
    { level, base: undefined, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd, sync: true }),
  );
}
