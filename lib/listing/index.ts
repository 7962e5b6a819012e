// Which lister a registry gets: by the registry entry's `type`, else by its host, else the generic
// `_catalog` one.
import type { ClientPool } from '../registry/pool.js';
import { CatalogLister } from './generic.js';
import type { RepositoryLister } from './types.js';

export function listerFor(pool: ClientPool, registry: string): RepositoryLister {
  return new CatalogLister(pool.client(registry, '', 'source'));
}
