// Blob downloads may be redirected to object storage (ECR -> S3, Docker Hub -> CDN). Redirects are
// followed by hand because `Authorization` must never travel to another origin: S3 rejects a
// presigned URL that also carries a Bearer header, and the token is not theirs to see.
import { NetworkError, ProtocolError } from '../errors.js';
import type { ScopeRequest } from './auth.js';
import { resolveLocation } from './location.js';
import { headerValue, registryErrorFrom } from './response.js';
import { networkReason, type RegistryTransport } from './transport.js';
import { tlsFailure } from './tls-errors.js';
import type { BlobSource } from './types.js';

const REDIRECTS = [301, 302, 303, 307, 308];
const MAX_HOPS = 5;

export async function blobGetFollowing(
  transport: RegistryTransport,
  scope: ScopeRequest,
  path: string,
  digest: string,
  signal?: AbortSignal,
): Promise<BlobSource> {
  const what = `blob GET ${scope.repository}@${digest}`;
  let url = transport.url(path);
  let res = await transport.send({ method: 'GET', url, scope, expect: [200, ...REDIRECTS], what, signal });
  for (let hop = 0; REDIRECTS.includes(res.statusCode); hop++) {
    await res.body.dump();
    if (hop >= MAX_HOPS) throw new ProtocolError(`${what}: more than ${MAX_HOPS} redirects`);
    url = resolveLocation(res.headers.location, url);
    if (url.origin === transport.base.origin) {
      res = await transport.send({ method: 'GET', url, scope, expect: [200, ...REDIRECTS], what, signal });
      continue;
    }
    try {
      res = await transport.dispatcher.request({ origin: url.origin, path: url.pathname + url.search, method: 'GET', signal });
    } catch (err) {
      throw tlsFailure(url.host, err) ?? new NetworkError(url.host, networkReason(err), { cause: err });
    }
    if (res.statusCode !== 200 && !REDIRECTS.includes(res.statusCode)) {
      throw await registryErrorFrom(res, url.host, `${what} (redirected)`);
    }
  }
  const length = headerValue(res.headers, 'content-length');
  return { body: res.body, size: length === undefined ? undefined : Number(length) };
}
