// JSON GETs against a listing API (Docker Hub, Harbor, Quay): capped bodies, one origin, typed
// refusals. Listing APIs are not registries: their answers are JSON documents behind their own
// auth, and a wrong endpoint typically answers a login page (HTML), which must say "wrong apiEndpoint"
// rather than fail as a JSON syntax error.
import { abortable } from '../registry/http/deadline.js';
import type { Dispatcher } from 'undici';
import { request } from '../registry/http/undici-agent.js';
import { ListingError, NetworkError, RegistryError, isRetryable } from '../errors.js';
import { PageGuard } from '../registry/list/link.js';
import { MAX_LIST_BODY, readBodyLimited } from '../registry/http/response.js';
import { HTTP_RETRY, withRetry, type RetryPolicy } from '../registry/http/retry.js';

/** Pages one listing may read: far above any real organization, low enough to end an endless `next`. */
export const MAX_LISTING_PAGES = 10_000;

export interface ApiOptions {
  /** The API origin, e.g. https://hub.docker.com; credentials go to this origin only. */
  endpoint: string;
  /** The registry the listing is for, named in messages. */
  registry: string;
  dispatcher?: Dispatcher;
  /** The Authorization header value, or undefined for anonymous requests. */
  authorization?: () => Promise<string | undefined>;
  /** What to check when the API refuses (401/403), e.g. "username and password of registries.docker.io". */
  credentialHint: string;
  retry?: RetryPolicy;
}

export interface JsonPage {
  json: unknown;
  headers: Dispatcher.ResponseData['headers'];
  url: URL;
}

export class ListingApi {
  readonly origin: string;
  constructor(private readonly opts: ApiOptions) {
    this.origin = new URL(opts.endpoint).origin;
  }

  url(path: string): URL {
    return new URL(path, this.origin);
  }

  /** GET a JSON document (retrying 429/5xx and network failures); refusals as ListingError. */
  async get(url: URL, signal?: AbortSignal, method: 'GET' | 'POST' = 'GET', body?: unknown): Promise<JsonPage> {
    // A `next` elsewhere would receive our token: refused, not followed without it (an anonymous
    // listing elsewhere would silently list something else).
    if (url.origin !== this.origin) throw this.error(`the API pointed to another origin (${url.origin}); refused`);
    return withRetry(this.opts.retry ?? HTTP_RETRY, () => this.once(url, method, body, signal), undefined, signal).catch((err: unknown) => {
      if (err instanceof RegistryError && isRetryable(err)) throw this.error(`the API answered ${err.status} repeatedly; try again later`, err.status);
      throw err;
    });
  }

  private async once(url: URL, method: 'GET' | 'POST', body: unknown, signal?: AbortSignal): Promise<JsonPage> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const auth = await this.opts.authorization?.();
    if (auth) headers.authorization = auth;
    let res: Dispatcher.ResponseData;
    try {
      const pending = request(url, {
        method, headers, signal,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
      });
      res = await (signal ? abortable(pending, signal) : pending);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new NetworkError(url.host, (err as Error).message, { cause: err });
    }
    const status = res.statusCode;
    if (status === 429 || status >= 500) {
      res.body.resume();
      throw new RegistryError(`${url.host} answered ${status}`, status, url.host);
    }
    if (status === 401 || status === 403) {
      res.body.resume();
      throw this.error(`the API refused the request (${status}): ${auth ? 'check' : 'it needs credentials: give'} the ${this.opts.credentialHint}`, status);
    }
    if (status === 404) {
      res.body.resume();
      throw this.error(`${url.pathname} was not found (404): check the namespace exists and is visible to these credentials, and apiEndpoint`, status);
    }
    if (status >= 300 && status < 400) {
      res.body.resume();
      throw this.error(`the API redirected (${status}); set apiEndpoint to the listing API's own URL`, status);
    }
    if (status !== 200 && status !== 201) {
      res.body.resume();
      throw this.error(`the API answered ${status}`, status);
    }
    const raw = (await readBodyLimited(res, MAX_LIST_BODY, 'listing', url.host)).toString('utf8');
    const type = String(res.headers['content-type'] ?? '');
    if (/html/i.test(type) || /^\s*</.test(raw)) {
      throw this.error(`the API answered HTML (a login or error page?), not JSON: check apiEndpoint (${this.origin})`, status);
    }
    try {
      return { json: JSON.parse(raw) as unknown, headers: res.headers, url };
    } catch {
      throw this.error(`the API answered something that is not JSON: check apiEndpoint (${this.origin})`, status);
    }
  }

  /** Pages from `first` on, while `next` gives another URL; loops and endless chains are cut. */
  async *pages(first: URL, next: (page: JsonPage) => URL | undefined, signal?: AbortSignal): AsyncGenerator<JsonPage> {
    const guard = new PageGuard(this.opts.registry, 'listing', MAX_LISTING_PAGES);
    for (let url: URL | undefined = first; url; ) {
      guard.visit(url);
      const page = await this.get(url, signal);
      yield page;
      url = next(page);
    }
  }

  error(message: string, status?: number): ListingError {
    return new ListingError(this.opts.registry, message, status);
  }
}

/** A field of an API answer that must be a list; an object without it is an unusable answer. */
export function listField(api: ListingApi, json: unknown, field: string): unknown[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw api.error('the answer is not a JSON object: check apiEndpoint');
  const v = (json as Record<string, unknown>)[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw api.error(`the answer's "${field}" is not a list: check apiEndpoint`);
  return v;
}

/** A URL from a `next` field (absolute or relative), or undefined at the end. */
export function nextUrl(api: ListingApi, value: unknown, base: URL): URL | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    return new URL(value, base);
  } catch {
    throw api.error('the answer\'s "next" is not a URL');
  }
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
