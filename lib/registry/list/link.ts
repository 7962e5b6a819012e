// Pagination of tag lists and the catalog: `Link: </v2/x/tags/list?last=a&n=100>; rel="next"`
// (distribution spec, "Listing Tags"; RFC 8288). The target may be relative or absolute: it is
// resolved against the URL that answered, which after a redirect is another origin's.
import { PaginationError } from '../../errors.js';

export function nextLink(header: string | string[] | undefined, requestUrl: URL): URL | undefined {
  if (!header) return undefined;
  const values = Array.isArray(header) ? header : [header];
  for (const value of values) {
    for (const part of value.split(/,(?=\s*<)/)) {
      const m = /<([^>]*)>\s*(.*)$/.exec(part.trim());
      if (!m) continue;
      const params = m[2] ?? '';
      if (/rel="?next"?/i.test(params)) return new URL(m[1] ?? '', requestUrl);
    }
  }
  return undefined;
}

/**
 * Why a Link target is refused, or undefined when it may be followed. Pure. A Link may stay on the
 * registry's origin or on the origin that answered the page: registry.k8s.io redirects tag lists to
 * Artifact Registry (us-west2-docker.pkg.dev), whose relative Links name its own origin, which the
 * redirect policy already accepted for this listing. The transport sends credentials only to the
 * registry's own origin. Anything else is a third party the registry may not send us to.
 */
export function linkRefusal(base: URL, answered: URL, target: URL): string | undefined {
  if (target.origin === base.origin || target.origin === answered.origin) return undefined;
  if ((base.protocol === 'https:' || answered.protocol === 'https:') && target.protocol === 'http:') return 'a downgrade from HTTPS to HTTP';
  const elsewhere = answered.origin === base.origin ? '' : ` nor on ${answered.origin}, which answered the page`;
  return `not on the registry's origin ${base.origin}${elsewhere}`;
}

/** Pages one listing may take: 10 000 pages of `n=1000` is ten million tags, far past any real repository. */
export const MAX_PAGES = 10_000;
/** Entries one listing may return in total, so an endless chain of new pages cannot fill memory. */
export const MAX_ENTRIES = 500_000;

/**
 * Guards one paginated listing against a hostile or broken registry: a `Link` that points back at a
 * page already read (a loop: distribution's spec has no end marker but a missing Link, so a loop
 * would never end), and chains longer than `maxPages`.
 */
export class PageGuard {
  private readonly seen = new Set<string>();

  constructor(
    private readonly host: string,
    private readonly what: string,
    private readonly maxPages = MAX_PAGES,
  ) {}

  get pages(): number {
    return this.seen.size;
  }

  /** Call before fetching each page. */
  visit(url: URL): void {
    // Without the scheme: an insecure registry's first page may be named https:// before it turns
    // out to speak plain HTTP, and its Links then come back as http:// (the same page).
    const key = url.host + url.pathname + url.search;
    if (this.seen.has(key)) {
      throw new PaginationError(this.host, this.what, `the Link header loops back to page ${[...this.seen].indexOf(key) + 1} after ${this.seen.size} pages`);
    }
    if (this.seen.size >= this.maxPages) throw new PaginationError(this.host, this.what, `more than ${this.maxPages} pages`);
    this.seen.add(key);
  }
}
