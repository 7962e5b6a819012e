// The HTTP layer of one registry host: base URL, auth, retries and error mapping, wrapped around every
// request the client makes (ggcr's transport stack: the read and write code never sees a 401).
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { AuthError, MigrateError, NetworkError, errorMessage } from '../errors.js';
import { type Credentials, HostAuth, type ScopeRequest } from './auth.js';
import type { RealmTrust } from './realm.js';
import { parseChallenges, pickChallenge } from './challenge.js';
import { registryErrorFrom } from './response.js';
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from './retry.js';
import { redactUrl } from './location.js';
import { type Scheme, type SchemeChoice, schemeChoiceFor } from './insecure-fallback.js';
import { tlsFailure } from './tls-errors.js';

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
export type RequestBody = Buffer | Uint8Array | AsyncIterable<Uint8Array> | null;

export interface SendRequest {
  method: Method;
  /** A path on this registry (`/v2/...`) or an absolute URL (upload locations). */
  url: string | URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  scope?: ScopeRequest;
  /** Statuses the caller handles; any other one becomes an error. */
  expect: readonly number[];
  /** For messages: "manifest GET library/alpine:3". */
  what: string;
  signal?: AbortSignal;
}

export interface TransportOptions {
  /** host[:port] of the registry API endpoint. */
  host: string;
  /** HTTPS without certificate verification (the dispatcher's job), falling back to plain HTTP. */
  insecure?: boolean;
  credentials?: Credentials;
  dispatcher: Dispatcher;
  retry?: RetryPolicy;
  logger?: Logger;
  /** Which token realms may receive the credentials (realm.ts); default: this host's domain over HTTPS. */
  realm?: RealmTrust;
}

export class RegistryTransport {
  readonly host: string;
  readonly auth: HostAuth;
  readonly dispatcher: Dispatcher;
  private readonly retry: RetryPolicy;
  private readonly logger: Logger | undefined;
  private readonly httpsBase: URL;
  private readonly httpBase: URL;
  /** For an insecure registry: whether it speaks HTTPS or plain HTTP, learnt by the first request. */
  private readonly fallback: SchemeChoice | undefined;
  /** Requests sent to the registry (token requests are counted by `auth`). */
  requests = 0;

  constructor(opts: TransportOptions) {
    this.host = opts.host;
    this.httpsBase = new URL(`https://${opts.host}`);
    this.httpBase = new URL(`http://${opts.host}`);
    this.fallback = opts.insecure ? schemeChoiceFor(opts.dispatcher) : undefined;
    this.dispatcher = opts.dispatcher;
    this.auth = new HostAuth(opts.host, opts.dispatcher, opts.credentials, undefined, opts.realm ?? { hosts: [opts.host], insecure: opts.insecure });
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.logger = opts.logger;
  }

  /** The registry's origin: HTTPS, or plain HTTP once an insecure registry turned out to speak it. */
  get base(): URL {
    return this.fallback?.known(this.host) === 'http:' ? this.httpBase : this.httpsBase;
  }

  /** A URL on this registry; one made before the scheme was learnt (a first page) is moved to it. */
  url(path: string | URL): URL {
    if (!(path instanceof URL)) return new URL(path, this.base);
    const known = this.fallback?.known(this.host);
    return known && path.host === this.host && path.protocol !== known ? withScheme(path, known) : path;
  }

  /**
   * Send with auth and, when the body can be sent again, retries with backoff. Streamed bodies get
   * exactly one attempt: the caller (the copier) retries the whole blob instead.
   */
  async send(req: SendRequest): Promise<Dispatcher.ResponseData> {
    if (!isReplayable(req.body)) return this.attempt(req);
    return withRetry(
      this.retry,
      () => this.attempt(req),
      (err, attempt, delay) =>
        this.logger?.warn({ host: this.host, attempt, delayMs: delay, err: errorMessage(err) }, `retrying ${req.what}`),
      req.signal,
    );
  }

