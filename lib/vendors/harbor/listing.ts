// Harbor (API v2.0): projects, their repositories (named `<project>/<repo>`) and artifacts with
// tags and push times. Pages by `page`/`page_size`, with `X-Total-Count` and a `Link` rel="next"
// (Harbor sends both; either ends the listing). A `/` in a repository name is encoded twice in the
// path (`a%252Fb`: Harbor's router decodes once before matching). Basic auth: user or robot account.
import { isDigest } from '../../oci/digest.js';
import type { Credentials } from '../../registry/auth/auth.js';
import { basicHeader } from '../../registry/auth/auth.js';
import { isValidListEntry } from '../../registry/list/listing.js';
import { MAX_ENTRIES, nextLink } from '../../registry/list/link.js';
import { ListingApi, str, type ApiOptions, type JsonPage } from '../../listing/http.js';
import type { ListedRepository, ListedTag, RepositoryLister } from '../../listing/types.js';

export interface HarborOptions {
  registry: string;
  /** Default https://<registry>. */
  endpoint?: string;
  credentials?: Credentials;
  dispatcher?: ApiOptions['dispatcher'];
  pageSize?: number;
}

export class HarborLister implements RepositoryLister {
  readonly tagDigests = true;
  readonly kind = 'harbor';
  private readonly api: ListingApi;
  private readonly size: number;

  constructor(opts: HarborOptions) {
    this.size = opts.pageSize ?? 100;
    const creds = opts.credentials;
    this.api = new ListingApi({
      endpoint: opts.endpoint ?? `https://${opts.registry}`,
      registry: opts.registry,
      dispatcher: opts.dispatcher,
      credentialHint: `username and password (a user or robot account) of registries.${opts.registry}`,
      authorization: creds ? async () => basicHeader(creds) : undefined,
    });
  }

  /** Every item of a paged collection. */
  private async *items(path: string, signal?: AbortSignal): AsyncGenerator<Record<string, unknown>> {
    const sep = path.includes('?') ? '&' : '?';
    const first = this.api.url(`${path}${sep}page=1&page_size=${this.size}`);
    let count = 0;
    for await (const page of this.api.pages(first, (p) => this.next(p, count), signal)) {
      if (!Array.isArray(page.json)) throw this.api.error(`${page.url.pathname} did not answer a list: check apiEndpoint (Harbor API v2.0)`);
      for (const item of page.json as unknown[]) {
        if (++count > MAX_ENTRIES) throw this.api.error(`more than ${MAX_ENTRIES} entries`);
        if (typeof item === 'object' && item !== null) yield item as Record<string, unknown>;
      }
    }
  }

  private next(p: JsonPage, seen: number): URL | undefined {
    let link: URL | undefined;
    try {
      link = nextLink(p.headers.link, p.url);
    } catch {
      throw this.api.error('unusable Link header');
    }
    if (link) return link;
    const total = Number(p.headers['x-total-count']);
    const n = Array.isArray(p.json) ? p.json.length : 0;
    // Without Link, the total says whether more follow; an empty page always ends.
    if (n === 0 || !Number.isFinite(total) || seen >= total) return undefined;
    const url = new URL(p.url);
    url.searchParams.set('page', String(Number(url.searchParams.get('page') ?? '1') + 1));
    return url;
  }

  async *repositories(namespace: string | undefined, signal?: AbortSignal): AsyncIterable<ListedRepository> {
    const projects: string[] = [];
    if (namespace) projects.push(namespace.split('/')[0]!);
    else for await (const p of this.items('/api/v2.0/projects', signal)) {
      const name = str(p.name);
      if (name) projects.push(name);
    }
    const prefix = namespace ? `${namespace}/` : '';
    for (const project of projects) {
      for await (const r of this.items(`/api/v2.0/projects/${encodeURIComponent(project)}/repositories`, signal)) {
        const repository = str(r.name);
        if (repository && repository.startsWith(prefix) && isValidListEntry('repositories', repository)) yield { repository };
      }
    }
  }

  async tagTimes(repository: string, signal?: AbortSignal): Promise<ListedTag[]> {
    const i = repository.indexOf('/');
    if (i < 0) throw this.api.error(`${repository} has no project: Harbor repositories are <project>/<repository>`);
    const project = repository.slice(0, i);
    const repo = encodeURIComponent(encodeURIComponent(repository.slice(i + 1)));
    const out: ListedTag[] = [];
    for await (const a of this.items(`/api/v2.0/projects/${encodeURIComponent(project)}/repositories/${repo}/artifacts?with_tag=true`, signal)) {
      const tags = Array.isArray(a.tags) ? (a.tags as unknown[]) : [];
      for (const t of tags) {
        const name = str((t as Record<string, unknown>)?.name);
        if (!name || !isValidListEntry('tags', name)) continue;
        const pushedAt = str((t as Record<string, unknown>).push_time) ?? str(a.push_time);
        const digest = str(a.digest);
        out.push({ name, ...(pushedAt ? { pushedAt } : {}), ...(digest && isDigest(digest) ? { digest } : {}) });
      }
    }
    return out;
  }
}
