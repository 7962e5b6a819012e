// Docker media-type conversion (issue 8, item 5): OCI index -> Docker manifest list, OCI manifest ->
// Docker v2 schema 2 (distribution docs/spec/manifest-v2-2.md), for registries such as SWR Basic that
// refuse OCI types on push. Pure: the copy engine fetches, converts every child, then pushes.
//
// Blob bytes and digests never change: only the manifest JSON is rewritten. Anything schema 2 cannot
// represent is refused (UnconvertibleError, SWRM_UNCONVERTIBLE naming the image and the reason), never silently dropped,
// except `unknown/unknown` attestation entries of an index, which Docker lists cannot carry and
// which are returned in `dropped` so the run can report them.
//
// Canonical form (so the same source bytes always give the same converted bytes and digest):
// compact JSON (JSON.stringify, no whitespace), keys of a manifest in the order schemaVersion,
// mediaType, config, layers, manifests, annotations, then every other key sorted by code unit;
// keys of a descriptor in the order mediaType, digest, size, urls, annotations, platform, then the
// rest sorted; nested objects of unknown shape have their keys sorted. Unknown fields are kept.

import { UnconvertibleError } from '../errors.js';
import { sha256Digest } from './digest.js';
import { MediaType } from './media-types.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const MANIFEST_KEYS = ['schemaVersion', 'mediaType', 'config', 'layers', 'manifests', 'annotations'];
const DESCRIPTOR_KEYS = ['mediaType', 'digest', 'size', 'urls', 'annotations', 'platform'];

/** The layer types schema 2 can carry, by source type. zstd and uncompressed OCI layers have none. */
const LAYER_MAP: Record<string, string> = {
  [MediaType.OCI_LAYER_GZIP]: MediaType.DOCKER_LAYER_GZIP,
  [MediaType.DOCKER_LAYER_GZIP]: MediaType.DOCKER_LAYER_GZIP,
  [MediaType.DOCKER_FOREIGN_LAYER]: MediaType.DOCKER_FOREIGN_LAYER,
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': MediaType.DOCKER_FOREIGN_LAYER,
};

export interface Converted {
  /** The canonical bytes to push, and their digest. */
  bytes: Uint8Array;
  digest: string;
  mediaType: string;
}

export interface ConvertedIndex extends Converted {
  /** Descriptors dropped from the index (`unknown/unknown` attestations), to report. */
  dropped: JsonObject[];
}

function sortedValue(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortedValue);
  if (v !== null && typeof v === 'object') return ordered(v, []);
  return v;
}

function ordered(obj: JsonObject, first: string[], nested: (k: string, v: Json) => Json = (_k, v) => sortedValue(v)): JsonObject {
  const out: JsonObject = {};
  for (const k of first) if (obj[k] !== undefined) out[k] = nested(k, obj[k]!);
  const rest = Object.keys(obj).filter((k) => !first.includes(k)).sort();
  for (const k of rest) out[k] = nested(k, obj[k]!);
  return out;
}

function descriptor(d: JsonObject): JsonObject {
  return ordered(d, DESCRIPTOR_KEYS);
}

function encode(m: JsonObject, mediaType: string): Converted {
  const bytes = new TextEncoder().encode(JSON.stringify(m));
  return { bytes, digest: sha256Digest(bytes), mediaType };
}

function refuse(image: string, reason: string): never {
  throw new UnconvertibleError(`${image}: cannot convert to Docker media types: ${reason}`);
}

function asObject(v: Json | undefined): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/** Refusals shared by manifests and indexes: OCI 1.1 referrers and artifacts have no schema-2 form. */
function refuseArtifact(m: JsonObject, image: string): void {
  if (m['subject'] !== undefined) refuse(image, 'it has a subject (an OCI 1.1 referrer)');
  if (m['artifactType'] !== undefined) refuse(image, `it is an artifact (artifactType ${String(m['artifactType'])})`);
}

/** Whether a manifest of this type is already Docker-typed, hence pushed byte-exact. */
export function isDockerMediaType(mediaType: string): boolean {
  return mediaType === MediaType.DOCKER_MANIFEST || mediaType === MediaType.DOCKER_MANIFEST_LIST;
}

/** OCI image manifest -> Docker v2 schema 2. Config and layer digests and sizes are unchanged. */
export function convertImageManifest(m: JsonObject, image: string): Converted {
  refuseArtifact(m, image);
  const config = asObject(m['config']);
  if (config === undefined) refuse(image, 'it has no config');
  if (config['mediaType'] !== MediaType.OCI_CONFIG && config['mediaType'] !== MediaType.DOCKER_CONFIG) {
    refuse(image, `its config type ${String(config['mediaType'])} is not an image config (a non-image artifact)`);
  }
  const layers = Array.isArray(m['layers']) ? m['layers'] : [];
  const newLayers = layers.map((l) => {
    const layer = asObject(l) ?? refuse(image, 'a layer is not a descriptor');
    const mt = String(layer['mediaType']);
    const target = LAYER_MAP[mt];
    if (target === undefined) {
      const why = mt === MediaType.OCI_LAYER_ZSTD ? 'zstd layer' : mt === MediaType.OCI_LAYER_TAR ? 'uncompressed layer' : 'layer';
      refuse(image, `${why} ${String(layer['digest'])} (${mt}) has no Docker media type`);
    }
    return descriptor({ ...layer, mediaType: target });
  });
  const out = ordered({ ...m, mediaType: MediaType.DOCKER_MANIFEST }, MANIFEST_KEYS, (k, v) => {
    if (k === 'config') return descriptor({ ...config, mediaType: MediaType.DOCKER_CONFIG });
    if (k === 'layers') return newLayers;
    return sortedValue(v);
  });
  return encode(out, MediaType.DOCKER_MANIFEST);
}

/** An index entry Docker lists cannot carry: buildkit's attestation manifests (platform unknown/unknown). */
export function isUnknownPlatform(d: JsonObject): boolean {
  const p = asObject(d['platform']);
  return p !== undefined && p['os'] === 'unknown' && p['architecture'] === 'unknown';
}

/**
 * OCI index -> Docker manifest list. `children` maps each kept child's source digest to its new
 * descriptor fields (digest, size, mediaType) after conversion; every kept child must be there, so a
 * caller converts all children first and pushes nothing until this succeeds.
 */
export function convertIndex(
  m: JsonObject,
  image: string,
  children: ReadonlyMap<string, { digest: string; size: number; mediaType: string }>,
): ConvertedIndex {
  refuseArtifact(m, image);
  const entries = Array.isArray(m['manifests']) ? m['manifests'] : [];
  const dropped: JsonObject[] = [];
  const kept: Json[] = [];
  for (const e of entries) {
    const d = asObject(e) ?? refuse(image, 'an index entry is not a descriptor');
    if (isUnknownPlatform(d)) {
      dropped.push(d);
      continue;
    }
    const child = children.get(String(d['digest']));
    if (child === undefined) refuse(image, `child ${String(d['digest'])} was not converted`);
    kept.push(descriptor({ ...d, mediaType: child.mediaType, digest: child.digest, size: child.size }));
  }
  if (kept.length === 0) refuse(image, 'the index has no image entries');
  const out = ordered({ ...m, mediaType: MediaType.DOCKER_MANIFEST_LIST }, MANIFEST_KEYS, (k, v) =>
    k === 'manifests' ? kept : sortedValue(v),
  );
  return { ...encode(out, MediaType.DOCKER_MANIFEST_LIST), dropped };
}
