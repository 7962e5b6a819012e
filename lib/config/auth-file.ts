// The image-syncer / image-migrator `--auth` file (REFERENCE.md section 5), JSON or YAML:
//   { "quay.io": {username, password, insecure}, "quay.io/coreos": {...}, "docker.io": {} }
// A key is a registry or registry/namespace; the longest key that prefixes the repository wins
// (image-syncer documents this but does not enforce it; we do, on path-component boundaries).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { Credentials } from '../registry/auth.js';
import type { AccessResolver, RegistryAccess } from '../registry/pool.js';
import { type DuplicateKey, findJsonDuplicate, parseYamlUnique } from './duplicate-keys.js';
import { expandEnv } from './env-expand.js';
import { formatZodIssues } from './zod-issues.js';

const entrySchema = z.strictObject({
  username: z.string().optional(),
  password: z.string().optional(),
  /** image-syncer / containers-image: an OAuth2 refresh token, sent to a Bearer realm by POST. */
  identityToken: z.string().optional(),
  insecure: z.boolean().optional(),
});
const authFileSchema = z.record(z.string().min(1), z.union([entrySchema, z.null()]));

export interface AuthEntry {
  /** Normalised `registry` or `registry/namespace/...`. */
  prefix: string;
  access: RegistryAccess;
}

/** How a duplicate key is named in the error; default `duplicate key "k"` (with where it is). */
export type DuplicateWording = (d: DuplicateKey) => string;

const defaultWording: DuplicateWording = (d) => `duplicate key "${d.key}"${d.path.length ? ` under ${d.path.map((k) => JSON.stringify(k)).join('.')}` : ''}`;

/**
 * Read and parse a structured file by extension (.yaml/.yml, else JSON with a YAML fallback). A
 * duplicate key is an error in both (see duplicate-keys.ts).
 */
export async function readStructuredFile(file: string, wording: DuplicateWording = defaultWording): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const ext = extname(file).toLowerCase();
  let parsed: { value: unknown; duplicate?: DuplicateKey };
  try {
    if (ext === '.yaml' || ext === '.yml') parsed = parseYamlUnique(text);
    else {
      try {
        const value: unknown = JSON.parse(text);
        const duplicate = findJsonDuplicate(text);
        parsed = duplicate ? { value, duplicate } : { value };
      } catch (jsonErr) {
        if (ext === '.json') throw jsonErr;
        parsed = parseYamlUnique(text);
      }
    }
  } catch (err) {
    throw new ConfigError(`${file} is not valid ${ext === '.json' ? 'JSON' : 'YAML or JSON'}: ${parseErrorWhere(err)}`);
  }
  if (parsed.duplicate) throw new ConfigError(`${file}: ${wording(parsed.duplicate)}; each key may appear once, merge the two entries`);
  return parsed.value;
}

/**
 * Where a parse failed, without the parser's excerpt: V8's JSON errors quote the text around the
 * fault, and in an auth file that text is a password.
 */
export function parseErrorWhere(err: unknown): string {
  const message = (err as Error).message ?? '';
  const position = /position (\d+)/.exec(message)?.[1];
  const line = /line (\d+)(?:,? column (\d+))?/.exec(message);
  if (line) return `syntax error at line ${line[1]}${line[2] ? `, column ${line[2]}` : ''}`;
  if (position) return `syntax error at character ${position}`;
  return 'syntax error';
}

/** The wording for a duplicate registry in an auth file (also the `auth` part of a combined config). */
export const duplicateRegistry: DuplicateWording = (d) => `duplicate registry "${d.key}"`;

export async function loadAuthFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<AuthEntry[]> {
  const raw = (await readStructuredFile(file, duplicateRegistry)) ?? {};
  return parseAuthEntries(raw, file, env);
}

export function parseAuthEntries(raw: unknown, file: string, env: NodeJS.ProcessEnv = process.env): AuthEntry[] {
  const parsed = authFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`invalid auth file ${file}`, formatZodIssues(parsed.error, file));
  const problems: string[] = [];
  const entries: AuthEntry[] = [];
  for (const [key, value] of Object.entries(parsed.data)) {
    const access: RegistryAccess = { insecure: value?.insecure ?? false };
    try {
      const username = value?.username ? expandEnv(value.username, `${file}: ${key}.username`, env) : undefined;
      const password = value?.password ? expandEnv(value.password, `${file}: ${key}.password`, env) : undefined;
      const identityToken = value?.identityToken ? expandEnv(value.identityToken, `${file}: ${key}.identityToken`, env) : undefined;
      // An entry with no username and no token is anonymous (image-syncer: `{}` means anonymous).
      if (username || identityToken) {
        access.credentials = { username: username ?? '', password: password ?? '', ...(identityToken ? { identityToken } : {}) } satisfies Credentials;
      }
    } catch (err) {
      problems.push((err as Error).message);
    }
    entries.push({ prefix: normalisePrefix(key), access });
  }
  if (problems.length) throw new ConfigError(`invalid auth file ${file}`, problems);
  return entries;
}

/** `https://Index.Docker.io/v1/` -> `docker.io`; `quay.io/coreos/` -> `quay.io/coreos`. */
export function normalisePrefix(key: string): string {
  let k = key.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  k = k.replace(/\/v[12]$/, '');
  const slash = k.indexOf('/');
  const host = (slash < 0 ? k : k.slice(0, slash)).toLowerCase();
  const rest = slash < 0 ? '' : k.slice(slash);
  const canonical = host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
  return canonical + rest;
}

/** Longest prefix on path-component boundaries: `quay.io/core` does not match `quay.io/coreos/x`. */
export function resolverFromEntries(entries: AuthEntry[]): AccessResolver {
  const sorted = [...entries].sort((a, b) => b.prefix.length - a.prefix.length);
  return (registry: string, repository: string): RegistryAccess => {
    const full = `${registry}/${repository}`;
    for (const e of sorted) {
      if (full === e.prefix || full.startsWith(`${e.prefix}/`)) return e.access;
    }
    return {};
  };
}
