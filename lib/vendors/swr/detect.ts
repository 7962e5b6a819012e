// Which registries are Huawei Cloud SWR, and where their management API lives. Pure: no I/O.
// Hosts: `swr.<region>.myhuaweicloud.com` (and `.eu` for the EU sovereign cloud); the management API
// is `swr-api.<region>.myhuaweicloud.com` (huaweicloud-sdk-go-v3 services/swr/v2/region).

export type SwrEdition = 'basic' | 'enterprise';

/** The config fields that say something about SWR (lib/config/native.ts registry entry). */
export interface SwrHints {
  /** The entry's `type` (lib/listing/settings.ts LISTING_TYPES): only `swr` makes it SWR, any other opts out. */
  type?: string;
  edition?: SwrEdition;
  project?: string;
  managementEndpoint?: string;
}

export interface SwrTarget {
  /** Region id, e.g. `cn-north-4`; undefined when the host does not say (a `type: swr` custom host). */
  region?: string;
  edition: SwrEdition;
  /** Basic rejects OCI indexes and manifests (REFERENCE §2): convert to Docker media types. EE accepts OCI. */
  convertToDocker: boolean;
  /** `https://swr-api.<region>...`, or the configured override; undefined when neither is known. */
  managementEndpoint?: string;
  /** IAM project name used in the login `<project>@<AK>`; defaults to the region id. */
  project?: string;
}

const HOST = /^swr\.([a-z]{2}(?:-[a-z]+)+-\d+)\.myhuaweicloud\.(com|eu)$/;

/** `swr.cn-north-4.myhuaweicloud.com[:443]` -> `{ region: 'cn-north-4', tld: 'com' }`. */
export function swrHostRegion(host: string): { region: string; tld: 'com' | 'eu' } | undefined {
  const bare = host.toLowerCase().replace(/:443$/, '');
  const m = HOST.exec(bare);
  return m ? { region: m[1]!, tld: m[2] as 'com' | 'eu' } : undefined;
}

/** The management API origin for a region (the EU cloud has one region, eu-west-101). */
export function swrManagementEndpoint(region: string, tld: 'com' | 'eu' = region === 'eu-west-101' ? 'eu' : 'com'): string {
  return `https://swr-api.${region}.myhuaweicloud.${tld}`;
}

/**
 * SWR when the host is an SWR host or the entry says `type: swr`; `type: generic` opts a look-alike
 * host out. Returns undefined for a non-SWR registry.
 */
export function detectSwr(host: string, hints: SwrHints = {}): SwrTarget | undefined {
  if (hints.type !== undefined && hints.type !== 'swr') return undefined;
  const parsed = swrHostRegion(host);
  if (!parsed && hints.type !== 'swr') return undefined;
  const edition = hints.edition ?? 'basic';
  const region = parsed?.region;
  const managementEndpoint = hints.managementEndpoint ?? (parsed ? swrManagementEndpoint(parsed.region, parsed.tld) : undefined);
  const project = hints.project ?? region;
  return {
    edition,
    convertToDocker: edition === 'basic',
    ...(region !== undefined ? { region } : {}),
    ...(managementEndpoint !== undefined ? { managementEndpoint } : {}),
    ...(project !== undefined ? { project } : {}),
  };
}
