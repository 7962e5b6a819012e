// Redirects (issue 6, item 5). Registries redirect blob downloads to object storage (ECR -> S3,
// Docker Hub -> CDN) and some redirect manifests and tag lists too (registry.k8s.io -> Artifact
// Registry). Redirects are followed by hand, not by undici, because each hop is checked first:
//   - only 301, 302, 303, 307 and 308, at most MAX_HOPS of them;
//   - never from HTTPS down to HTTP (RFC 9110 section 15.4 leaves it to the client; curl and Go refuse);
//   - never to a link-local or cloud metadata address unless the registry's config allows it;
//   - `Authorization` only to the registry's own origin: S3 rejects a presigned URL that also carries
//     a Bearer header, and the token is not theirs to see.
// Upload `Location`s and `Link`s are not redirects: they must stay on the registry's origin (a Link may
// also stay on the origin a redirect took its listing to: link.ts `linkRefusal`).
import type { Dispatcher } from 'undici';
import { MigrateError, NetworkError, ProtocolError, RequestTimeoutError, UnsafeRedirectError } from '../../errors.js';
import { RequestDeadline, abortable } from './deadline.js';
import { isLinkLocalOrMetadata } from './address.js';
import { redactUrl, resolveLocation } from './location.js';
import { registryErrorFrom } from './response.js';
import { networkReason, type RegistryTransport, type SendRequest } from './transport.js';
import { tlsFailure } from './tls-errors.js';
import { withRetry } from './retry.js';
import { pacedBody } from '../limits/bandwidth.js';

export const REDIRECTS: readonly number[] = [301, 302, 303, 307, 308];
const MAX_HOPS = 5;

export interface RedirectPolicy {
  /** The registry's `allowLinkLocal`: let redirects reach 169.254.0.0/16, fe80::/10 and metadata addresses. */
  allowLinkLocal?: boolean;
}

/** Why a redirect from `from` to `to` is refused, or undefined when it may be followed. Pure. */
export function redirectRefusal(from: URL, to: URL, policy: RedirectPolicy): string | undefined {
  if (to.protocol !== 'https:' && to.protocol !== 'http:') return `${to.protocol.replace(/:$/, '')} is not HTTP`;
  if (from.protocol === 'https:' && to.protocol === 'http:') return 'a downgrade from HTTPS to HTTP';
  if (isLinkLocalOrMetadata(to.hostname) && !policy.allowLinkLocal) {
    return 'a link-local or cloud metadata address (set allowLinkLocal for this registry to allow it)';
  }
  return undefined;
}

/** Why a `Location` or `Link` target is refused: it must be on the registry's own origin. Pure. */
export function originRefusal(base: URL, target: URL): string | undefined {
  if (target.origin === base.origin) return undefined;
  if (base.protocol === 'https:' && target.protocol === 'http:') return 'a downgrade from HTTPS to HTTP';
  return `not on the registry's origin ${base.origin}`;
}

export function checkRedirect(host: string, from: URL, to: URL, policy: RedirectPolicy): void {
  const reason = redirectRefusal(from, to, policy);
  if (reason) throw new UnsafeRedirectError(host, redactUrl(to), reason);
}

export function checkSameOrigin(host: string, base: URL, target: URL, what: string): void {
  const reason = originRefusal(base, target);
  if (reason) throw new UnsafeRedirectError(host, redactUrl(target), `${what} is ${reason}`);
}

/**
 * A GET or HEAD that follows redirects. Hops on the registry's origin go through the transport (auth,
 * retries); hops elsewhere are plain requests without credentials. Returns the last response and its URL.
 */
export async function sendFollowing(
  transport: RegistryTransport,
  req: SendRequest & { method: 'GET' | 'HEAD' },
  policy: RedirectPolicy,
): Promise<{ res: Dispatcher.ResponseData; url: URL }> {
  const expect = [...req.expect, ...REDIRECTS];
  let url = transport.url(req.url);
  let res = await transport.send({ ...req, url, expect });
  // An insecure registry may have just turned out to speak plain HTTP: judge hops from where the
  // request really went, or its own same-origin redirects look like downgrades.
  url = transport.url(url);
  for (let hop = 0; REDIRECTS.includes(res.statusCode) && !req.expect.includes(res.statusCode); hop++) {
    await res.body.dump();
    if (hop >= MAX_HOPS) throw new ProtocolError(`${req.what}: more than ${MAX_HOPS} redirects from ${transport.host}`);
    const next = resolveLocation(res.headers.location, url);
    checkRedirect(transport.host, url, next, policy);
    url = next;
    if (url.origin === transport.base.origin) {
      res = await transport.send({ ...req, url, expect });
      url = transport.url(url);
      continue;
    }
    // Object storage is a request of its own: an idempotent GET or HEAD, retried under the same
    // HTTP budget as the registry's (a CDN that answers 503 or resets is asked again, not the
    // registry), and marked retried so no layer above multiplies it.
    const target = url;
    res = await withRetry(transport.retry, () => offOrigin(transport, target, req, expect), undefined, req.signal);
  }
  return { res, url };
}

/** One request to another origin (object storage, a CDN): no credentials, the registry's deadline. */
async function offOrigin(
  transport: RegistryTransport,
  url: URL,
  req: SendRequest & { method: 'GET' | 'HEAD' },
  expect: readonly number[],
): Promise<Dispatcher.ResponseData> {
  // Object storage gets the registry's overall deadline too, grown by the body it declares.
  const deadline = new RequestDeadline(transport.timeoutMs, (sec) => new RequestTimeoutError(url.host, req.what, sec), req.signal);
  let res: Dispatcher.ResponseData;
  try {
    res = await abortable(transport.dispatcher.request({ origin: url.origin, path: url.pathname + url.search, method: req.method, headers: req.headers, signal: deadline.signal }), deadline.signal);
  } catch (err) {
    deadline.clear();
    if (err instanceof MigrateError) throw err;
    throw tlsFailure(url.host, err) ?? new NetworkError(url.host, networkReason(err), { cause: err });
  }
  if (req.method !== 'HEAD') deadline.extend(Number(res.headers['content-length'] ?? NaN));
  if (res.body.destroyed) deadline.clear();
  else res.body.once('close', () => deadline.clear());
  if (!expect.includes(res.statusCode)) throw await registryErrorFrom(res, url.host, `${req.what} (redirected)`);
  // Bytes from object storage count against the registry's bandwidth cap like its own.
  return req.pace && req.method === 'GET' ? pacedBody(res, req.pace, deadline) : res;
}