  /** One attempt, including at most one re-authentication after a 401 (token expired or scheme learnt). */
  private async attempt(req: SendRequest): Promise<Dispatcher.ResponseData> {
    const url = this.url(req.url);
    const sameOrigin = url.origin === this.base.origin;
    for (let authTry = 0; ; authTry++) {
      const headers: Record<string, string> = { ...req.headers };
      // Never hand our credentials to another origin (upload locations may point elsewhere).
      const authorization = sameOrigin ? await this.auth.header(req.scope) : undefined;
      if (authorization) headers.authorization = authorization;
      const res = await this.raw(url, req, headers);
      if (res.statusCode === 401 && !req.expect.includes(401)) {
        const challenge = pickChallenge(parseChallenges(res.headers['www-authenticate']));
        await res.body.dump();
        const canRetry = sameOrigin && authTry === 0 && isReplayable(req.body);
        // A challenge from another origin (a Link or Location elsewhere) is not this registry's.
        if (challenge && canRetry) {
          if (authorization) this.auth.invalidate(req.scope);
          this.auth.learn(challenge);
          continue;
        }
        const insufficient = challenge?.params.error === 'insufficient_scope' ? 'insufficient scope' : undefined;
        if (authorization && sameOrigin && !isReplayable(req.body)) {
          // A streamed body cannot be re-sent: the token expired under us (or clocks disagree).
          // Forget it and let the blob-level retry start over with a fresh one.
          this.auth.invalidate(req.scope);
          throw new AuthError(this.host, 401, 'token expired during an upload', true);
        }
        throw new AuthError(this.host, 401, insufficient);
      }
      if (res.statusCode === 403 && !req.expect.includes(403)) {
        const err = await registryErrorFrom(res, this.host, req.what);
        throw new AuthError(this.host, 403, err.registryCode ?? 'access denied');
      }
      if (req.expect.includes(res.statusCode)) return res;
      throw await registryErrorFrom(res, this.host, req.what);
    }
  }

  /** Sends over the scheme this registry speaks, finding it out first for an insecure one. */
  private async raw(url: URL, req: SendRequest, headers: Record<string, string>): Promise<Dispatcher.ResponseData> {
    const fallback = this.fallback;
    if (!fallback || url.host !== this.host || fallback.known(this.host)) return this.dispatch(this.url(url), req, headers);
    const onPlainHttp = (): void => this.logger?.info({ host: this.host }, 'insecure registry answers plain HTTP: using HTTP');
    if (isReplayable(req.body)) return fallback.run(this.host, (scheme) => this.dispatch(withScheme(url, scheme), req, headers), onPlainHttp);
    // A streamed body cannot be sent twice: find out with the API version check first.
    const ping = { method: 'GET', url: '/v2/', expect: [], what: 'ping', signal: req.signal } as const;
    await fallback.run(this.host, async (scheme) => (await this.dispatch(withScheme(this.url('/v2/'), scheme), ping, {})).body.dump(), onPlainHttp);
    return this.dispatch(this.url(url), req, headers);
  }

  private async dispatch(url: URL, req: SendRequest, headers: Record<string, string>): Promise<Dispatcher.ResponseData> {
    this.requests++;
    this.logger?.trace({ method: req.method, url: redactUrl(url) }, 'request');
    try {
      return await this.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method,
        headers,
        body: (req.body ?? null) as Dispatcher.DispatchOptions['body'],
        signal: req.signal,
        // undici closes the connection after every HEAD by default (undici #258: servers that send
        // a body anyway). Registries do not, and a no-op sync is mostly HEADs: keep them alive.
        ...(req.method === 'HEAD' ? { reset: false } : {}),
      });
    } catch (err) {
      // Our own errors (e.g. a digest mismatch raised by a streamed body) pass through unchanged.
      if (err instanceof MigrateError) throw err;
      throw tlsFailure(url.host, err) ?? new NetworkError(url.host, networkReason(err), { cause: err });
    }
  }
}

function withScheme(url: URL, scheme: Scheme): URL {
  if (url.protocol === scheme) return url;
  const out = new URL(url);
  out.protocol = scheme;
  return out;
}

/** A body that can be sent again (none, or bytes in memory); a stream is consumed by one attempt. */
function isReplayable(body: RequestBody | undefined): boolean {
  return body == null || body instanceof Uint8Array;
}

/** A short human reason for a failed connection: "connection refused", "ENOTFOUND", ... */
export function networkReason(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ECONNRESET':
      return 'connection reset';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connection timed out';
    default: {
      const message = e.message ?? e.cause?.message ?? String(err);
      // undici's ProxyAgent, when the proxy answers CONNECT with anything but 200 (407: it wants credentials).
      const proxy = /^Proxy response \((\d+)\) !== 200/.exec(message) ?? /^Proxy Authentication Required \((\d+)\)/.exec(message);
      return proxy ? `the proxy refused the tunnel (HTTP ${proxy[1]})` : message;
    }
  }
}
