// Masking of credentials in anything we write: logs, DLQ bodies, error excerpts. pino's own
// `redact.paths` are exact, case-sensitive paths (`*.password` misses `Password` and
// `headers.Authorization.value`), so values are masked here by key name at any depth and, in
// strings, by shape: URL userinfo, `Bearer`/`Basic` credentials, presigned query parameters.
// Bounded (depth, keys, string length) and cycle-safe, so a huge object costs little.

import { parseRepositoryReference } from './oci/reference.js';

export const MASK = '[redacted]';

/** Keys whose value is a secret, whatever its case or position in the name (`X-Registry-Auth`, `registryAuth` too). */
export const SECRET_KEY = /authorization|password|passwd|token|secret|signature|credential|auth$|cookie|api[-_]?key/i;

// Presigned URL parameters: S3 (X-Amz-*, AWS SigV2 `Signature`), Azure SAS (`sig`), GCS
// (X-Goog-Signature / X-Goog-Credential), and registries that put a `token` in the query.
const QUERY_PARAM = /([?&](?:x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|signature|sig|token|access_token|refresh_token|password|secret)=)[^&#\s"'<>]*/gi;
// `scheme://user:pass@host` and `scheme://token@host` (RFC 3986 3.2.1 userinfo).
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
// RFC 7235 credentials. After `Authorization:` any value is one: `Authorization: Bearer x`.
const AUTH_HEADER = /(authorization["']?\s*[:=]\s*["']?(?:bearer|basic)\s+)(?!\[redacted\])[A-Za-z0-9._~+/-]+=*/gi;
// A scheme word elsewhere is often prose ("SWR Basic destinations") or a challenge (`Bearer
// realm="..."`): only a value shaped like a credential is masked (credentialShaped below).
const AUTH_SCHEME = /\b(bearer|basic)(\s+)(?!\[redacted\])([A-Za-z0-9._~+/-]+=*)/gi;
// `password=...`, `"password": "..."`, `token: ...` in text that is not JSON we could walk (a
// quote left open by a cut excerpt still masks to the end). Before `=`, which no image reference
// holds, a key word counts anywhere (`X-Amz-Signature=`, `registryAuth=`). Before `:` it must
// start a key: at the start of the text or after a space, quote, `{`, `,`, `;`, `&`, `?`, `(` or
// `[`, since after `/`, `.`, `-`, `_`, `:` or a letter it is part of a name
// (`thomseddon/traefik-forward-auth:2.2`, `acme/oauth:3`, `jwt-token:v1.4.0`); a compound key
// there (`X-Registry-Auth`, `clientSecret`) needs a closing quote or a space after its `:`, as in
// JSON, YAML and headers, while a tag follows a reference's `:` at once. `unauthorized:` is a word.
const KEY_WORD = 'authorization|password|passwd|token|secret|signature|credentials?|auth';
const COMPOUND_KEY = `[\\w-]{0,64}(?:${KEY_WORD})(?:[-_][\\w-]{0,64})?`;
const KEY_START = `(?<![^\\s"'{,;&?(\\[])`;
const KEY_VALUE = new RegExp(
  `((?:${KEY_START}(?:${COMPOUND_KEY}(?:["']\\s*[:=]|\\s*=|\\s*:(?=\\s))|(?:${KEY_WORD})\\s*:)|(?:${KEY_WORD})["']?\\s*=)\\s*)` +
    `("(?:[^"\\\\]|\\\\.)*"?|'[^']*'?|(?!\\[redacted\\]|(?:bearer|basic)\\s)[^\\s"',&;}]+)`,
  'gi',
);

/** Strings longer than this are cut before masking: nothing we log needs more. */
const MAX_STRING = 16_384;
const MAX_DEPTH = 8;
const MAX_KEYS = 200;

// Every pattern above needs one of these words or an '@': most strings (digests, repositories,
// messages) fail this one cheap test and skip the four replacements.
const HINT = /@|bearer|basic|passw|token|secret|signature|sig=|auth|credential/i;

/** Mask secret-looking substrings of free text. Idempotent: masking twice changes nothing more. */
export function maskSecretText(text: string): string {
  const s = text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)}...` : text;
  if (!HINT.test(s)) return s;
  // One mask can give another pattern its shape (`https://sig=<&@`: the query mask drops the '<'
  // that kept the userinfo pattern off), so repeat until nothing changes: masking stays idempotent.
  let out = s;
  for (let pass = 0; pass < 4; pass++) {
    const next = maskOnce(out);
    if (next === out) break;
    out = next;
  }
  return out;
}

function maskOnce(s: string): string {
  return s
    .replace(URL_USERINFO, `$1${MASK}@`)
    .replace(AUTH_HEADER, `$1${MASK}`)
    .replace(AUTH_SCHEME, (m, scheme: string, space: string, value: string, at: number, all: string) =>
      credentialShaped(value, all.charAt(at + m.length)) ? `${scheme}${space}${MASK}` : m,
    )
    .replace(QUERY_PARAM, `$1${MASK}`)
    .replace(KEY_VALUE, (_m, key: string, value: string) => `${key}${value.startsWith('"') ? `"${MASK}"` : value.startsWith("'") ? `'${MASK}'` : MASK}`);
}

/**
 * A Basic/Bearer value that is a credential, not a word: base64 or a token is at least 8 characters
 * long with a digit, `+`, `/`, `=` padding or a capital after the first letter ("destinations",
 * "Edition" are words). `realm="...` is an auth-param of a challenge (RFC 7235 2.1), not a token68.
 */
function credentialShaped(value: string, next: string): boolean {
  const bare = value.replace(/=+$/, '');
  if (/^[a-z][a-z_-]*=$/.test(value) && next !== '' && /["'\w]/.test(next)) return false;
  return bare.length >= 8 && (/[0-9+/]/.test(bare) || bare !== value || /.[A-Z]/.test(bare));
}

/**
 * A copy of `value` with every secret-keyed value replaced by MASK and every string masked by
 * shape. Errors become `{ name, message, code, stack, cause }` so their text is masked as well.
 */
export function maskSecrets<T>(value: T): T {
  return walk(value, 0, new WeakSet()) as T;
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return maskSecretText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  try {
    if (value instanceof Error) {
      const e = value as Error & { code?: unknown };
      // No prototype: pino's err serializer then takes the type from `name`, not from `Object`.
      const out = Object.assign(Object.create(null) as Record<string, unknown>, { name: e.name, message: maskSecretText(e.message) });
      if (e.code !== undefined) out.code = e.code;
      if (e.stack !== undefined) out.stack = maskSecretText(e.stack);
      // undici's errors sit under `cause` of our NetworkError: keep them, masked as well.
      if (e.cause !== undefined) out.cause = walk(e.cause, depth + 1, seen);
      return out;
    }
    if (Array.isArray(value)) {
      const out = value.slice(0, MAX_KEYS).map((v) => walk(v, depth + 1, seen));
      if (value.length > MAX_KEYS) out.push(`[${value.length - MAX_KEYS} more]`);
      return out;
    }
    if (value instanceof URL) return maskSecretText(value.href);
    // Buffers, Maps and the like are not walked: they are not what a log line is made of.
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value);
    if (keys.length > MAX_KEYS) out['[more keys]'] = keys.length - MAX_KEYS;
    for (const key of keys.slice(0, MAX_KEYS)) {
      const v = (value as Record<string, unknown>)[key];
      if (isSecretKey(key)) setOwn(out, key, v !== undefined && v !== null && v !== '' ? MASK : v);
      // An image reference has no room for a credential (its grammar has no userinfo, query or
      // spaces): a log line's source and destination are kept exactly as they are.
      else if (REFERENCE_KEY.test(key) && typeof v === 'string' && isReferenceList(v)) setOwn(out, key, v);
      else setOwn(out, key, walk(v, depth + 1, seen));
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * A message body fit for the DLQ: JSON has the values of secret-looking keys masked (and then
 * its strings by shape); anything else is masked as text. Bodies without secrets are unchanged,
 * byte for byte, so replay still matches them.
 */
export function maskBody(body: string): string {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return maskSecretText(body);
  }
  const masked = maskJson(json, 0);
  return masked.changed ? JSON.stringify(masked.value) : body;
}

/** Unbounded in size (a body is at most 1 MiB) but bounded in depth, unlike the log walker. */
function maskJson(value: unknown, depth: number): { value: unknown; changed: boolean } {
  if (typeof value === 'string') {
    const m = maskSecretText(value);
    return { value: m, changed: m !== value };
  }
  if (typeof value !== 'object' || value === null) return { value, changed: false };
  if (depth > 64) return { value: MASK, changed: true };
  let changed = false;
  if (Array.isArray(value)) {
    const out = value.map((v) => {
      const m = maskJson(v, depth + 1);
      changed ||= m.changed;
      return m.value;
    });
    return { value: out, changed };
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (isSecretKey(key) && v !== null && v !== '' && v !== MASK) {
      setOwn(out, key, MASK);
      changed = true;
      continue;
    }
    const m = maskJson(v, depth + 1);
    changed ||= m.changed;
    setOwn(out, key, m.value);
  }
  return { value: out, changed };
}

/** Keys of log objects that hold image references (outcome lines, the copier's child loggers). */
const REFERENCE_KEY = /^(?:source|destination|image|reference)$/i;

/** One reference, or an expand message's destinations joined by ", " (copier.ts). */
function isReferenceList(text: string): boolean {
  if (text.length > 4096) return false;
  return text.split(', ').every((ref) => {
    try {
      parseRepositoryReference(ref);
      return true;
    } catch {
      return false;
    }
  });
}

// Log objects use a handful of key names over and over: remember the verdict for each.
const keyVerdicts = new Map<string, boolean>();
function isSecretKey(key: string): boolean {
  let verdict = keyVerdicts.get(key);
  if (verdict === undefined) {
    verdict = SECRET_KEY.test(key);
    if (keyVerdicts.size < 1000) keyVerdicts.set(key, verdict);
  }
  return verdict;
}

/** `out[key] = v` would set the prototype for a `__proto__` key that JSON.parse made an own property. */
function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}
