// The undici implementation of the registry port. Read and write paths are thin: auth, retries and
// error mapping live in the transport (ggcr `remote`: fetcher.go / write.go over a transport).
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { DigestMismatchError, ManifestInvalidError, MigrateError, NetworkError, ProtocolError } from '../errors.js';
import { MANIFEST_ACCEPT } from '../oci/media-types.js';
import { MAX_MANIFEST_BYTES, refuseSchema1 } from '../oci/manifest.js';
import { digestAlgorithm, isDigest } from '../oci/digest.js';
import type { Credentials, ScopeRequest } from './auth.js';
import { nextLink } from './link.js';
import { resolveLocation, uploadCompleteUrl } from './location.js';
import { headerValue } from './response.js';
import type { RetryPolicy } from './retry.js';
import { RegistryTransport, networkReason } from './transport.js';
import type { BlobSource, ManifestData, ManifestInfo, MountResult, RegistryClient, RegistryStats } from './types.js';
import { blobGetFollowing } from './redirect.js';

export interface ClientOptions {
  /** The registry as named in references (`docker.io`, `127.0.0.1:5000`). */
  registry: string;
  /** The API host, when it differs from the registry name (docker.io -> registry-1.docker.io). */
  endpoint?: string;
  credentials?: Credentials;
  insecure?: boolean;
  dispatcher: Dispatcher;
  /** Actions asked for every repository; a destination asks pull+push so one token serves both. */
  actions?: readonly string[];
  retry?: RetryPolicy;
  /** Seconds: the base of each request's deadline (registry/deadline.ts). */
  timeout?: number;
  logger?: Logger;
}

const PULL = ['pull'] as const;

export class UndiciRegistryClient implements RegistryClient {
  readonly registry: string;
  readonly transport: RegistryTransport;
  private readonly actions: readonly string[];
  private readonly logger: Logger | undefined;

  constructor(opts: ClientOptions) {
    this.registry = opts.registry;
    this.actions = opts.actions ?? PULL;
    this.logger = opts.logger;
    this.transport = new RegistryTransport({
      host: opts.endpoint ?? opts.registry,
      insecure: opts.insecure,
      credentials: opts.credentials,
      dispatcher: opts.dispatcher,
      retry: opts.retry,
      timeout: opts.timeout,
      logger: opts.logger,
    });
  }

  private scope(repository: string): ScopeRequest {
    return { repository, actions: this.actions };
  }

  async ping(signal?: AbortSignal): Promise<void> {
    const res = await this.transport.send({ method: 'GET', url: '/v2/', expect: [200], what: 'ping', signal });
    await res.body.dump();
  }

