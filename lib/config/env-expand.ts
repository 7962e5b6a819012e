// Environment expansion for credentials, so secrets need not sit in config files.
// - image-syncer auth files: `$VAR` and `${VAR}`, as image-syncer does it (os.ExpandEnv);
// - the native config: only `${env:VAR}`, so a password that happens to contain `$` stays literal;
//   it is parsed with the secret references in secret-refs.ts.
// Unlike os.ExpandEnv, a variable that is not set is an error naming it and where it was used,
// instead of silently becoming an empty password.
const DOLLAR = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** image-syncer style, without throwing: the text, and what is wrong with it (every missing variable). */
export function expandEnvText(value: string, env: NodeJS.ProcessEnv = process.env): { text: string; problem?: string } {
  const missing: string[] = [];
  const text = value.replace(DOLLAR, (_m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    const v = env[name];
    if (v === undefined) missing.push(name);
    return v ?? '';
  });
  if (!missing.length) return { text };
  const many = missing.length > 1;
  return { text, problem: `environment variable${many ? 's' : ''} ${missing.join(', ')} ${many ? 'are' : 'is'} not set` };
}
