// The image-syncer / image-migrator `--auth` file (REFERENCE.md section 5), JSON or YAML:
//   { "quay.io": {username, password, insecure}, "quay.io/coreos": {...}, "docker.io": {} }
// A key is a registry or registry/namespace; the longest key that prefixes the repository wins
// (image-syncer documents this but does not enforce it; we do, on path-component boundaries).
import { z } from 'zod';
import type { Credentials } from '../registry/auth/auth.js';
import type { AccessResolver, RegistryAccess } from '../registry/pool.js';
import { type DuplicateWording, readConfigFile } from './config-file.js';
import { expandEnvText } from './env-expand.js';
import { Problems } from './problems.js';

const entrySchema = z.strictObject({
  username: z.string().optional(),
  password: z.string().optional(),
  /** image-syncer / containers-image: an OAuth2 refresh token, sent to a Bearer realm by POST. */
  identityToken: z.string().optional(),
  insecure: z.boolean().optional(),
});
const authFileSchema = z.record(z.string(), z.unknown(), { error: 'expected a mapping of registry[/namespace] to {username, password, identityToken, insecure}' });

export interface AuthEntry {
  /** Normalised `registry` or `registry/namespace/...`. */
  prefix: string;
  access: RegistryAccess;
}

/** The wording for a duplicate registry in an auth file (also the `auth` part of a combined config). */
export const duplicateRegistry: DuplicateWording = (d) => `duplicate registry "${d.key}"`;

export async function loadAuthFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<AuthEntry[]> {
  const text = await readConfigFile(file, duplicateRegistry);
  const p = new Problems(file, text.locate);
  p.add(...text.duplicates);
  const entries = collectAuthEntries(text.value ?? {}, p, env);
  p.throwIfAny(`invalid auth file ${file}`);
  return entries;
}

/** The entries of an already parsed auth document; throws a ConfigError listing every problem. */
export function parseAuthEntries(raw: unknown, file: string, env: NodeJS.ProcessEnv = process.env): AuthEntry[] {
  const p = new Problems(file);
  const entries = collectAuthEntries(raw, p, env);
  p.throwIfAny(`invalid auth file ${file}`);
  return entries;
}

/**
 * Each entry checked on its own, so an unknown key in one does not hide an unset variable in
 * another. `base` is where the entries sit in the file (`auth` in a combined config).
 */
export function collectAuthEntries(raw: unknown, p: Problems, env: NodeJS.ProcessEnv, base: readonly PropertyKey[] = []): AuthEntry[] {
  const parsed = authFileSchema.safeParse(raw);
  if (!parsed.success) {
    p.zod(parsed.error, base);
    return [];
  }
  const entries: AuthEntry[] = [];
  for (const [key, given] of Object.entries(parsed.data)) {
    const path = [...base, key];
    if (!key.trim()) {
      p.at(path, 'expected a registry host[:port][/namespace], e.g. quay.io', { key: true });
      continue;
    }
    const entry = entrySchema.safeParse(given ?? {}); // `docker.io:` with nothing = anonymous
    if (!entry.success) {
      p.zod(entry.error, path);
      continue;
    }
    const value = entry.data;
    const access: RegistryAccess = { insecure: value?.insecure ?? false };
    const expand = (field: 'username' | 'password' | 'identityToken') => {
      const v = value?.[field];
      if (!v) return undefined;
      const { text, problem } = expandEnvText(v, env);
      if (problem) p.at([...path, field], problem);
      return text;
    };
    const username = expand('username');
    const password = expand('password');
    const identityToken = expand('identityToken');
    // An entry with no username and no token is anonymous (image-syncer: `{}` means anonymous).
    if (username || identityToken) {
      access.credentials = { username: username ?? '', password: password ?? '', ...(identityToken ? { identityToken } : {}) } satisfies Credentials;
    }
    entries.push({ prefix: normalisePrefix(key), access });
  }
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
