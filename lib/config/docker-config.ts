// Credentials from the user's docker CLI config (`dockerConfig:` in the native config), so people
// who already ran `docker login` need not copy secrets. Only inline credentials are read: the
// credential-helper protocol (credsStore / credHelpers) would mean running external programs, so
// such entries are reported as a problem instead of silently going anonymous.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Credentials } from '../registry/auth/auth.js';
import { normalisePrefix } from './auth-file.js';
import { describeJsonError } from './syntax-errors.js';

interface DockerConfigFile {
  auths: Record<string, Record<string, unknown>>;
  credsStore?: string;
  credHelpers: Record<string, string>;
}

/**
 * `true`: $DOCKER_CONFIG/config.json, else ~/.docker/config.json (docker's own lookup).
 * A string: that file (or that directory's config.json), `~/` expanded, relative to the config file.
 */
export function dockerConfigPath(setting: true | string, configFile: string, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || homedir();
  if (setting === true) return env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(home, '.docker', 'config.json');
  const p = setting.startsWith('~/') ? join(home, setting.slice(2)) : setting;
  return resolve(dirname(configFile), p);
}

/** Several registries usually share one file: read and parse it once per load. */
export type DockerConfigCache = Map<string, DockerConfigFile | string>;

function readDockerConfig(path: string, cache: DockerConfigCache): DockerConfigFile | string {
  const cached = cache.get(path);
  if (cached !== undefined) return cached;
  let result: DockerConfigFile | string;
  try {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
      text = readFileSync(join(path, 'config.json'), 'utf8');
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      // V8's SyntaxError quotes the text around the fault, and in this file that text is `auth`.
      throw new Error(`not valid JSON: ${describeJsonError(text, err)}`);
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error('not a JSON object');
    const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, never>) : {});
    result = {
      auths: obj(json.auths),
      credHelpers: obj(json.credHelpers),
      ...(typeof json.credsStore === 'string' ? { credsStore: json.credsStore } : {}),
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    result = `cannot read docker config ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message.split('\n')[0]}`;
  }
  cache.set(path, result);
  return result;
}

/**
 * Credentials for a `registry[/namespace]` prefix, or a problem (string). The longest `auths` key
 * that prefixes it wins: docker keys by host (`https://index.docker.io/v1/` is docker.io), podman
 * also by `host/namespace`.
 */
export function dockerConfigCredentials(prefix: string, path: string, cache: DockerConfigCache): Credentials | string {
  const cfg = readDockerConfig(path, cache);
  if (typeof cfg === 'string') return cfg;
  const host = prefix.split('/')[0]!;
  let best: { key: string; norm: string } | undefined;
  for (const key of Object.keys(cfg.auths)) {
    const norm = normalisePrefix(key);
    if ((prefix === norm || prefix.startsWith(`${norm}/`)) && (!best || norm.length > best.norm.length)) best = { key, norm };
  }
  const entry = best ? cfg.auths[best.key] : undefined;
  const helper = cfg.credHelpers[host] ?? Object.entries(cfg.credHelpers).find(([k]) => normalisePrefix(k) === host)?.[1] ?? cfg.credsStore;
  if (entry) {
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return `auths["${best!.key}"].auth in ${path} is not base64 of "user:password"`;
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (typeof entry.username === 'string' && entry.username !== '') {
      return { username: entry.username, password: typeof entry.password === 'string' ? entry.password : '' };
    }
    // `docker login` with a credential store leaves an empty entry here; identity tokens are OAuth
    // refresh tokens, which need the helper-style exchange we do not implement either.
  }
  if (helper) {
    return `${path} keeps the credentials for ${host} in the credential helper docker-credential-${helper}; credential helpers are not supported, put username and password in the config instead`;
  }
  if (entry) return `auths["${best!.key}"] in ${path} has no auth or username/password (identity tokens are not supported)`;
  return `${path} has no credentials for ${prefix} (run docker login ${host}, or give username and password)`;
}
