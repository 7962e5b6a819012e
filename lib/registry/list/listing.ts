// Tag lists and the catalog (distribution spec, "Listing Tags" / "Catalog"), page by page. Entries are
// remote text that flows into references, logs, reports and queue messages, so anything that is not
// a valid tag or repository name (the spec's grammars) is dropped here rather than escaped later.
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { PaginationError, ProtocolError, errorMessage, UnsafeRedirectError } from '../../errors.js';
import { isValidTag } from '../../oci/reference.js';
import { remoteText } from '../../text.js';
import type { ScopeRequest } from '../auth/auth.js';
import { bodyError } from '../http/body.js';
import { PageGuard, linkRefusal, nextLink } from './link.js';
import { redactUrl } from '../http/location.js';
import { type NextStep, type PageKind, Pager, pageSizeOf } from './paging.js';
import { type RedirectPolicy, sendFollowing } from '../http/redirect.js';
import { MAX_LIST_BODY, readBodyLimited } from '../http/response.js';
import type { RegistryTransport } from '../http/transport.js';
import { withRetry } from '../http/retry.js';

/** Repository name grammar: path components joined by `/`, at most 255 characters in all. */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);

export interface ListingContext {
  transport: RegistryTransport;
  redirects: RedirectPolicy;
  logger: Logger | undefined;
}

export interface ListPage {
  kept: string[];
  /** Entries that were not strings or not valid names. */
  dropped: number;
  /** The first few of them, made printable, for the warning. */
  samples: string[];
}

/** Invalid entries named in the warning; the rest are only counted. */
const MAX_SAMPLES = 10;

export function isValidListEntry(field: 'tags' | 'repositories', value: unknown): value is string {
  if (typeof value !== 'string') return false;
  return field === 'tags' ? isValidTag(value) : value.length <= 255 && REPOSITORY.test(value);
}

/** Parse a page body. Throws SyntaxError for JSON that does not parse (a truncated body, usually). */
export function listEntries(body: Buffer, field: 'tags' | 'repositories', what: string): ListPage {
  const json = JSON.parse(body.toString('utf8')) as unknown;
  if (typeof json !== 'object' || json === null) throw new ProtocolError(`${what}: the answer is not a JSON object`);
  const list = (json as Record<string, unknown>)[field];
  // distribution answers `"tags": null` for a repository whose tags were all deleted.
  if (list == null) return { kept: [], dropped: 0, samples: [] };
  if (!Array.isArray(list)) throw new ProtocolError(`${what}: "${field}" is not a list`);
  const kept: string[] = [];
  const samples: string[] = [];
  for (const item of list) {
    if (isValidListEntry(field, item)) kept.push(item);
    else if (samples.length < MAX_SAMPLES) samples.push(remoteText(typeof item === 'string' ? item : JSON.stringify(item) ?? String(item), 80));
  }
  return { kept, dropped: list.length - kept.length, samples };
}

/**
 * Every entry of a paginated listing, or an error: pages follow `Link` (on the registry's origin, or
 * on the origin a redirect took the listing to) and, after a full page without Link, `last=` (the
 * decisions are paging.ts's). Each body is capped at 16 MiB, and the chain is cut at a loop, at
 * MAX_PAGES pages or at MAX_ENTRIES entries.
 */
export async function listAll(
  ctx: ListingContext,
  first: string,
  scope: ScopeRequest,
  field: 'tags' | 'repositories',
  what: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const { transport } = ctx;
  const host = transport.host;
  const start = transport.url(first);
  const guard = new PageGuard(host, what);
  const pager = new Pager(host, what);
  let dropped = 0;
  let samples: string[] = [];
  let req: PageRequest | undefined = { kind: 'first', url: start };
  while (req) {
    guard.visit(req.url);
    const { page, entries } = await fetchPage(ctx, req.url, scope, field, what, signal);
    // The unpaged answer replaces the pages before it, and so do its invalid entries.
    if (req.kind === 'unpaged') [dropped, samples] = [0, []];
    dropped += entries.dropped;
    for (const x of entries.samples) if (samples.length < MAX_SAMPLES) samples.push(x);
    const link = nextPage(page.res.headers.link, page.url, host, what);
    const next = pager.next({ kind: req.kind, n: pageSizeOf(req.url), last: req.last, entries: entries.kept, count: entries.kept.length + entries.dropped, hasLink: link !== undefined });
    req = nextRequest(next, link, page.url, start, transport);
    // An insecure registry may have turned out to speak plain HTTP since `start` was made.
    if (req) req.url = transport.url(req.url);
  }
  if (dropped) ctx.logger?.warn({ host, dropped, entries: samples }, `${what}: ignored ${dropped} entries that are not valid names`);
  return pager.result;
}

/**
 * One page, read and parsed: the request and its body are one attempt, so a body cut short (or
 * JSON that does not parse) is fetched again under the HTTP retry budget, like a 503. Each try
 * sends once, so the attempts do not multiply.
 */
async function fetchPage(
  ctx: ListingContext,
  url: URL,
  scope: ScopeRequest,
  field: 'tags' | 'repositories',
  what: string,
  signal?: AbortSignal,
): Promise<{ page: { res: Dispatcher.ResponseData; url: URL }; entries: ListPage }> {
  const { transport } = ctx;
  const host = transport.host;
  return withRetry(
    transport.retry,
    async () => {
      const page = await sendFollowing(transport, { method: 'GET', url, scope, expect: [200], what, signal, once: true }, ctx.redirects);
      const body = await readBodyLimited(page.res, MAX_LIST_BODY, what, host).catch((err: unknown) => {
        throw bodyError(err, host);
      });
      try {
        return { page, entries: listEntries(body, field, what) };
      } catch (err) {
        throw bodyError(err, host);
      }
    },
    (err, attempt, delayMs) => ctx.logger?.warn({ host, attempt, delayMs, err: errorMessage(err) }, `retrying ${what}`),
    signal,
  );
}

interface PageRequest {
  kind: PageKind;
  url: URL;
  last?: string;
}

function nextRequest(next: NextStep, link: URL | undefined, answered: URL, start: URL, transport: RegistryTransport): PageRequest | undefined {
  switch (next.step) {
    case 'done':
      return undefined;
    case 'link': {
      const reason = linkRefusal(transport.base, answered, link!);
      if (reason) throw new UnsafeRedirectError(transport.host, redactUrl(link!), `the Link header is ${reason}`);
      return { kind: 'link', url: link! };
    }
    // The spec's own paging and the unpaged retry go to the registry (which may redirect again).
    case 'last':
      return { kind: 'last', url: listingUrl(start, { n: String(next.n), last: next.last }), last: next.last };
    case 'unpaged':
      return { kind: 'unpaged', url: listingUrl(start, {}) };
    case 'probe':
      return { kind: 'probe', url: listingUrl(start, { n: '1' }) };
  }
}

/** The first page's URL with `n` and `last` replaced (`?n=1000&last=x`, the spec's order). */
function listingUrl(start: URL, params: Record<string, string>): URL {
  const url = new URL(start);
  url.searchParams.delete('n');
  url.searchParams.delete('last');
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

function nextPage(header: string | string[] | undefined, requestUrl: URL, host: string, what: string): URL | undefined {
  try {
    return nextLink(header, requestUrl);
  } catch {
    throw new PaginationError(host, what, 'unusable Link header');
  }
}
