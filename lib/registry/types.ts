// The registry port (in the spirit of regclient's scheme.API): what the copy engine and the planner
// need from a registry, nothing about HTTP. The undici implementation is `client.ts`.
import type { Readable } from 'node:stream';
import type { PushBudget } from './limits/push-budget.js';

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
}

export interface ManifestData extends ManifestInfo {
  /** The exact bytes the registry sent: never re-serialise them, the digest is of these bytes. */
  bytes: Buffer;
}

export interface BlobSource {
  body: Readable;
  /** Content-Length, when the server sent one. */
  size: number | undefined;
}

export type MountResult = { mounted: true } | { mounted: false; uploadUrl: URL };

export interface RegistryStats {
  requests: number;
  tokenRequests: number;
}

export interface RegistryClient {
  /** The registry as named in references (`docker.io`, `host:5000`). */
  readonly registry: string;
  /**
   * Set on destination clients of SWR registries (registry/pool.ts): the tenant's push budget,
   * shared by every client of that tenant. The client takes its rate tokens; the copy engine holds
   * a layer-push slot around each upload session and mount (copy/blob-copy.ts).
   */
  readonly pushBudget?: PushBudget;
  ping(signal?: AbortSignal): Promise<void>;
  /** undefined when the manifest does not exist. */
  manifestHead(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestInfo | undefined>;
  /** Throws a RegistryError (MANIFEST_UNKNOWN / NAME_UNKNOWN) when it does not exist. */
  manifestGet(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestData>;
  /** Stores the bytes as they are; returns the digest the registry reports. */
  manifestPut(repository: string, reference: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string>;
  manifestDelete(repository: string, digest: string, signal?: AbortSignal): Promise<void>;
  /** The blob's size when it exists, undefined when not. */
  blobHead(repository: string, digest: string, signal?: AbortSignal): Promise<number | undefined>;
  blobGet(repository: string, digest: string, signal?: AbortSignal): Promise<BlobSource>;
  /** Cross-repository mount; any failure to mount yields an upload session instead (or throws). */
  blobMount(repository: string, digest: string, fromRepository: string, signal?: AbortSignal): Promise<MountResult>;
  blobUploadStart(repository: string, signal?: AbortSignal): Promise<URL>;
  /** Monolithic upload of the whole body in one streamed PUT with Content-Length. */
  blobUploadFinish(repository: string, uploadUrl: URL, digest: string, size: number, body: AsyncIterable<Uint8Array> | Buffer, signal?: AbortSignal): Promise<void>;
  /** Cancel an upload session that will not be used (DELETE <location>); best effort. */
  blobUploadCancel(repository: string, uploadUrl: URL): Promise<void>;
  tagList(repository: string, signal?: AbortSignal): Promise<string[]>;
  catalog(signal?: AbortSignal): Promise<string[]>;
  stats(): RegistryStats;
}
