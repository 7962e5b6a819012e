// SWR as a source: it has no `_catalog`; the management API (AK/SK signed, lib/vendors/swr/management.ts)
// lists repositories by organization with offset/limit and `Content-Range`, and tags with `updated`.
import { isDigest } from '../../oci/digest.js';
import type { SwrAccess } from './config.js';
import { SwrManagementClient } from './management.js';
import { isValidListEntry } from '../../registry/list/listing.js';
import { MAX_ENTRIES } from '../../registry/list/link.js';
import { ListingError } from '../../errors.js';
import type { Dispatcher } from 'undici';
import type { ListedRepository, ListedTag, RepositoryLister } from '../../listing/types.js';

export interface SwrListerOptions {
  registry: string;
  swr: SwrAccess | undefined;
  /** Overrides the management endpoint (the entry's apiEndpoint). */
  endpoint?: string;
  dispatcher?: Dispatcher;
  pageSize?: number;
}

export class SwrLister implements RepositoryLister {
  readonly tagDigests = true;
  readonly kind = 'swr';
  private client: SwrManagementClient | undefined;
  private readonly size: number;

  constructor(private readonly opts: SwrListerOptions) {
    // The API serves up to 1,000 a page (REFERENCE.md section 2): one call for most repositories.
    this.size = opts.pageSize ?? 1000;
  }

  /** The management client; refused on first use (not when picked) when the entry lacks what it needs. */
  private get api(): SwrManagementClient {
    if (this.client) return this.client;
    const { opts } = this;
    const endpoint = opts.endpoint ?? opts.swr?.managementEndpoint;
    const keys = opts.swr?.keys;
    const where = `registries.${opts.registry}`;
    if (!endpoint) throw new ListingError(opts.registry, `no SWR management endpoint is known for this host: set managementEndpoint (or apiEndpoint) of ${where}`);
    if (!keys) throw new ListingError(opts.registry, `listing SWR needs the management API's keys: give accessKey and secretKey (with project) in ${where}`);
    return (this.client = new SwrManagementClient({ endpoint, auth: { kind: 'aksk', key: { ak: keys.accessKey, sk: keys.secretKey } }, ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}) }));
  }

  async *repositories(namespace: string | undefined, signal?: AbortSignal): AsyncIterable<ListedRepository> {
    const [org, ...rest] = namespace ? namespace.split('/') : [];
    const prefix = rest.length ? `${namespace}/` : '';
    let count = 0;
    for (let offset = 0, pages = 0; ; pages++) {
      signal?.throwIfAborted();
      if (pages > 10_000) throw new ListingError(this.opts.registry, 'more than 10000 pages of repositories');
      const page = await this.api.repoPage(org, offset, this.size);
      for (const r of page.repos) {
        const repository = `${r.namespace}/${r.name}`;
        if (!repository.startsWith(prefix) || !isValidListEntry('repositories', repository)) continue;
        if (++count > MAX_ENTRIES) throw new ListingError(this.opts.registry, `more than ${MAX_ENTRIES} repositories`);
        yield { repository };
      }
      offset += page.repos.length;
      // A short or empty page ends it even when Content-Range is missing or wrong.
      if (page.repos.length === 0 || offset >= page.total) return;
    }
  }

  /** Delete one tag (prune, pipeline/prune.ts): SWR deletes by tag, whatever other tags share its digest. */
  deleteTag(repository: string, tag: string): Promise<'deleted' | 'gone'> {
    const i = repository.indexOf('/');
    return this.api.tagDelete(repository.slice(0, i), repository.slice(i + 1), tag);
  }

  async tagTimes(repository: string, signal?: AbortSignal): Promise<ListedTag[]> {
    const i = repository.indexOf('/');
    const [org, repo] = [repository.slice(0, i), repository.slice(i + 1)];
    const out: ListedTag[] = [];
    for (let offset = 0, pages = 0; ; pages++) {
      signal?.throwIfAborted();
      if (pages > 10_000) throw new ListingError(this.opts.registry, `more than 10000 pages of tags in ${repository}`);
      const page = await this.api.tagPage(org, repo, offset, this.size);
      for (const t of page.tags) {
        if (typeof t?.Tag !== 'string' || !isValidListEntry('tags', t.Tag)) continue;
        const digest = typeof t.digest === 'string' && isDigest(t.digest) ? t.digest : undefined;
        out.push({ name: t.Tag, ...(typeof t.updated === 'string' ? { pushedAt: t.updated } : {}), ...(digest ? { digest } : {}) });
      }
      offset += page.tags.length;
      if (page.tags.length === 0 || offset >= page.total) return out;
    }
  }
}
