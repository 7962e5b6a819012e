// Which lister a registry gets: by the registry entry's `type`, else by its host (Docker Hub,
// quay.io, ECR, SWR hosts), else the generic `_catalog` one. Harbor cannot be told by its host:
// it needs `type: harbor`. Each vendor's lister lives in its folder (lib/vendors/index.ts).
import type { ClientPool } from '../registry/pool.js';
import { VENDOR_LISTERS } from '../vendors/index.js';
import { CatalogLister } from './generic.js';
import { listingTypeOf } from './settings.js';
import type { ListedTag, RepositoryLister } from './types.js';

export { LISTING_TYPES, listingTypeOf, type ListingSettings, type ListingType } from './settings.js';

/** Page sizes for tests (small pages exercise pagination); the APIs' own maxima otherwise. */
export interface ListerOptions {
  pageSize?: number;
}

export function listerFor(pool: ClientPool, registry: string, opts: ListerOptions = {}): RepositoryLister {
  const access = pool.access(registry, '');
  const type = listingTypeOf(registry, access.listing?.type);
  if (type === 'generic') return new CatalogLister(pool.client(registry, '', 'source'));
  const endpoint = access.listing?.apiEndpoint;
  // The listing APIs go through the registry's dispatcher: its TLS settings, proxies and link-local guard.
  return VENDOR_LISTERS[type]({ registry, access, ...(endpoint ? { endpoint } : {}), ...(opts.pageSize ? { pageSize: opts.pageSize } : {}), dispatcher: () => pool.apiDispatcher(registry) });
}

/**
 * A destination's own tag listing with digests, where it has one (SWR's management API,
 * vendors/swr/listing.ts): read once per repository instead of its tag list and a HEAD per tag.
 */
export function destinationTagsFor(pool: ClientPool, registry: string): { destinationTags?: (repository: string, signal?: AbortSignal) => Promise<ListedTag[]> } {
  const lister = listerFor(pool, registry);
  return lister.kind === 'swr' && lister.tagTimes ? { destinationTags: (repository, signal) => lister.tagTimes!(repository, signal) } : {};
}

/** A destination's own tag deletion, where it has one (SWR: by tag name); undefined: delete by digest (pipeline/prune.ts). */
export function destinationTagDeleterFor(pool: ClientPool, registry: string): ((repository: string, tag: string) => Promise<'deleted' | 'gone'>) | undefined {
  const lister = listerFor(pool, registry);
  return lister.kind === 'swr' && lister.deleteTag ? (repository, tag) => lister.deleteTag!(repository, tag) : undefined;
}
