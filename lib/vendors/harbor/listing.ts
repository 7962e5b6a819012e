// Harbor: `type: harbor` lists through Harbor's REST API, v2.0 on Harbor 2.x (here) or 1.10's v1
// (listing-v1.ts), whichever `GET /api/version` says (version.ts), asked once per lister.
// API v2.0: projects, their repositories (named `<project>/<repo>`) and artifacts with
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
import { HarborV1Lister } from './listing-v1.js';
import { type HarborApiVersion, harborApiVersion } from './version.js';

export interface HarborOptions {
  registry: string;
  /** Default https://<registry>. */
  endpoint?: string;
  credentials?: Credentials;
  dispatcher?: ApiOptions['dispatcher'];
  pageSize?: number;
}

/** Harbor 2.x (API v2.0). */
export class HarborV2Lister implements RepositoryLister {
  readonly tagDigests = true;
  readonly kind = 'harbor';

  constructor(private readonly api: ListingApi, private readonly size = 100) {}

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

/**
 * The `harbor` lister: asks `/api/version` on first use, then lists through v2.0 or 1.10's v1 API.
 * `tagDigests` holds until the answer says 1.10 (whose listing has no trustworthy digests,
 * listing-v1.ts): an exact rule that asks tagTimes before any listing then gets 1.10's tags with
 * push times and no digests, which the planner takes as the tag list with a HEAD per tag.
 */
export class HarborLister implements RepositoryLister {
  readonly kind = 'harbor';
  private readonly api: ListingApi;
  private readonly size: number;
  private readonly registry: string;
  private version?: Promise<HarborApiVersion>;
  private known?: HarborApiVersion;
  private chosen?: RepositoryLister;

  constructor(opts: HarborOptions) {
    this.size = opts.pageSize ?? 100;
    this.registry = opts.registry;
    const creds = opts.credentials;
    this.api = new ListingApi({
      endpoint: opts.endpoint ?? `https://${opts.registry}`,
      registry: opts.registry,
      dispatcher: opts.dispatcher,
      credentialHint: `username and password (a user or robot account) of registries.${opts.registry}`,
      authorization: creds ? async () => basicHeader(creds) : undefined,
    });
  }

  get tagDigests(): boolean {
    return this.known !== 'v1';
  }

  private async lister(signal?: AbortSignal): Promise<RepositoryLister> {
    // A failed probe is not kept: the next call asks again.
    this.version ??= harborApiVersion(this.api, signal).catch((err: unknown) => {
      this.version = undefined;
      throw err;
    });
    const v = await this.version;
    this.known = v;
    this.chosen ??= v === 'v1' ? new HarborV1Lister(this.api, this.registry, this.size) : new HarborV2Lister(this.api, this.size);
    return this.chosen;
  }

  async *repositories(namespace: string | undefined, signal?: AbortSignal): AsyncIterable<ListedRepository> {
    yield* (await this.lister(signal)).repositories(namespace, signal);
  }

  async tagTimes(repository: string, signal?: AbortSignal): Promise<ListedTag[]> {
    return (await this.lister(signal)).tagTimes!(repository, signal);
  }
}
