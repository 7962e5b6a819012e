// Harbor 1.10's REST API (`/api`, REFERENCE.md section 9): projects, their repositories (by
// project_id; `name` is `<project>/<repo>`) and a repository's tags. Pages by `page`/`page_size`
// (1.10: default 10, max 100) with `X-Total-Count` and `Link: </api/...?page=N>; rel="next"`, a path
// without scheme or host (src/common/api/base.go SetPaginationHeader), resolved against the page
// that carried it. Basic auth: a user (robot accounts are project-scoped in 1.10).
//
// No tag digests (tagDigests stays off for 1.10): `tags?detail=false` carries names only (the
// `simpleTags` answer), and with detail Harbor fills `digest` from a manifest GET that accepts Docker
// schema 2 only; distribution answers that, for a manifest list, with its linux/amd64 image (and
// for OCI content with an error, leaving `digest` empty). A copy pinned to that digest would put one
// platform where the source tag holds several, so 1.10 sources are read tag by tag (one HEAD each).
import { PaginationError } from '../../errors.js';
import { isValidListEntry } from '../../registry/list/listing.js';
import { MAX_ENTRIES, nextLink } from '../../registry/list/link.js';
import { type JsonPage, type ListingApi, str } from '../../listing/http.js';
import type { ListedRepository, ListedTag, RepositoryLister } from '../../listing/types.js';

/** Harbor 1.10's largest page_size. */
export const HARBOR_V1_MAX_PAGE = 100;

const pageNumber = (url: URL): number => Number(url.searchParams.get('page') ?? '1');

export class HarborV1Lister implements RepositoryLister {
  readonly kind = 'harbor';
  private readonly size: number;

  constructor(private readonly api: ListingApi, private readonly registry: string, pageSize = HARBOR_V1_MAX_PAGE) {
    this.size = Math.min(pageSize, HARBOR_V1_MAX_PAGE);
  }

  /** Every item of a paged collection, in the order the pages give them. */
  private async *items(path: string, signal?: AbortSignal): AsyncGenerator<Record<string, unknown>> {
    const sep = path.includes('?') ? '&' : '?';
    const first = this.api.url(`${path}${sep}page=1&page_size=${this.size}`);
    let count = 0;
    for await (const page of this.api.pages(first, (p) => this.next(p, count), signal)) {
      if (!Array.isArray(page.json)) throw this.api.error(`${page.url.pathname} did not answer a list: check apiEndpoint (Harbor 1.10 API)`);
      for (const item of page.json as unknown[]) {
        if (++count > MAX_ENTRIES) throw this.api.error(`more than ${MAX_ENTRIES} entries`);
        if (typeof item === 'object' && item !== null) yield item as Record<string, unknown>;
      }
    }
  }

  /** The next page: the Link's, while the pages read so far hold fewer than X-Total-Count items. */
  private next(p: JsonPage, seen: number): URL | undefined {
    const total = Number(p.headers['x-total-count']);
    const n = Array.isArray(p.json) ? p.json.length : 0;
    // The total bounds the listing: a Link past it (a count that shrank, a server that never stops) is not followed.
    if (n === 0 || (p.headers['x-total-count'] !== undefined && Number.isFinite(total) && seen >= total)) return undefined;
    let link: URL | undefined;
    try {
      link = nextLink(p.headers.link, p.url);
    } catch {
      throw this.api.error('unusable Link header');
    }
    if (!link) return undefined;
    // Harbor also sends rel="prev"; a "next" that does not move forward would read pages twice or forever.
    const [from, to] = [pageNumber(p.url), pageNumber(link)];
    if (Number.isFinite(from) && Number.isFinite(to) && to <= from) {
      throw new PaginationError(this.registry, 'listing', `the Link header goes back from page ${from} to page ${to}`);
    }
    return link;
  }

  /** The projects to list: the namespace's (found by name: 1.10 lists repositories by project_id), or all. */
  private async projects(namespace: string | undefined, signal?: AbortSignal): Promise<number[]> {
    const want = namespace?.split('/')[0];
    const ids: number[] = [];
    // `name` filters by substring in 1.10: the exact name is picked out here.
    const path = want ? `/api/projects?name=${encodeURIComponent(want)}` : '/api/projects';
    for await (const p of this.items(path, signal)) {
      if (typeof p.project_id === 'number' && (!want || str(p.name) === want)) ids.push(p.project_id);
    }
    if (want && !ids.length) throw this.api.error(`project ${want} was not found (404): check the namespace exists and is visible to these credentials, and apiEndpoint`, 404);
    return ids;
  }

  async *repositories(namespace: string | undefined, signal?: AbortSignal): AsyncIterable<ListedRepository> {
    const prefix = namespace ? `${namespace}/` : '';
    for (const id of await this.projects(namespace, signal)) {
      for await (const r of this.items(`/api/repositories?project_id=${id}`, signal)) {
        const repository = str(r.name);
        if (repository && repository.startsWith(prefix) && isValidListEntry('repositories', repository)) yield { repository };
      }
    }
  }

  /**
   * Tags with push times (Harbor's artifact records, `push_time`), one unpaginated call. Only the
   * detailed answer has them, and Harbor builds it from each tag's manifest and config: slow on a
   * large repository, so it is asked only where push times are wanted (or, for an exact rule,
   * before the version is known: lib/vendors/harbor/listing.ts).
   */
  async tagTimes(repository: string, signal?: AbortSignal): Promise<ListedTag[]> {
    if (!repository.includes('/')) throw this.api.error(`${repository} has no project: Harbor repositories are <project>/<repository>`);
    // The repository path goes as it is, segment by segment: 1.10's router matches it as a splat.
    const path = `/api/repositories/${repository.split('/').map(encodeURIComponent).join('/')}/tags?detail=true`;
    const { json, url } = await this.api.get(this.api.url(path), signal);
    if (!Array.isArray(json)) throw this.api.error(`${url.pathname} did not answer a list: check apiEndpoint (Harbor 1.10 API)`);
    if (json.length > MAX_ENTRIES) throw this.api.error(`more than ${MAX_ENTRIES} entries`);
    const out: ListedTag[] = [];
    for (const t of json as unknown[]) {
      const name = str((t as Record<string, unknown> | null)?.name);
      if (!name || !isValidListEntry('tags', name)) continue;
      // Go's zero time ("0001-01-01T00:00:00Z") for a tag without an artifact record: no push time.
      const pushedAt = str((t as Record<string, unknown>).push_time);
      out.push({ name, ...(pushedAt && Date.parse(pushedAt) > 0 ? { pushedAt } : {}) });
    }
    return out;
  }
}
