// Which listing API a registry speaks, from its config entry's `type` or from its host. Pure: no I/O.
import { detectSwr } from '../swr/detect.js';

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

const DOCKER_HUB = new Set(['docker.io', 'registry-1.docker.io', 'index.docker.io']);
// ECR private registries: <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn] (AWS "Private registry concepts").
const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

export function ecrHost(host: string): { account: string; region: string } | undefined {
  const m = ECR_HOST.exec(host.toLowerCase().replace(/:443$/, ''));
  return m ? { account: m[1]!, region: m[2]! } : undefined;
}

/** The listing type of `host`: the entry's `type` when given, else recognised hosts, else generic. */
export function listingTypeOf(host: string, type?: ListingType): ListingType {
  if (type) return type;
  const bare = host.toLowerCase();
  if (DOCKER_HUB.has(bare)) return 'dockerhub';
  if (bare === 'quay.io') return 'quay';
  if (ecrHost(bare)) return 'ecr';
  if (detectSwr(bare)) return 'swr';
  // Harbor has no recognisable host name: `type: harbor` says it.
  return 'generic';
}
