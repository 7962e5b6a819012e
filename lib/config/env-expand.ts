// `$VAR` and `${VAR}` expansion as image-syncer does it for auth files (os.ExpandEnv), except that a
// variable that is not set is an error naming it, instead of silently becoming an empty password.
import { ConfigError } from '../errors.js';

const PATTERN = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

export function expandEnv(value: string, where: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(PATTERN, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const v = env[name];
    if (v === undefined) throw new ConfigError(`environment variable ${name} is not set (used at ${where})`);
    return v;
  });
}
