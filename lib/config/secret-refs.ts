// References in the native config's credential fields (issue 7 item 4), so a secret lives in AWS and
// never in the file, an environment variable, the deploy template or a queue message:
//   ${env:VAR}                          an environment variable (as before)
//   ${secretsmanager:NAME_OR_ARN}       a Secrets Manager secret's SecretString
//   ${secretsmanager:NAME_OR_ARN#key}   one field of a JSON SecretString, e.g. {"username","password"}
//   ${ssm:/path/to/param}               an SSM parameter (SecureString, read WithDecryption)
// The grammar is strict: `${` followed by a word and `:` is always a reference, so a typo
// (`${secretmanager:x}`, `${env:}`) is an error naming the field and the fix instead of a literal
// password that fails much later as a 401. Any other `$` stays literal.
// Parsing is pure and sync (env expanded at once); the AWS look-ups are resolved later, once per
// process, by secret-resolve.ts.

/** A value to fetch from AWS; `key` picks a field of a JSON secret. */
export type SecretRef = { kind: 'secretsmanager'; id: string; key?: string } | { kind: 'ssm'; name: string };

/** A credential after env expansion: literal text and references still to fetch, in order. */
export type CredentialTemplate = (string | SecretRef)[];

/** Every `${...}`; what is inside is checked below, so a malformed reference is reported, not kept. */
const REFERENCE = /\$\{([^{}]*)\}/g;
const SCHEME = /^([A-Za-z][A-Za-z0-9_-]*):(.*)$/s;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Secrets Manager names: letters, digits and /_+=.@- up to 512 (CreateSecret's Name constraint); an
// ARN is arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX.
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
const JSON_KEY = /^[A-Za-z0-9_.@/+=-]{1,256}$/;
// SSM parameter names: letters, digits and ._-/ (PutParameter), or the parameter's ARN.
const SSM_NAME = /^[A-Za-z0-9_.\-/]{1,2048}$/;
const SSM_ARN = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/[A-Za-z0-9_.\-/]+$/;

const SYNTAX = '${env:VAR}, ${secretsmanager:NAME_OR_ARN}, ${secretsmanager:NAME_OR_ARN#jsonKey} or ${ssm:/parameter/name}';

/** One reference's body, or why it is not one (the reason names the fix). */
function parseReference(body: string): { env: string } | SecretRef | string {
  const m = SCHEME.exec(body);
  if (!m) {
    return ENV_NAME.test(body)
      ? `"\${${body}}" is not expanded in this file: write \${env:${body}} for an environment variable`
      : `"\${${body}}" is not a reference: expected ${SYNTAX}`;
  }
  const scheme = m[1]!;
  const rest = m[2]!;
  switch (scheme) {
    case 'env':
      return ENV_NAME.test(rest) ? { env: rest } : `"\${env:${rest}}": expected \${env:VAR} with VAR of letters, digits and "_", not starting with a digit`;
    case 'secretsmanager': {
      const hash = rest.indexOf('#');
      const id = hash < 0 ? rest : rest.slice(0, hash);
      const key = hash < 0 ? undefined : rest.slice(hash + 1);
      if (!SECRET_NAME.test(id) && !SECRET_ARN.test(id)) {
        return `"\${secretsmanager:${rest}}": expected a secret name (letters, digits and /_+=.@-) or its ARN, then optionally #jsonKey`;
      }
      if (id.startsWith('arn:') && !SECRET_ARN.test(id)) return `"\${secretsmanager:${rest}}": not a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)`;
      if (key !== undefined && !JSON_KEY.test(key)) return `"\${secretsmanager:${rest}}": expected a JSON key of letters, digits and _.@/+=- after "#"`;
      return key === undefined ? { kind: 'secretsmanager', id } : { kind: 'secretsmanager', id, key };
    }
    case 'ssm':
      if (rest.startsWith('arn:') ? !SSM_ARN.test(rest) : !SSM_NAME.test(rest)) {
        return `"\${ssm:${rest}}": expected a parameter name such as /swr-migrate/quay/password (letters, digits and ._-/) or its ARN`;
      }
      return { kind: 'ssm', name: rest };
    default: {
      const near = ['env', 'secretsmanager', 'ssm'].find((s) => s.startsWith(scheme.slice(0, 3).toLowerCase()));
      return `unknown reference "\${${scheme}:...}"${near ? ` (did you mean \${${near}:...}?)` : ''}: expected ${SYNTAX}`;
    }
  }
}

/**
 * Expands `${env:VAR}` and keeps secret references for later. Throws nothing: the problems (each
 * without the `FILE: path: ` the caller prefixes) are returned, all of them, so one run lists every typo.
 */
export function parseCredential(value: string, env: NodeJS.ProcessEnv): { template: CredentialTemplate; problems: string[] } {
  const template: CredentialTemplate = [];
  const problems: string[] = [];
  const missing: string[] = [];
  let last = 0;
  const text = (s: string) => {
    if (!s) return;
    if (typeof template[template.length - 1] === 'string') template[template.length - 1] += s;
    else template.push(s);
  };
  for (const m of value.matchAll(REFERENCE)) {
    text(value.slice(last, m.index));
    last = m.index + m[0].length;
    const ref = parseReference(m[1]!);
    if (typeof ref === 'string') problems.push(ref);
    else if ('env' in ref) {
      const v = env[ref.env];
      if (v === undefined) missing.push(ref.env);
      else text(v);
    } else template.push(ref);
  }
  text(value.slice(last));
  // Worded as env-expand.ts words it, so both config formats report a missing variable alike.
  if (missing.length) {
    const many = missing.length > 1;
    problems.unshift(`environment variable${many ? 's' : ''} ${missing.join(', ')} ${many ? 'are' : 'is'} not set`);
  }
  return { template, problems };
}

/** The text of a template with no reference left, or undefined. */
export function literalOf(template: CredentialTemplate): string | undefined {
  if (template.some((t) => typeof t !== 'string')) return undefined;
  return template.join('');
}

