// Quay (quay.io and Red Hat Quay): GET /api/v1/repository?namespace= pages by an opaque
// `next_page` token; tags by `page`/`limit` with `has_additional`, push time `start_ts` (epoch s).
// Auth: a Quay OAuth application token as Bearer (registry passwords are not accepted by the API).
import { isDigest } from '../../oci/digest.js';
import { isValidListEntry } from '../../registry/list/listing.js';
import { MAX_ENTRIES } from '../../registry/list/link.js';
import { ListingApi, listField, str, type ApiOptions } from '../../listing/http.js';
import type { ListedRepository, ListedTag, RepositoryLister } from '../../listing/types.js';

export interface QuayOptions {
  registry: string;
  /** Default https://<registry>. */
  endpoint?: string;
  apiToken?: string;
  dispatcher?: ApiOptions['dispatcher'];
  pageSize?: number;
}

export class QuayLister implements RepositoryLister {
  readonly tagDigests = true;
  readonly kind = 'quay';
  private readonly api: ListingApi;
  private readonly size: number;

  constructor(opts: QuayOptions) {
    this.size = opts.pageSize ?? 100;
    const token = opts.apiToken;
    this.api = new ListingApi({
      endpoint: opts.endpoint ?? `https://${opts.registry}`,
      registry: opts.registry,
      dispatcher: opts.dispatcher,
      credentialHint: `apiToken (a Quay OAuth token with repo:read) of registries.${opts.registry}`,
      authorization: token ? async () => `Bearer ${token}` : undefined,
    });
  }

  async *repositories(namespace: string | undefined, signal?: AbortSignal): AsyncIterable<ListedRepository> {
    if (!namespace) throw this.api.error('Quay cannot list the whole registry: name the namespace (quay.io/<organization or user>)');
    const [ns, ...rest] = namespace.split('/');
    const prefix = rest.length ? `${namespace}/` : '';
    const first = this.api.url(`/api/v1/repository?namespace=${encodeURIComponent(ns!)}`);
    const next = (p: { json: unknown; url: URL }) => {
      const token = str((p.json as Record<string, unknown> | null)?.next_page);
      if (!token) return undefined;
      const url = new URL(first);
      url.searchParams.set('next_page', token);
      return url;
    };
    let count = 0;
    for await (const page of this.api.pages(first, next, signal)) {
      for (const r of listField(this.api, page.json, 'repositories')) {
        const o = r as Record<string, unknown>;
        const repository = str(o?.name) && `${str(o.namespace) ?? ns}/${str(o.name)}`;
        if (!repository || !repository.startsWith(prefix) || !isValidListEntry('repositories', repository)) continue;
        if (++count > MAX_ENTRIES) throw this.api.error(`more than ${MAX_ENTRIES} repositories`);
        yield { repository };
      }
    }
  }

  async tagTimes(repository: string, signal?: AbortSignal): Promise<ListedTag[]> {
    const path = repository.split('/').map(encodeURIComponent).join('/');
    const at = (page: number) => this.api.url(`/api/v1/repository/${path}/tag/?onlyActiveTags=true&page=${page}&limit=${this.size}`);
    const out: ListedTag[] = [];
    let n = 1;
    for await (const page of this.api.pages(at(1), (p) => ((p.json as Record<string, unknown> | null)?.has_additional === true ? at(++n) : undefined), signal)) {
      for (const t of listField(this.api, page.json, 'tags')) {
        const o = t as Record<string, unknown>;
        const name = str(o?.name);
        if (!name || !isValidListEntry('tags', name)) continue;
        const ts = typeof o.start_ts === 'number' ? new Date(o.start_ts * 1000).toISOString() : undefined;
        const digest = str(o.manifest_digest);
        out.push({ name, ...(ts ? { pushedAt: ts } : {}), ...(digest && isDigest(digest) ? { digest } : {}) });
        if (out.length > MAX_ENTRIES) throw this.api.error(`more than ${MAX_ENTRIES} tags in ${repository}`);
      }
    }
    return out;
  }
}
