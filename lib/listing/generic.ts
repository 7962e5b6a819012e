// The generic lister: distribution's `_catalog` with `Link` pagination (distribution, Zot, GitLab),
// through the registry client, so auth, caps and loop guards are the client's (registry/list/listing.ts).
import type { RegistryClient } from '../registry/types.js';
import type { ListedRepository, RepositoryLister } from './types.js';

export class CatalogLister implements RepositoryLister {
  readonly kind = 'generic';
  constructor(private readonly client: RegistryClient) {}

  async *repositories(namespace: string | undefined, signal?: AbortSignal): AsyncIterable<ListedRepository> {
    const prefix = namespace ? `${namespace}/` : '';
    // The client reads every page (bounded by its page and entry caps) before returning.
    for (const repository of await this.client.catalog(signal)) {
      if (repository.startsWith(prefix)) yield { repository };
    }
  }
}
