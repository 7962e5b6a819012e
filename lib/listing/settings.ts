// Which listing API a registry speaks, from its config entry's `type` or from its host. Pure: no I/O.
// The hosts each vendor is known by live in its folder (lib/vendors/<vendor>/detect.ts).
import { isDockerHub } from '../vendors/dockerhub/detect.js';
import { ecrHost } from '../vendors/ecr/detect.js';
import { isQuayIo } from '../vendors/quay/detect.js';
import { detectSwr } from '../vendors/swr/detect.js';

export const LISTING_TYPES = ['generic', 'dockerhub', 'harbor', 'quay', 'ecr', 'swr'] as const;
export type ListingType = (typeof LISTING_TYPES)[number];

/** The listing fields of a registry entry (lib/config/native.ts): where the API is and its token. */
export interface ListingSettings {
  type?: ListingType;
  /** The listing API's origin, when not the default (Docker Hub: https://hub.docker.com; others: https://<host>). */
  apiEndpoint?: string;
  /** Quay OAuth token, or a Docker Hub PAT that differs from the registry password. Never logged. */
  apiToken?: string;
}

/** The listing type of `host`: the entry's `type` when given, else recognised hosts, else generic. */
export function listingTypeOf(host: string, type?: ListingType): ListingType {
  if (type) return type;
  const bare = host.toLowerCase();
  if (isDockerHub(bare)) return 'dockerhub';
  if (isQuayIo(bare)) return 'quay';
  if (ecrHost(bare)) return 'ecr';
  if (detectSwr(bare)) return 'swr';
  // Harbor has no recognisable host name: `type: harbor` says it.
  return 'generic';
}
