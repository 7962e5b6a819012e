// Manifest schemas: OCI image-spec (manifest.md, image-index.md, descriptor.md) and Docker image
// manifest v2 schema 2 (distribution docs/spec/manifest-v2-2.md). Parsing only tells us what to
// copy; the bytes are always pushed exactly as received (the registry keys manifests by the digest
// of those bytes), so objects are loose: unknown fields are legal in both specs and never lost.

import { z } from 'zod';
import { ManifestInvalidError, UnsupportedError } from '../errors.js';
import { digestProblem } from './digest.js';
import { MediaType, baseMediaType, isManifestMediaType, isSchema1MediaType } from './media-types.js';
import { remoteText } from '../text.js';

/** The OCI distribution spec requires registries to accept manifests of at least 4 MiB. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const digestSchema = z.string().superRefine((s, ctx) => {
  const problem = digestProblem(s);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `invalid digest "${s}": ${problem}` });
});

const annotationsSchema = z.record(z.string(), z.string());

export const platformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
});
export type Platform = z.infer<typeof platformSchema>;

export const descriptorSchema = z.looseObject({
  mediaType: z.string().min(1),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  // Foreign layers (Windows base images) carry download URLs instead of being pushable blobs.
  urls: z.array(z.string()).optional(),
  annotations: annotationsSchema.optional(),
  platform: platformSchema.optional(),
  artifactType: z.string().optional(),
  // Image-spec 1.1 embedded content (base64); informational only, the blob is still copied.
  data: z.string().optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

const schemaVersion2 = z.literal(2);

export const dockerManifestSchema = z.looseObject({
  schemaVersion: schemaVersion2,
  mediaType: z.literal(MediaType.DOCKER_MANIFEST),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});

export const dockerManifestListSchema = z.looseObject({
  schemaVersion: schemaVersion2,
  mediaType: z.literal(MediaType.DOCKER_MANIFEST_LIST),
  manifests: z.array(descriptorSchema),
});

// OCI makes `mediaType` optional (manifest.md: "SHOULD be used"); parseManifest resolves it first.
export const ociManifestSchema = z.looseObject({
  schemaVersion: schemaVersion2,
  mediaType: z.literal(MediaType.OCI_MANIFEST).optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotationsSchema.optional(),
});

export const ociIndexSchema = z.looseObject({
  schemaVersion: schemaVersion2,
  mediaType: z.literal(MediaType.OCI_INDEX).optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotationsSchema.optional(),
});

/** Every manifest we copy, discriminated by its (resolved, hence required) media type. */
export const manifestSchema = z.discriminatedUnion('mediaType', [
  dockerManifestSchema,
  dockerManifestListSchema,
  ociManifestSchema.extend({ mediaType: z.literal(MediaType.OCI_MANIFEST) }),
  ociIndexSchema.extend({ mediaType: z.literal(MediaType.OCI_INDEX) }),
]);

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[]; subject?: Descriptor; artifactType?: string }
  | { kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[]; subject?: Descriptor; artifactType?: string };

const SCHEMA1_REFUSAL =
  'manifest is Docker schema 1 (deprecated since 2017); swr-migrate copies schema 2 and OCI only: ' +
  're-push the image with a current client';

/**
 * Refuse schema 1 from the media type alone (a HEAD, or a GET before digest checks): a signed
 * schema 1 manifest's digest covers its payload without signatures, so it never matches its bytes.
 */
export function refuseSchema1(mediaType: string): void {
  if (isSchema1MediaType(mediaType)) throw new UnsupportedError(SCHEMA1_REFUSAL);
}

/** Content-Types that say nothing about the manifest kind, so the JSON structure decides. */
const GENERIC_CONTENT_TYPES = new Set(['', 'application/json', 'application/octet-stream', 'text/plain']);

