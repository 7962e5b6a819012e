// What to fetch after each page of a tag list or the catalog (issue 13, item 2). Pure: listing.ts does
// the requests, this decides. The OCI distribution spec ("Listing Tags") lets a registry answer `n=`
// with exactly `n` entries and no `Link`: the client then asks again with `last=<last entry>`. So a full
// page without `Link` is not the end, and stopping there silently lost 205 of 1,205 tags. Registries
// get this wrong in several ways (REFERENCE.md section 7), and each must end in either the whole list
// or an error, never a partial list taken as complete:
//   - distribution 2.8 ignores `n` and `last` (everything, unsorted, in one page): more than `n` is the end;
//   - go-containerregistry's catalog ignores `last` (the first page again): one request without `n` and
//     `last` gets everything; if even that is no longer than a page, one more request with `n=1` tells
//     a registry that ignores `n` too (distribution 2.8 with exactly 1,000 tags: its answers are whole
//     lists) from one that caps every answer (the rest cannot be listed);
//   - pages that repeat entries already listed (an off-by-one `last`, a `last` or Link that goes
//     backwards) are inconsistent: what else they skip or repeat cannot be known.
import { PaginationError } from '../../errors.js';
import { MAX_ENTRIES } from './link.js';

/** How the request for a page was made. */
export type PageKind = 'first' | 'link' | 'last' | 'unpaged' | 'probe';

export interface PageRead {
  kind: PageKind;
  /** The `n` of the request that got this page, when it had one. */
  n: number | undefined;
  /** The `last` this client sent (kind 'last'). */
  last?: string;
  /** Valid entries, in the registry's order. */
  entries: readonly string[];
  /** Entries as the registry sent them, valid or not: what makes a page full. */
  count: number;
  /** Whether the page carried a `Link: <..>; rel="next"`. */
  hasLink: boolean;
}

export type NextStep =
  | { step: 'done' }
  | { step: 'link' }
  | { step: 'last'; last: string; n: number }
  | { step: 'unpaged' }
  /** Ask with `n=1`: does the registry honour `n` at all? */
  | { step: 'probe' };

/** The `n` a listing URL asks for, when it asks for one. */
export function pageSizeOf(url: URL): number | undefined {
  const n = Number(url.searchParams.get('n') ?? NaN);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** Collects the entries of one listing and decides, page by page, what to ask next. Throws PaginationError. */
export class Pager {
  private entries: string[] = [];
  private seen = new Set<string>();
  private pages = 0;
  /** The `n` of the page that showed the registry ignores `last` (set once the unpaged request is due). */
  private ignoredLastAt: number | undefined;
  /** The unpaged answer, held while the `n=1` probe says whether it is the whole list. */
  private held: string[] | undefined;

  constructor(
    private readonly host: string,
    private readonly what: string,
    private readonly maxEntries = MAX_ENTRIES,
  ) {}

  /** Every entry listed, in the registry's order, once `next` said 'done'. */
  get result(): string[] {
    return this.entries;
  }

  next(page: PageRead): NextStep {
    this.pages++;
    // A page naming an entry twice repeats nothing from another page: keep the first.
    const distinct = [...new Set(page.entries)];
    if (page.kind === 'unpaged') return this.unpaged(page, distinct);
    if (page.kind === 'probe') return this.probed(page);
    const fresh = distinct.filter((e) => !this.seen.has(e));
    if (page.kind === 'last' && distinct.length > 0 && !fresh.some((e) => e > page.last!)) {
      // The same page again, or nothing after `last`: the registry ignores `last`. (ggcr answers a
      // `last` past the final tag with the first page too: the unpaged answer sorts that out.)
      if (this.ignoredLastAt !== undefined) throw this.fail(`page ${this.pages} does not move past "${page.last}"`);
      this.ignoredLastAt = page.n;
      return { step: 'unpaged' };
    }
    const repeated = distinct.length - fresh.length;
    if (repeated) {
      const first = distinct.find((e) => this.seen.has(e));
      throw this.fail(`page ${this.pages} repeats ${repeated} entr${repeated === 1 ? 'y' : 'ies'} of earlier pages ("${first}"): the registry pages inconsistently`);
    }
    this.add(fresh);
    if (page.hasLink) return { step: 'link' };
    if (page.n !== undefined && page.count === page.n) {
      // A full page without Link: the spec's client continues after the last entry.
      if (this.ignoredLastAt !== undefined) throw this.fail(`page ${this.pages} is full (${page.n} entries) and has no Link, but the registry ignores "last"`);
      const last = page.entries.at(-1);
      if (last === undefined) throw this.fail(`page ${this.pages} is full (${page.n} entries) but holds no valid name to continue after`);
      return { step: 'last', last, n: page.n };
    }
    return { step: 'done' };
  }

  /** The one answer without `n` and `last`, after the registry ignored `last`: it replaces the pages so far. */
  private unpaged(page: PageRead, distinct: string[]): NextStep {
    const n = this.ignoredLastAt;
    if (!page.hasLink) {
      if (distinct.length < this.seen.size) {
        throw this.fail(`the registry ignores "last" and its answer without "n" holds ${distinct.length} entries, fewer than the ${this.seen.size} already listed`);
      }
      if (n !== undefined && page.count <= n) {
        // As long as a page: complete only if the registry ignores `n` as well (then every answer
        // of it is the whole list). One request with n=1 tells.
        this.held = distinct;
        return { step: 'probe' };
      }
    }
    this.entries = [];
    this.seen = new Set();
    this.add(distinct);
    return page.hasLink ? { step: 'link' } : { step: 'done' };
  }

  /** The `n=1` answer: more than one entry means `n` is ignored, so the held unpaged answer is whole. */
  private probed(page: PageRead): NextStep {
    const held = this.held;
    const n = this.ignoredLastAt;
    if (held === undefined || page.count <= 1 || page.hasLink) {
      throw this.fail(`the registry ignores "last" and its answer without "n" still holds only ${held?.length ?? page.count} entries (a page of ${n}): the rest cannot be listed`);
    }
    this.held = undefined;
    this.entries = [];
    this.seen = new Set();
    this.add(held);
    return { step: 'done' };
  }

  private add(entries: readonly string[]): void {
    for (const e of entries) {
      this.seen.add(e);
      this.entries.push(e);
    }
    if (this.entries.length > this.maxEntries) throw this.fail(`more than ${this.maxEntries} entries`);
  }

  private fail(reason: string): PaginationError {
    return new PaginationError(this.host, this.what, reason);
  }
}