  async manifestHead(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestInfo | undefined> {
    const res = await this.transport.send({
      method: 'HEAD',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      scope: this.scope(repository),
      expect: [200, 404],
      what: `manifest HEAD ${repository}:${reference}`,
      signal,
    });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    const digest = headerValue(res.headers, 'docker-content-digest');
    const mediaType = mediaTypeOf(headerValue(res.headers, 'content-type'));
    const size = Number(headerValue(res.headers, 'content-length') ?? NaN);
    if (!digest || !isDigest(digest)) {
      // Some registries omit the digest on HEAD; a GET gives it from the bytes.
      const data = await this.manifestGet(repository, reference, signal);
      return { digest: data.digest, mediaType: data.mediaType, size: data.size };
    }
    return { digest, mediaType, size };
  }

  async manifestGet(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestData> {
    const res = await this.transport.send({
      method: 'GET',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      scope: this.scope(repository),
      expect: [200],
      what: `manifest GET ${repository}:${reference}`,
      signal,
    });
    const bytes = await readLimited(res.body, MAX_MANIFEST_BYTES, `manifest ${repository}:${reference}`, this.transport.host);
    let mediaType = mediaTypeOf(headerValue(res.headers, 'content-type'));
    refuseSchema1(mediaType);
    const header = headerValue(res.headers, 'docker-content-digest');
    // Verify against the digest we asked for, else the one the registry claims (sha256 by default).
    const expected = isDigest(reference) ? reference : header && isDigest(header) ? header : undefined;
    const algorithm = expected ? digestAlgorithm(expected) : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
    if (expected && expected !== digest) throw new DigestMismatchError(expected, digest, 'manifest');
    if (!mediaType || mediaType === 'application/json') mediaType = jsonMediaType(bytes) ?? mediaType;
    return { digest, mediaType, size: bytes.length, bytes };
  }

  async manifestPut(repository: string, reference: string, bytes: Buffer, mediaType: string, signal?: AbortSignal): Promise<string> {
    const res = await this.transport.send({
      method: 'PUT',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { 'content-type': mediaType },
      body: bytes,
      scope: this.scope(repository),
      expect: [200, 201, 202],
      what: `manifest PUT ${repository}:${reference}`,
      signal,
    });
    await res.body.dump();
    const computed = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const reported = headerValue(res.headers, 'docker-content-digest');
    if (reported && isDigest(reported) && digestAlgorithm(reported) === 'sha256' && reported !== computed) {
      throw new DigestMismatchError(computed, reported, 'stored manifest');
    }
    return computed;
  }

  async manifestDelete(repository: string, digest: string, signal?: AbortSignal): Promise<void> {
    const res = await this.transport.send({
      method: 'DELETE',
      url: `/v2/${repository}/manifests/${digest}`,
      scope: { repository, actions: ['delete'] },
      expect: [202, 200],
      what: `manifest DELETE ${repository}@${digest}`,
      signal,
    });
    await res.body.dump();
  }

  async blobHead(repository: string, digest: string, signal?: AbortSignal): Promise<number | undefined> {
    const res = await this.transport.send({
      method: 'HEAD',
      url: `/v2/${repository}/blobs/${digest}`,
      scope: this.scope(repository),
      expect: [200, 404, 307, 302],
      what: `blob HEAD ${repository}@${digest}`,
      signal,
    });
    await res.body.dump();
    if (res.statusCode === 404) return undefined;
    // A redirect to storage also means the registry has the blob.
    return Number(headerValue(res.headers, 'content-length') ?? -1);
  }

  blobGet(repository: string, digest: string, signal?: AbortSignal): Promise<BlobSource> {
    return blobGetFollowing(this.transport, this.scope(repository), `/v2/${repository}/blobs/${digest}`, digest, signal);
  }

  async blobMount(repository: string, digest: string, fromRepository: string, signal?: AbortSignal): Promise<MountResult> {
    const url = `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepository)}`;
    try {
      const res = await this.transport.send({
        method: 'POST',
        url,
        scope: { repository, actions: this.actions, extra: [{ repository: fromRepository, actions: PULL }] },
        expect: [201, 202],
        what: `blob mount ${fromRepository} -> ${repository}`,
        signal,
      });
      await res.body.dump();
      if (res.statusCode === 201) return { mounted: true };
      // 202: the registry declined the mount and opened a normal upload session: continue with it.
      return { mounted: false, uploadUrl: resolveLocation(res.headers.location, this.transport.url(url)) };
    } catch (err) {
      // Harbor answers 401 for an unknown `from` project, Docker Hub 400 for cross-origin mounts
      // (go-containerregistry #1393, #1741): any mount error falls back to a plain upload.
      this.logger?.warn({ digest, from: fromRepository, err: (err as Error).message }, 'mount failed, uploading instead');
      return { mounted: false, uploadUrl: await this.blobUploadStart(repository, signal) };
    }
  }

  async blobUploadStart(repository: string, signal?: AbortSignal): Promise<URL> {
    const url = `/v2/${repository}/blobs/uploads/`;
    const res = await this.transport.send({
      method: 'POST',
      url,
      scope: this.scope(repository),
      expect: [202],
      what: `blob upload start ${repository}`,
      signal,
    });
    await res.body.dump();
    return resolveLocation(res.headers.location, this.transport.url(url));
  }

  async blobUploadFinish(
    repository: string,
    uploadUrl: URL,
    digest: string,
    size: number,
    body: AsyncIterable<Uint8Array> | Buffer,
    signal?: AbortSignal,
  ): Promise<void> {
    const res = await this.transport.send({
      method: 'PUT',
      url: uploadCompleteUrl(uploadUrl, digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      scope: this.scope(repository),
      expect: [201, 204],
      what: `blob upload ${repository}@${digest}`,
      signal,
    });
    await res.body.dump();
  }

  async blobUploadCancel(repository: string, uploadUrl: URL): Promise<void> {
    try {
      const res = await this.transport.send({
        method: 'DELETE',
        url: uploadUrl,
        scope: this.scope(repository),
        expect: [204, 200, 202, 404],
        what: `blob upload cancel ${repository}`,
        // Cleanup: not worth a retry (the registry purges stale sessions itself).
        once: true,
      });
      await res.body.dump();
    } catch (err) {
      this.logger?.debug({ repository, err: (err as Error).message }, 'upload session not cancelled');
    }
  }

  tagList(repository: string, signal?: AbortSignal): Promise<string[]> {
    return this.paginate(`/v2/${repository}/tags/list?n=1000`, this.scope(repository), 'tags', `tag list ${repository}`, signal);
  }

  catalog(signal?: AbortSignal): Promise<string[]> {
    const scope = { type: 'registry', repository: 'catalog', actions: ['*'] };
    return this.paginate('/v2/_catalog?n=1000', scope, 'repositories', 'catalog', signal);
  }

  stats(): RegistryStats {
    return { requests: this.transport.requests, tokenRequests: this.transport.auth.tokenRequests };
  }

  private async paginate(first: string, scope: ScopeRequest, field: string, what: string, signal?: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    let url: URL | undefined = this.transport.url(first);
    for (let page = 0; url && page < 100_000; page++) {
      const res: Dispatcher.ResponseData = await this.transport.send({ method: 'GET', url, scope, expect: [200], what, signal });
      const body = await readJson(res, this.transport.host);
      const list = body[field];
      // distribution answers `"tags": null` for a repository whose tags were all deleted.
      if (list != null && !Array.isArray(list)) throw new ProtocolError(`${what}: "${field}" is not a list`);
      for (const item of (list ?? []) as unknown[]) out.push(String(item));
      url = nextLink(res.headers.link, url);
    }
    return out;
  }
}

function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim();
}

function jsonMediaType(bytes: Buffer): string | undefined {
  try {
    const mt = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof mt === 'string' ? mt : undefined;
  } catch {
    return undefined;
  }
}

async function readLimited(body: Readable, limit: number, what: string, host: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        body.destroy();
        throw new ManifestInvalidError(`${what} is larger than ${limit} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    throw bodyError(err, host);
  }
  return Buffer.concat(chunks);
}

/** A response body that broke off (reset, timeout) is a network error: worth a retry. */
export function bodyError(err: unknown, host: string): unknown {
  if (err instanceof MigrateError) return err;
  if (err instanceof SyntaxError) return new NetworkError(host, `truncated or invalid JSON response (${err.message.slice(0, 80)})`);
  return new NetworkError(host, networkReason(err), { cause: err });
}

async function readJson(res: Dispatcher.ResponseData, host: string): Promise<Record<string, unknown>> {
  try {
    return (await res.body.json()) as Record<string, unknown>;
  } catch (err) {
    throw bodyError(err, host);
  }
}
