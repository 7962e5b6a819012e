// Registry authentication: anonymous, Basic and Bearer tokens (distribution docs/spec/auth/token.md).
// A host's challenge is learnt from its first 401 and remembered, so later requests for other scopes
// fetch their token up front instead of paying one more 401 each.
import type { Dispatcher } from 'undici';
import { AuthError, type CredentialSource, MigrateError, NetworkError, RegistryError, RequestTimeoutError, UntrustedRealmError, errorMessage } from '../../errors.js';
import { remoteText } from '../../text.js';
import { type Challenge, repositoryScope } from './challenge.js';
import { redactUrl } from '../http/location.js';
import { type RealmTrust, realmRefusal } from './realm.js';
import { MAX_TOKEN_BODY, readBodyLimited, readErrorBody } from '../http/response.js';
import { tlsFailure } from '../http/tls-errors.js';
import { DEFAULT_TIMEOUT_S, RequestDeadline, abortable } from '../http/deadline.js';
import { TokenCache } from './token-cache.js';

export interface Credentials {
  username: string;
  password: string;
  /**
   * An OAuth2 refresh token (docker's `identitytoken`, image-syncer's `identityToken`): a Bearer
   * realm gets it by POST as `grant_type=refresh_token` (distribution docs/spec/auth/oauth.md),
   * as containers-image does; username and password then serve Basic registries only.
   */
  identityToken?: string;
}

export interface ScopeRequest {
  /** Resource type; `repository` unless said otherwise (`registry` for the catalog). */
  type?: string;
  repository: string;
  actions: readonly string[];
  /** More repositories to include, e.g. the source of a cross-repository mount (pull only). */
  extra?: { repository: string; actions: readonly string[] }[];
}

/** Tokens live `expires_in` seconds (60 when absent); drop them this much earlier. */
const EXPIRY_MARGIN_MS = 30_000;

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

export function scopeStrings(s: ScopeRequest): string[] {
  const all = [repositoryScope(s.repository, s.actions, s.type)];
  for (const e of s.extra ?? []) all.push(repositoryScope(e.repository, e.actions));
  return all;
}

export class HostAuth {
  private challenge: Challenge | undefined;
  private readonly tokens: TokenCache;
  private readonly pending = new Map<string, Promise<string>>();
  tokenRequests = 0;
  /** Overall deadline of a token request, in ms (the transport sets its `timeout`). */
  timeoutMs = DEFAULT_TIMEOUT_S * 1000;
  /**
   * The error for a token request refused (401/403) for these scopes, when the registry knows
   * better than "bad credentials" (SWR: a missing organization, lib/vendors/swr/refusal.ts). Set by the pool.
   */
  explainRefusal?: (scopes: readonly string[], status: number) => Error | undefined;
  /** Credentials that expire (ECR's 12-hour login), asked when none were given; set by the pool. */
  credentialsProvider?: () => Promise<Credentials>;
  /** Where the credentials were given, for the hint of a refusal; set by the pool. */
  credentialsFrom?: CredentialSource;

  constructor(
    private readonly host: string,
    private readonly dispatcher: Dispatcher,
    private readonly credentials: Credentials | undefined,
    private readonly now: () => number = Date.now,
    /** Where credentials may go; by default the host's own domain over HTTPS (see realm.ts). */
    private readonly trust: RealmTrust = { hosts: [host] },
  ) {
    this.tokens = new TokenCache(now);
  }

  /** Tokens held now (bounded: token-cache.ts). */
  get cachedTokens(): number {
    return this.tokens.size;
  }

  get knowsChallenge(): boolean {
    return this.challenge !== undefined;
  }

  learn(challenge: Challenge): void {
    this.challenge = challenge;
  }

