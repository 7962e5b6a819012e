// Upload session URLs. The spec lets `Location` be absolute or relative and carry query parameters
// (distribution puts `_state=` there; Harbor and ECR add their own), so it is resolved against the URL of
// the request that returned it, and the `digest=` parameter is appended without dropping the rest.
import { ProtocolError } from '../../errors.js';
import { remoteText } from '../../text.js';

export function resolveLocation(location: string | string[] | undefined, requestUrl: URL | string): URL {
  const value = Array.isArray(location) ? location[0] : location;
  if (!value) throw new ProtocolError(`registry answered ${String(requestUrl)} without a Location header`);
  try {
    return new URL(value, requestUrl);
  } catch {
    throw new ProtocolError(`registry sent an unusable Location header: ${remoteText(value, 200)}`);
  }
}

/** The URL that completes a monolithic upload: `PUT <location>?<kept query>&digest=<digest>`. */
export function uploadCompleteUrl(location: URL, digest: string): URL {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url;
}

/** Strip query strings: presigned URLs carry signatures that must never reach a log. */
export function redactUrl(url: URL | string): string {
  const u = new URL(String(url));
  return `${u.origin}${u.pathname}${u.search ? '?<redacted>' : ''}`;
}
