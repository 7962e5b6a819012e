// The registration list of registry vendors: what each one's folder provides. Adding a vendor is
// its folder plus one line here (and, for a listing API, its name in listing/settings.ts).
// Detection by host is in each folder's detect.ts (listing/settings.ts asks them in order); webhook
// senders are listed in webhooks.ts (kept apart: the receiver function bundles no registry client).
import type { Dispatcher } from 'undici';
import type { RegistryAccess } from '../registry/pool.js';
import { registryEndpointHost } from '../oci/reference.js';
import type { ListingType } from '../listing/settings.js';
import type { RepositoryLister } from '../listing/types.js';
import { DockerHubLister } from './dockerhub/listing.js';
import { EcrLister } from './ecr/listing.js';
import { HarborLister } from './harbor/listing.js';
import { QuayLister } from './quay/listing.js';
import { SwrLister } from './swr/listing.js';

/** What a vendor's lister is built from (listing/index.ts listerFor). */
export interface ListerContext {
  registry: string;
  access: RegistryAccess;
  /** The listing API's origin from the config, when given. */
  endpoint?: string;
  pageSize?: number;
  /** The registry's own dispatcher: its TLS settings, proxies and link-local guard. */
  dispatcher: () => Dispatcher;
}

type VendorType = Exclude<ListingType, 'generic'>;

const base = (c: ListerContext) => ({ registry: c.registry, ...(c.endpoint ? { endpoint: c.endpoint } : {}), ...(c.pageSize ? { pageSize: c.pageSize } : {}) });
const token = (c: ListerContext) => (c.access.listing?.apiToken ? { apiToken: c.access.listing.apiToken } : {});

export const VENDOR_LISTERS: Record<VendorType, (c: ListerContext) => RepositoryLister> = {
  dockerhub: (c) => new DockerHubLister({ ...base(c), dispatcher: c.dispatcher(), credentials: c.access.credentials, ...token(c) }),
  harbor: (c) => new HarborLister({ ...base(c), endpoint: c.endpoint ?? `https://${registryEndpointHost(c.registry)}`, dispatcher: c.dispatcher(), credentials: c.access.credentials }),
  quay: (c) => new QuayLister({ ...base(c), dispatcher: c.dispatcher(), ...token(c) }),
  ecr: (c) => new EcrLister(base(c)),
  swr: (c) => new SwrLister({ ...base(c), swr: c.access.swr, dispatcher: c.dispatcher() }),
};