/**
 * Parse and validate manifest bytes. `contentType` is the response's Content-Type, used only when
 * the JSON has no `mediaType` field (the field is authoritative: it is what the digest covers).
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new ManifestInvalidError(
      `manifest is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit registries must accept`,
    );
  }
  const json = decodeJson(bytes);
  const header = contentType === undefined ? '' : baseMediaType(contentType);
  if (json.schemaVersion === 1 || isSchema1MediaType(header)) throw new UnsupportedError(SCHEMA1_REFUSAL);

  // The media type and the path of a bad field (object keys) are remote text bound for messages.
  const mediaType = remoteText(resolveMediaType(json, header), 255);
  if (isSchema1MediaType(mediaType)) throw new UnsupportedError(SCHEMA1_REFUSAL);
  if (!isManifestMediaType(mediaType)) {
    throw new UnsupportedError(
      `unsupported manifest media type "${mediaType}"; swr-migrate copies OCI and Docker schema 2 images and indexes`,
    );
  }

  const result = manifestSchema.safeParse({ ...json, mediaType });
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue ? remoteText(formatPath(issue.path), 200) : '(root)';
    throw new ManifestInvalidError(`${mediaType} manifest is invalid at ${where}: ${issue?.message ?? 'unknown problem'}`);
  }
  const m = result.data;
  switch (m.mediaType) {
    case MediaType.DOCKER_MANIFEST_LIST:
      return { kind: 'index', mediaType, manifests: m.manifests };
    case MediaType.DOCKER_MANIFEST:
      return { kind: 'image', mediaType, config: m.config, layers: m.layers };
    case MediaType.OCI_INDEX:
      return withOciExtras({ kind: 'index', mediaType, manifests: m.manifests }, m);
    case MediaType.OCI_MANIFEST:
      return withOciExtras({ kind: 'image', mediaType, config: m.config, layers: m.layers }, m);
  }
}

/** `subject` and `artifactType` exist only in OCI 1.1 documents; omit them rather than set undefined. */
function withOciExtras<T extends ParsedManifest>(out: T, m: { subject?: Descriptor; artifactType?: string }): T {
  if (m.subject) out.subject = m.subject;
  if (m.artifactType !== undefined) out.artifactType = m.artifactType;
  return out;
}

/** The blobs an image manifest references (config first); an index references manifests, not blobs. */
export function blobDescriptors(m: ParsedManifest): Descriptor[] {
  return m.kind === 'image' ? [m.config, ...m.layers] : [];
}

/**
 * BuildKit attaches provenance/SBOM attestations to indexes as manifests with platform
 * unknown/unknown and annotation `vnd.docker.reference.type: attestation-manifest`
 * (buildkit docs/attestations/attestation-storage.md). SWR rejects them, and they run nowhere.
 */
export function isAttestation(d: Descriptor): boolean {
  if (d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return true;
  return d.platform?.os === 'unknown' && d.platform.architecture === 'unknown';
}

/** `linux/arm64/v8`, the form `docker --platform` takes; `unknown` when there is no platform. */
export function platformString(p: Platform | undefined): string {
  if (!p) return 'unknown';
  // Remote text headed for messages and reports (issue 6, item 4): no control characters.
  return remoteText(p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`, 100);
}

function decodeJson(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    // fatal: a manifest that is not UTF-8 is corrupt, not something to repair with U+FFFD.
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ManifestInvalidError(`manifest is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ManifestInvalidError('manifest is not a JSON object');
  }
  return value as Record<string, unknown>;
}

function resolveMediaType(json: Record<string, unknown>, header: string): string {
  if (json.mediaType !== undefined) {
    if (typeof json.mediaType !== 'string') throw new ManifestInvalidError('manifest field mediaType is not a string');
    return json.mediaType;
  }
  if (isManifestMediaType(header)) return header;
  // OCI image-spec lets both documents omit mediaType; the required field tells them apart.
  const hasManifests = 'manifests' in json;
  const hasConfig = 'config' in json;
  if (hasManifests && !hasConfig) return MediaType.OCI_INDEX;
  if (hasConfig && !hasManifests) return MediaType.OCI_MANIFEST;
  if (!GENERIC_CONTENT_TYPES.has(header)) {
    throw new UnsupportedError(`unsupported manifest media type "${header}" (from Content-Type)`);
  }
  throw new ManifestInvalidError(
    hasConfig ? 'manifest has both config and manifests and no mediaType' : 'manifest has no mediaType, config or manifests',
  );
}

/** `layers[0].digest`: the path of a zod issue as a reader would write it. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`))
    .join('');
}