  /** The Authorization header for a request, or undefined while the host's scheme is unknown. */
  async header(scope: ScopeRequest | undefined): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') {
      const creds = await this.currentCredentials();
      if (!creds) throw new AuthError(this.host, 401, 'the registry wants a username and password', false, this.credentialsFrom);
      return basicHeader(creds);
    }
    if (c.scheme !== 'bearer') throw new AuthError(this.host, 401, `unsupported auth scheme ${c.scheme}`);
    const scopes = scope ? scopeStrings(scope) : [];
    const key = scopes.slice().sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached) return `Bearer ${cached}`;
    let pending = this.pending.get(key);
    if (!pending) {
      // One token request per scope set even when many copies ask at once.
      pending = this.fetchToken(c, scopes, key).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return `Bearer ${await pending}`;
  }

  /** The given credentials, else the provider's current ones (it refreshes them before they expire). */
  private async currentCredentials(): Promise<Credentials | undefined> {
    return this.credentials ?? (await this.credentialsProvider?.());
  }

  /** Forget the token for a scope set (after a 401 that used it). */
  invalidate(scope: ScopeRequest | undefined): void {
    const key = (scope ? scopeStrings(scope) : []).sort().join(' ');
    this.tokens.delete(key);
  }

  private async fetchToken(c: Challenge, scopes: string[], key: string): Promise<string> {
    const realm = c.params.realm;
    if (!realm) throw new AuthError(this.host, 401, 'Bearer challenge without a realm');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new AuthError(this.host, 401, 'Bearer challenge with an invalid realm');
    }
    // Checked before anything is sent, anonymous or not: a realm is also a URL we would fetch.
    const refusal = realmRefusal(url, this.trust);
    if (refusal) throw new UntrustedRealmError(this.host, remoteText(redactUrl(url), 200), refusal);
    const headers: Record<string, string> = { accept: 'application/json' };
    let body: string | undefined;
    const creds = await this.currentCredentials();
    const identityToken = creds?.identityToken;
    if (identityToken) {
      // OAuth2 refresh-token grant (docs/spec/auth/oauth.md), as containers-image sends it for an
      // identity token: a form POST to the realm; the scopes are one space-separated field.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: identityToken, service: c.params.service ?? '', scope: scopes.join(' '), client_id: 'swr-migrate' });
      body = form.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (c.params.service) url.searchParams.set('service', c.params.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (creds) headers.authorization = basicHeader(creds);
    }
    // The token server gets the same overall deadline as the registry's own requests (deadline.ts):
    // a realm that trickles its answer must not hold every copy waiting for this token.
    const deadline = new RequestDeadline(this.timeoutMs, (sec) => new RequestTimeoutError(url.host, 'token request', sec));
    try {
      return await this.tokenFrom(url, headers, key, deadline.signal, scopes, body);
    } finally {
      deadline.clear();
    }
  }

  private async tokenFrom(url: URL, headers: Record<string, string>, key: string, signal: AbortSignal, scopes: string[], form?: string): Promise<string> {
    let res: Dispatcher.ResponseData;
    try {
      this.tokenRequests++;
      res = await abortable(this.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: form === undefined ? 'GET' : 'POST',
        headers,
        signal,
        ...(form === undefined ? {} : { body: form }),
      }), signal);
    } catch (err) {
      if (err instanceof MigrateError) throw err;
      throw tlsFailure(url.host, err) ?? new NetworkError(url.host, errorMessage(err), { cause: err });
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      const what = form === undefined ? 'the credentials' : 'the identityToken (refresh token); get a new one';
      throw this.explainRefusal?.(scopes, res.statusCode) ?? new AuthError(this.host, res.statusCode, `the token server refused ${what}`, false, this.credentialsFrom);
    }
    if (res.statusCode !== 200) {
      const errors = await readErrorBody(res);
      throw new RegistryError(`token server ${url.host} answered ${res.statusCode}`, res.statusCode, url.host, errors);
    }
    let body: Record<string, unknown>;
    try {
      const bytes = await readBodyLimited(res, MAX_TOKEN_BODY, 'token response', url.host);
      body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof MigrateError) throw err;
      throw new NetworkError(url.host, `unreadable token response (${remoteText(errorMessage(err), 80)})`, { cause: err });
    }
    if (typeof body !== 'object' || body === null) throw new AuthError(this.host, 401, 'the token server sent no token');
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || !token) throw new AuthError(this.host, 401, 'the token server sent no token');
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    // Count the lifetime from when we received the token, on our own clock: `issued_at` is the
    // server's clock, and a skew would make every token look expired (never cached) or eternal.
    const lifetime = expiresIn * 1000;
    const expiresAt = this.now() + lifetime - Math.min(EXPIRY_MARGIN_MS, lifetime / 2);
    this.tokens.set(key, token, expiresAt);
    return token;
  }
}
