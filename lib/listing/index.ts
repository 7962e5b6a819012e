// Which lister a registry gets: by the registry entry's `type`, else by its host (Docker Hub,
// quay.io, ECR, SWR hosts), else the generic `_catalog` one. Harbor cannot be told by its host:
// it needs `type: harbor`.
import type { ClientPool } from '../registry/pool.js';
import { registryEndpointHost } from '../oci/reference.js';
import { CatalogLister } from './generic.js';
import { DockerHubLister } from './dockerhub.js';
import { EcrLister } from './ecr.js';
import { HarborLister } from './harbor.js';
import { QuayLister } from './quay.js';
import { listingTypeOf } from './settings.js';
import { SwrLister } from './swr.js';
import type { ListedTag, RepositoryLister } from './types.js';

export { LISTING_TYPES, listingTypeOf, type ListingSettings, type ListingType } from './settings.js';

/** Page sizes for tests (small pages exercise pagination); the APIs' own maxima otherwise. */
export interface ListerOptions {
  pageSize?: number;
}

export function listerFor(pool: ClientPool, registry: string, opts: ListerOptions = {}): RepositoryLister {
  const access = pool.access(registry, '');
  const listing = access.listing ?? {};
  const type = listingTypeOf(registry, listing.type);
  const endpoint = listing.apiEndpoint;
  const base = { registry, ...(endpoint ? { endpoint } : {}), ...(opts.pageSize ? { pageSize: opts.pageSize } : {}) };
  // The listing APIs go through the registry's dispatcher: its TLS settings, proxies and link-local guard.
  const dispatcher = () => pool.apiDispatcher(registry);
  switch (type) {
    case 'dockerhub':
      return new DockerHubLister({ ...base, dispatcher: dispatcher(), credentials: access.credentials, ...(listing.apiToken ? { apiToken: listing.apiToken } : {}) });
    case 'harbor':
      return new HarborLister({ ...base, endpoint: endpoint ?? `https://${registryEndpointHost(registry)}`, dispatcher: dispatcher(), credentials: access.credentials });
    case 'quay':
      return new QuayLister({ ...base, dispatcher: dispatcher(), ...(listing.apiToken ? { apiToken: listing.apiToken } : {}) });
    case 'ecr':
      return new EcrLister(base);
    case 'swr':
      return new SwrLister({ ...base, swr: access.swr, dispatcher: dispatcher() });
    default:
      return new CatalogLister(pool.client(registry, '', 'source'));
  }
}

/**
 * A destination's own tag listing with digests, where it has one (SWR's management API,
 * listing/swr.ts): read once per repository instead of its tag list and a HEAD per tag.
 */
export function destinationTagsFor(pool: ClientPool, registry: string): { destinationTags?: (repository: string, signal?: AbortSignal) => Promise<ListedTag[]> } {
  const lister = listerFor(pool, registry);
  return lister.kind === 'swr' && lister.tagTimes ? { destinationTags: (repository, signal) => lister.tagTimes!(repository, signal) } : {};
}
