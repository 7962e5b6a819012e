// The HTTP layer of one registry host: base URL, auth, retries and error mapping, wrapped around every
// request the client makes (ggcr's transport stack: the read and write code never sees a 401).
import type { Dispatcher } from 'undici';
import { remoteText } from '../../text.js';
import type { Logger } from 'pino';
import { AuthError, MigrateError, NetworkError, RequestTimeoutError, errorMessage } from '../../errors.js';
import { type Credentials, HostAuth, type ScopeRequest } from '../auth/auth.js';
import type { RealmTrust } from '../auth/realm.js';
import { parseChallenges, pickChallenge } from '../auth/challenge.js';
import { registryErrorFrom } from './response.js';
import { HTTP_RETRY, type RetryPolicy, withRetry } from './retry.js';
import { DEFAULT_TIMEOUT_S, RequestDeadline, abortable } from './deadline.js';
import { redactUrl } from './location.js';
import { type Scheme, type SchemeChoice, schemeChoiceFor } from './insecure-fallback.js';
import { tlsFailure } from './tls-errors.js';
import type { PushBudget } from '../limits/push-budget.js';
import { type PullBudget, isManifestGet } from '../limits/pull-budget.js';
import { type RegistryWindows, type WindowSlot, requestAction } from '../limits/window-gate.js';
import { type ByteBucket, pacedBody, pacedChunks } from '../limits/bandwidth.js';

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
  /** One attempt only, even when replayable (best-effort cleanup such as cancelling a session, or a
   *  caller that retries the request together with reading its body). */
  once?: boolean;
  /**
   * A POST that may be sent again: opening an upload session or a mount. A lost answer at worst
   * leaves an unused session, which the registry purges; a mount is idempotent.
   */
  replayable?: boolean;
  /** A push request (upload POST/PUT, mount POST, manifest PUT): each send takes a push-rate token. */
  push?: boolean;
  /** The registry's bandwidth cap on this blob's bytes (`maxBytesPerSecond`, limits/bandwidth.ts). */
  pace?: ByteBucket;
}

export interface TransportOptions {
  /** host[:port] of the registry API endpoint. */
  host: string;
  /** HTTPS without certificate verification (the dispatcher's job), falling back to plain HTTP. */
  insecure?: boolean;
  credentials?: Credentials;
  dispatcher: Dispatcher;
  retry?: RetryPolicy;
  /** Seconds: the base of every request's overall deadline (see deadline.ts). */
  timeout?: number;
  logger?: Logger;
  /** Which token realms may receive the credentials (realm.ts); default: this host's domain over HTTPS. */
  realm?: RealmTrust;
  /** The tenant's push budget (SWR): every send of a `push` request waits for a rate token first. */
  pushBudget?: PushBudget;
  /** A source's pull budget (limits/pull-budget.ts): fed from every response's ratelimit headers. */
  rateBudget?: PullBudget;
  /** The registry's AIMD windows (limits/window-gate.ts): each request holds its action's until its body is done. */
  windows?: RegistryWindows;
}

const IDEMPOTENT = new Set<Method>(['GET', 'HEAD', 'PUT', 'DELETE']);

export class RegistryTransport {
  readonly host: string;
  readonly auth: HostAuth;
  readonly dispatcher: Dispatcher;
  readonly retry: RetryPolicy;
  /** Overall deadline base of a request, in ms (deadline.ts). */
  readonly timeoutMs: number;
  private readonly logger: Logger | undefined;
  private readonly httpsBase: URL;
  private readonly httpBase: URL;
  /** For an insecure registry: whether it speaks HTTPS or plain HTTP, learnt by the first request. */
  private readonly fallback: SchemeChoice | undefined;
  private readonly pushBudget: PushBudget | undefined;
  readonly rateBudget: PullBudget | undefined;
  readonly windows: RegistryWindows | undefined;
  /** Requests sent to the registry (token requests are counted by `auth`). */
  requests = 0;
  /**
   * Rewrites a 401/403 the registry itself answered into what it means on this kind of registry
   * (SWR: a push into a missing organization, lib/vendors/swr/refusal.ts); the transport stays generic.
   */
  explainRefusal?: (err: AuthError, req: { method: Method; repository?: string; type?: string }) => Error | undefined;
  /** Told the status of every response the registry sent (serve's per-registry metrics); must not throw. */
  onResponse?: (status: number) => void;

