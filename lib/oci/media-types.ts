// Media types of the OCI image spec (media-types.md) and Docker's image manifest v2 schema 2
// (distribution docs/spec/manifest-v2-2.md), which SWR still requires for pushes.

export const MediaType = {
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  DOCKER_MANIFEST_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_SCHEMA1: 'application/vnd.docker.distribution.manifest.v1+json',
  DOCKER_SCHEMA1_SIGNED: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  OCI_LAYER_TAR: 'application/vnd.oci.image.layer.v1.tar',
  OCI_LAYER_GZIP: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_LAYER_ZSTD: 'application/vnd.oci.image.layer.v1.tar+zstd',
  DOCKER_LAYER_GZIP: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DOCKER_FOREIGN_LAYER: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  /** OCI image-spec 1.1 manifest.md "Guidance for an Empty Descriptor": the `{}` config of artifacts. */
  OCI_EMPTY: 'application/vnd.oci.empty.v1+json',
} as const;
export type MediaTypeValue = (typeof MediaType)[keyof typeof MediaType];

/**
 * The Accept header for manifest GET/HEAD. All four schema-2/OCI types are listed because a
 * registry that finds none of the types it holds in Accept down-converts to schema 1 (old
 * distribution) or answers 404 (many others), and schema 1 we refuse.
 */
export const MANIFEST_ACCEPT: string = [
  MediaType.OCI_INDEX,
  MediaType.OCI_MANIFEST,
  MediaType.DOCKER_MANIFEST_LIST,
  MediaType.DOCKER_MANIFEST,
].join(', ');

/**
 * The media type part of a Content-Type: parameters dropped (`; charset=utf-8`, which some
 * proxies add) and lowercased, since RFC 9110 8.3.1 makes type and subtype case-insensitive.
 */
export function baseMediaType(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon >= 0 ? contentType.slice(0, semicolon) : contentType).trim().toLowerCase();
}

// The predicates accept a raw Content-Type as well as a bare media type.
export function isIndexMediaType(mt: string): boolean {
  const m = baseMediaType(mt);
  return m === MediaType.OCI_INDEX || m === MediaType.DOCKER_MANIFEST_LIST;
}

export function isImageManifestMediaType(mt: string): boolean {
  const m = baseMediaType(mt);
  return m === MediaType.OCI_MANIFEST || m === MediaType.DOCKER_MANIFEST;
}

export function isSchema1MediaType(mt: string): boolean {
  const m = baseMediaType(mt);
  return m === MediaType.DOCKER_SCHEMA1 || m === MediaType.DOCKER_SCHEMA1_SIGNED;
}

/** Any manifest type we can copy: an index/list or an image manifest. */
export function isManifestMediaType(mt: string): boolean {
  return isIndexMediaType(mt) || isImageManifestMediaType(mt);
}
