// The undici implementation of the registry port. Read and write paths are thin: auth, retries and
// error mapping live in the transport (ggcr `remote`: fetcher.go / write.go over a transport).
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { DigestMismatchError, UnsafeRedirectError, errorMessage } from '../errors.js';
import { MANIFEST_ACCEPT } from '../oci/media-types.js';
import { MAX_MANIFEST_BYTES, refuseSchema1 } from '../oci/manifest.js';
import { digestAlgorithm, isDigest } from '../oci/digest.js';
import { remoteText } from '../text.js';
import type { Credentials, ScopeRequest } from './auth/auth.js';
import { bodyError } from './http/body.js';
import { resolveLocation, uploadCompleteUrl } from './http/location.js';
import { type ListingContext, listAll } from './list/listing.js';
import { headerValue, readBodyLimited } from './http/response.js';
import { type RetryPolicy, withRetry } from './http/retry.js';
import type { PushBudget } from './limits/push-budget.js';
import { RegistryTransport } from './http/transport.js';
import type { PullBudget } from './limits/pull-budget.js';
import type { RegistryWindows } from './limits/window-gate.js';
import type { ByteBucket } from './limits/bandwidth.js';
import type { BlobSource, ManifestData, ManifestInfo, MountResult, RegistryClient, RegistryStats } from './types.js';
import { type RedirectPolicy, checkSameOrigin, sendFollowing } from './http/redirect.js';

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
  /** Seconds: the base of each request's deadline (registry/http/deadline.ts). */
  timeout?: number;
  logger?: Logger;
  /** Token realms trusted besides the registry's own domain (see realm.ts). */
  tokenRealms?: readonly string[];
  /** Let redirects and realms reach link-local and cloud metadata addresses. */
  allowLinkLocal?: boolean;
  /** The tenant's push budget (SWR destinations): rate tokens here, layer-push slots in blob-copy. */
  pushBudget?: PushBudget;
  /** A source's pull budget, read from the registry's ratelimit headers (limits/pull-budget.ts). */
  rateBudget?: PullBudget;
  /** The registry's AIMD windows, shared by every client of its host (limits/window-gate.ts). */
  windows?: RegistryWindows;
  /** `maxBytesPerSecond`: blob bytes downloaded from / uploaded to this registry (limits/bandwidth.ts). */
  bandwidth?: { download: ByteBucket; upload: ByteBucket };
}

const PULL = ['pull'] as const;

export class UndiciRegistryClient implements RegistryClient {
  readonly registry: string;
  readonly transport: RegistryTransport;
  readonly pushBudget: PushBudget | undefined;
  private readonly actions: readonly string[];
  private readonly logger: Logger | undefined;
  private readonly redirects: RedirectPolicy;
  private readonly bandwidth: ClientOptions['bandwidth'];

  constructor(opts: ClientOptions) {
    this.registry = opts.registry;
    this.actions = opts.actions ?? PULL;
    this.logger = opts.logger;
    this.redirects = { allowLinkLocal: opts.allowLinkLocal };
    this.pushBudget = opts.pushBudget;
    this.bandwidth = opts.bandwidth;
    const host = opts.endpoint ?? opts.registry;
    this.transport = new RegistryTransport({
      host,
      insecure: opts.insecure,
      credentials: opts.credentials,
      dispatcher: opts.dispatcher,
      retry: opts.retry,
      timeout: opts.timeout,
      logger: opts.logger,
      pushBudget: opts.pushBudget,
      rateBudget: opts.rateBudget,
      windows: opts.windows,
      realm: {
        hosts: host === opts.registry ? [host] : [host, opts.registry],
        insecure: opts.insecure,
        tokenRealms: opts.tokenRealms,
        allowLinkLocal: opts.allowLinkLocal,
      },
    });
  }

  /** An upload Location on the registry's own origin, resolved against the request that returned it. */
  private uploadLocation(location: string | string[] | undefined, requestUrl: URL): URL {
    const url = resolveLocation(location, requestUrl);
    checkSameOrigin(this.transport.host, this.transport.base, url, 'the upload Location');
    return url;
  }

  private get listing(): ListingContext {
    return { transport: this.transport, redirects: this.redirects, logger: this.logger };
  }