  constructor(opts: TransportOptions) {
    this.host = opts.host;
    this.httpsBase = new URL(`https://${opts.host}`);
    this.httpBase = new URL(`http://${opts.host}`);
    this.fallback = opts.insecure ? schemeChoiceFor(opts.dispatcher) : undefined;
    this.dispatcher = opts.dispatcher;
    this.auth = new HostAuth(opts.host, opts.dispatcher, opts.credentials, undefined, opts.realm ?? { hosts: [opts.host], insecure: opts.insecure });
    this.retry = opts.retry ?? HTTP_RETRY;
    this.timeoutMs = (opts.timeout ?? DEFAULT_TIMEOUT_S) * 1000;
    this.auth.timeoutMs = this.timeoutMs;
    this.logger = opts.logger;
    this.pushBudget = opts.pushBudget;
    this.rateBudget = opts.rateBudget;
    this.windows = opts.windows;
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
   * Send with auth and, for an idempotent method whose body can be sent again, retries with backoff
   * (the budget in retry.ts), as for the POSTs that open an upload session or mount (`replayable`).
   * A streamed body gets exactly one attempt here: the blob layer retries the whole transfer instead.
   */
  async send(req: SendRequest): Promise<Dispatcher.ResponseData> {
    if (req.once || !(IDEMPOTENT.has(req.method) || req.replayable) || !isReplayable(req.body)) return this.attempt(req);
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
        throw this.refusal(new AuthError(this.host, 401, insufficient), req);
      }
      if (res.statusCode === 403 && !req.expect.includes(403)) {
        const err = await registryErrorFrom(res, this.host, req.what);
        throw this.refusal(new AuthError(this.host, 403, err.registryCode ?? 'access denied'), req);
      }
      if (req.expect.includes(res.statusCode)) return res;
      throw await registryErrorFrom(res, this.host, req.what);
    }
  }

  private refusal(err: AuthError, req: SendRequest): Error {
    return this.explainRefusal?.(err, { method: req.method, repository: req.scope?.repository, type: req.scope?.type }) ?? err;
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
    // Every send counts against SWR's push requests/s, re-sends after a 401 or a busy answer too.
    // Waited for before the deadline starts: queueing for a token is not the registry being slow.
    if (req.push && this.pushBudget) await this.pushBudget.token(req.signal);
    // A body in memory stays one (it may be sent again): under a bandwidth cap its bytes are paid up front.
    if (req.pace && req.body instanceof Uint8Array) await req.pace.take(req.body.length, req.signal);
    // Room in the action's window, waited for before the deadline too; held until the body is done.
    const action = this.windows && url.host === this.host ? requestAction(req.method, url.pathname, url.search) : undefined;
    const slot = action ? await this.windows!.gate(action).acquire(req.signal) : undefined;
    try {
      return await this.sendHeld(url, req, headers, slot);
    } catch (err) {
      slot?.release(false);
      throw err;
    }
  }

  private async sendHeld(url: URL, req: SendRequest, headers: Record<string, string>, slot: WindowSlot | undefined): Promise<Dispatcher.ResponseData> {
    // A manifest GET past a pull budget the registry said is spent is not sent: it would only earn
    // a 429 (limits/pull-budget.ts). The image is left for later, or waits with --pace.
    const pull = this.rateBudget && isManifestGet(req.method, url.pathname) ? this.rateBudget : undefined;
    if (pull?.spent()) throw pull.spentError();
    this.requests++;
    pull?.countGet();
    this.logger?.trace({ method: req.method, url: redactUrl(url) }, 'request');
    const expired = (s: number) => new RequestTimeoutError(url.host, req.what, s);
    const deadline = new RequestDeadline(this.timeoutMs, expired, req.signal, declaredLength(headers['content-length']));
    // A streamed upload under a bandwidth cap: its waits move the deadline (they are ours, not the registry's).
    const body = req.pace && req.body && !(req.body instanceof Uint8Array) ? pacedChunks(req.body, req.pace, deadline) : req.body;
    let res: Dispatcher.ResponseData;
    try {
      res = await abortable(this.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method,
        headers,
        body: (body ?? null) as Dispatcher.DispatchOptions['body'],
        signal: deadline.signal,
        // undici closes the connection after every HEAD by default (undici #258: servers that send
        // a body anyway). Registries do not, and a no-op sync is mostly HEADs: keep them alive.
        ...(req.method === 'HEAD' ? { reset: false } : {}),
      }), deadline.signal);
    } catch (err) {
      deadline.clear();
      pull?.answered();
      // Our own errors (a digest mismatch raised by a streamed body, the deadline) pass through.
      if (err instanceof MigrateError) throw err;
      throw tlsFailure(url.host, err) ?? new NetworkError(url.host, networkReason(err), { cause: err });
    }
    this.onResponse?.(res.statusCode);
    // Docker Hub states its pull budget on manifest responses, HEADs and its 429 included. A 429
    // that leaves the budget spent ends the image's GETs (left for later); one that states no
    // budget, or one with some left, is a throttle: retried with backoff like a 503.
    if (this.rateBudget) {
      this.rateBudget.observe(res.headers);
      pull?.answered();
      // A spent budget is not congestion: the window is left as it is (and released by the caller).
      if (res.statusCode === 429 && this.rateBudget.spent()) {
        await res.body.dump();
        deadline.clear();
        throw this.rateBudget.spentError();
      }
    }
    // A throttle (429, or SWR's busy 503) cuts the window, once per epoch (limits/window.ts).
    const refused = res.statusCode === 429 || res.statusCode === 503;
    const cut = refused ? slot?.congested() : undefined;
    if (cut !== undefined) this.logger?.info({ host: this.host, status: res.statusCode, action: requestAction(req.method, url.pathname, url.search), window: cut }, 'registry throttled: fewer requests in flight');
    const done = (): void => {
      deadline.clear();
      slot?.release(!refused && res.statusCode < 500);
    };
    // A download's deadline grows with its size; it ends, and the request leaves its window, when
    // the body is read, dumped or destroyed.
    if (req.method !== 'HEAD') deadline.extend(declaredLength(res.headers['content-length']));
    if (res.body.destroyed) done();
    else res.body.once('close', done);
    return req.pace && req.method === 'GET' ? pacedBody(res, req.pace, deadline) : res;
  }
}

function withScheme(url: URL, scheme: Scheme): URL {
  if (url.protocol === scheme) return url;
  const out = new URL(url);
  out.protocol = scheme;
  return out;
}

function declaredLength(value: string | string[] | undefined): number | undefined {
  const n = Number(Array.isArray(value) ? value[0] : value);
  return value === undefined || !Number.isFinite(n) ? undefined : n;
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
      // OpenSSL's messages end in a newline: keep the error on one line.
      return proxy ? `the proxy refused the tunnel (HTTP ${proxy[1]})` : remoteText(message);
    }
  }
}
