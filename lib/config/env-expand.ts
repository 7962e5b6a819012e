// Environment expansion for credentials, so secrets need not sit in config files.
// - image-syncer auth files: `$VAR` and `${VAR}`, as image-syncer does it (os.ExpandEnv);
// - the native config: only `${env:VAR}`, so a password that happens to contain `$` stays literal;
//   it is parsed with the secret references in secret-refs.ts.
// Unlike os.ExpandEnv, a variable that is not set is an error naming it and where it was used,
// instead of silently becoming an empty password.
import { ConfigError } from '../errors.js';

const DOLLAR = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** image-syncer style. `where` is `FILE: path`; the error reads `FILE: path: environment variable X is not set`. */
export function expandEnv(value: string, where: string, env: NodeJS.ProcessEnv = process.env): string {
  return expand(value, DOLLAR, where, env);
}

function expand(value: string, pattern: RegExp, where: string, env: NodeJS.ProcessEnv): string {
  // Collect every missing variable so one run names them all.
  const missing: string[] = [];
  const out = value.replace(pattern, (_m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    const v = env[name];
    if (v === undefined) missing.push(name);
    return v ?? '';
  });
  if (missing.length) {
    const names = missing.join(', ');
    throw new ConfigError(`${where}: environment variable${missing.length > 1 ? 's' : ''} ${names} ${missing.length > 1 ? 'are' : 'is'} not set`);
  }
  return out;
}