  private scope(repository: string): ScopeRequest {
    return { repository, actions: this.actions };
  }

  async ping(signal?: AbortSignal): Promise<void> {
    const res = await this.transport.send({ method: 'GET', url: '/v2/', expect: [200], what: 'ping', signal });
    await res.body.dump();
  }

  async manifestHead(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestInfo | undefined> {
    const { res } = await sendFollowing(this.transport, {
      method: 'HEAD',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      scope: this.scope(repository),
      expect: [200, 404],
      what: `manifest HEAD ${repository}:${reference}`,
      signal,
    }, this.redirects);
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
    // The request and its body are one attempt: a body cut short or corrupted is fetched again under
    // the same retry budget as a 503 (each try sends once, so the attempts do not multiply).
    return withRetry(
      this.transport.retry,
      () => this.manifestGetOnce(repository, reference, signal),
      (err, attempt, delayMs) => this.logger?.warn({ host: this.transport.host, attempt, delayMs, err: errorMessage(err) }, `retrying manifest GET ${repository}:${reference}`),
      signal,
    );
  }

  private async manifestGetOnce(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestData> {
    const { res } = await sendFollowing(this.transport, {
      method: 'GET',
      url: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      scope: this.scope(repository),
      expect: [200],
      what: `manifest GET ${repository}:${reference}`,
      signal,
      once: true,
    }, this.redirects);
    // 4 MiB: the size the OCI distribution spec says registries must accept, so no valid image is larger.
    const bytes = await readBodyLimited(res, MAX_MANIFEST_BYTES, `manifest ${repository}:${reference}`, this.transport.host).catch((err: unknown) => {
      throw bodyError(err, this.transport.host);
    });
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
      push: true,
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

  async blobGet(repository: string, digest: string, signal?: AbortSignal): Promise<BlobSource> {
    // Each hop has its own HTTP attempts: the registry's (transport.ts) and, where it redirects to
    // object storage or a CDN (Docker Hub, ECR), that origin's (redirect.ts).
    const { res } = await sendFollowing(this.transport, {
      method: 'GET',
      url: `/v2/${repository}/blobs/${digest}`,
      scope: this.scope(repository),
      expect: [200],
      what: `blob GET ${repository}@${digest}`,
      signal,
      // From object storage too: the cap is on the bytes this registry's blobs bring in.
      pace: this.bandwidth?.download,
    }, this.redirects);
    const length = headerValue(res.headers, 'content-length');
    return { body: res.body, size: length === undefined ? undefined : Number(length) };
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
        push: true,
        replayable: true,
        signal,
      });
      await res.body.dump();
      if (res.statusCode === 201) return { mounted: true };
      // 202: the registry declined the mount and opened a normal upload session: continue with it.
      return { mounted: false, uploadUrl: this.uploadLocation(res.headers.location, this.transport.url(url)) };
    } catch (err) {
      // A Location we refuse is the registry's answer, not a failed mount: do not upload elsewhere.
      if (err instanceof UnsafeRedirectError) throw err;
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
      push: true,
      replayable: true,
      signal,
    });
    await res.body.dump();
    return this.uploadLocation(res.headers.location, this.transport.url(url));
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
      push: true,
      pace: this.bandwidth?.upload,
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
    const what = `tag list ${repository}`;
    return listAll(this.listing, `/v2/${repository}/tags/list?n=1000`, this.scope(repository), 'tags', what, signal);
  }

  catalog(signal?: AbortSignal): Promise<string[]> {
    const scope = { type: 'registry', repository: 'catalog', actions: ['*'] };
    return listAll(this.listing, '/v2/_catalog?n=1000', scope, 'repositories', 'catalog', signal);
  }

  stats(): RegistryStats {
    return { requests: this.transport.requests, tokenRequests: this.transport.auth.tokenRequests };
  }
}

// Media types are remote text that ends up in messages ("unsupported manifest media type ..."); a
// header may carry C1 controls (obs-text) and the JSON field anything at all.
function mediaTypeOf(contentType: string | undefined): string {
  return remoteText((contentType ?? '').split(';')[0]!, 255);
}

function jsonMediaType(bytes: Buffer): string | undefined {
  try {
    const mt = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof mt === 'string' ? remoteText(mt, 255) : undefined;
  } catch {
    return undefined;
  }
}
