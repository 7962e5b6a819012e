// A deliberately small registry HTTP client for the test helpers. It is independent of lib/ so a
// bug in the code under test cannot hide itself by also breaking the harness that checks it.
// Auth: reacts to the 401 challenge (Basic or Bearer), caches the result per (origin, user, scope).
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';

/** Anything with a base URL and optional credentials: a RegistryHandle, or a proxy in front of one. */
export interface Target {
  url: string; username?: string | undefined; password?: string | undefined;
  /** For HTTPS test registries: trusts the test CA. */
  dispatcher?: Dispatcher | undefined;
}

export type Response = Dispatcher.ResponseData;

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A Buffer can be re-sent after a 401; a stream cannot, so authenticate before streaming. */
  body?: Buffer | Readable;
  /** Repository the request is about; sets the token scope `repository:<repo>:pull,push`. */
  repo?: string;
  /** Explicit scope(s) instead of the repo-derived one (e.g. 'registry:catalog:*'). */
  scopes?: string[];
}

interface CachedAuth { header: string; expiresAt: number }
const authCache = new Map<string, CachedAuth>();

/** Forget cached credentials (e.g. to make the next request go through the challenge again). */
export function clearAuthCache(): void {
  authCache.clear();
}

export function parseChallenge(header: string | string[] | undefined): { scheme: string; params: Record<string, string> } | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  const sp = h.indexOf(' ');
  const scheme = (sp < 0 ? h : h.slice(0, sp)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of h.slice(sp + 1).matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!.toLowerCase()] = m[2]!;
  return { scheme, params };
}

export function headerValue(res: Response, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function basic(t: Target): string {
  if (t.username === undefined) throw new Error(`registry ${t.url} wants credentials but the target has none`);
  return `Basic ${Buffer.from(`${t.username}:${t.password ?? ''}`).toString('base64')}`;
}

async function authenticate(t: Target, challenge: ReturnType<typeof parseChallenge>, scopes: string[]): Promise<CachedAuth> {
  if (challenge?.scheme === 'basic') return { header: basic(t), expiresAt: Infinity };
  if (challenge?.scheme !== 'bearer' || !challenge.params.realm) {
    throw new Error(`unsupported auth challenge from ${t.url}: ${JSON.stringify(challenge)}`);
  }
  const u = new URL(challenge.params.realm);
  if (challenge.params.service) u.searchParams.set('service', challenge.params.service);
  const wanted = new Set([...(challenge.params.scope ? challenge.params.scope.split(' ') : []), ...scopes]);
  for (const s of wanted) u.searchParams.append('scope', s);
  const headers: Record<string, string> = t.username !== undefined ? { authorization: basic(t) } : {};
  const res = await request(u, { headers, ...(t.dispatcher ? { dispatcher: t.dispatcher } : {}) });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`token request ${u} failed: ${res.statusCode} ${text}`);
  const json = JSON.parse(text) as { token?: string; access_token?: string; expires_in?: number };
  const tok = json.token ?? json.access_token;
  if (!tok) throw new Error(`token response without a token: ${text}`);
  const ttl = json.expires_in ?? 60;
  return { header: `Bearer ${tok}`, expiresAt: Date.now() + (ttl - Math.min(30, ttl / 2)) * 1000 };
}

/**
 * Sends one request (path relative to t.url, or an absolute URL such as an upload Location).
 * Redirects are not followed. The caller must consume or dump the response body.
 */
export async function registryRequest(t: Target, method: string, pathOrUrl: string, opts: RequestOptions = {}): Promise<Response> {
  const url = new URL(pathOrUrl, t.url);
  const scopes = opts.scopes ?? (opts.repo !== undefined ? [`repository:${opts.repo}:pull,push`] : []);
  // Keyed by user too: an anonymous request must never ride on another user's token.
  const key = `${url.origin}|${t.username ?? ''}|${scopes.join(' ')}`;
  const send = (auth: CachedAuth | undefined): Promise<Response> => request(url, {
    method: method as Dispatcher.HttpMethod,
    headers: { ...opts.headers, ...(auth ? { authorization: auth.header } : {}) },
    body: opts.body ?? null,
    ...(t.dispatcher ? { dispatcher: t.dispatcher } : {}),
  });
  let cached = authCache.get(key);
  if (cached && cached.expiresAt <= Date.now()) cached = undefined;
  const res = await send(cached);
  if (res.statusCode !== 401 || (opts.body !== undefined && !Buffer.isBuffer(opts.body))) return res;
  await res.body.dump();
  const fresh = await authenticate(t, parseChallenge(res.headers['www-authenticate']), scopes);
  authCache.set(key, fresh);
  return send(fresh);
}

/** Throws with the response body when the status is not one of `ok`. */
export async function expectStatus(res: Response, ok: number[], what: string): Promise<void> {
  if (ok.includes(res.statusCode)) return;
  const text = await res.body.text().catch(() => '');
  throw new Error(`${what}: unexpected HTTP ${res.statusCode}: ${text.slice(0, 500)}`);
}

/** Resolves an upload Location against the request URL and appends `digest=`, keeping its query. */
export function withDigest(t: Target, location: string, digest: string): string {
  const abs = new URL(location, t.url).href;
  return `${abs}${abs.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}
