// Reading registry responses: the `{"errors":[...]}` body (distribution spec, "Error Codes") read with
// a bound, since an error page may be an HTML page of any size from a proxy in front of the registry.
import type { Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { BodyTooLargeError, type RegistryErrorEntry, RegistryError, parseRetryAfter } from '../../errors.js';
import { remoteText } from '../../text.js';

export const MAX_ERROR_BODY = 64 * 1024;
/** Tag lists, catalog pages: containers/image caps these at 16 MiB too (docker_client.go). */
export const MAX_LIST_BODY = 16 * 1024 * 1024;
/** A token response is a JWT or two in JSON; 1 MiB is a thousand times the usual size. */
export const MAX_TOKEN_BODY = 1024 * 1024;

export function headerValue(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * An error body trickling in a byte at a time never trips undici's idle `bodyTimeout`; the status
 * code is the error, the body only its detail, so stop waiting for it after this long.
 */
export const ERROR_BODY_MS = 2_000;

/** Read at most 64 KiB of the body, for at most ERROR_BODY_MS, and parse the registry's error list from it. */
export async function readErrorBody(res: Dispatcher.ResponseData): Promise<RegistryErrorEntry[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  const timer = setTimeout(() => res.body.destroy(), ERROR_BODY_MS);
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      if (size < MAX_ERROR_BODY) chunks.push(buf.subarray(0, MAX_ERROR_BODY - size));
      size += buf.length;
      if (size >= MAX_ERROR_BODY) break;
    }
  } catch {
    // a broken error body still leaves us the status code
  } finally {
    clearTimeout(timer);
    if (!res.body.destroyed) res.body.destroy();
  }
  return parseErrorEntries(Buffer.concat(chunks).toString('utf8'));
}

/**
 * Read a whole body, refusing it as soon as it passes `limit` bytes (by its Content-Length, or while
 * streaming when there is none or it lies), so an endless body costs at most `limit` bytes of memory.
 */
export async function readBodyLimited(
  res: { headers: Dispatcher.ResponseData['headers']; body: Readable },
  limit: number,
  what: string,
  host: string,
): Promise<Buffer> {
  const declared = Number(headerValue(res.headers, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    res.body.destroy();
    throw new BodyTooLargeError(host, what, limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      res.body.destroy();
      throw new BodyTooLargeError(host, what, limit);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

export function parseErrorEntries(text: string): RegistryErrorEntry[] {
  if (!text) return [];
  try {
    const json = JSON.parse(text) as unknown;
    // distribution: {"errors":[...]}; SWR's management API: [{"errorCode","errorMessage"}].
    const list = Array.isArray(json) ? json : (json as { errors?: unknown }).errors;
    if (!Array.isArray(list)) return [];
    return list
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      // Code and message end up in one-line errors, logs, reports and the DLQ: strip control characters.
      .map((e) => ({
        code: remoteText(String(e.code ?? e.errorCode ?? 'UNKNOWN'), 100),
        message: typeof e.message === 'string' ? remoteText(e.message) : typeof e.errorMessage === 'string' ? remoteText(e.errorMessage) : undefined,
        detail: e.detail,
      }));
  } catch {
    return [];
  }
}

/** Turn an unexpected response into a RegistryError with the parsed codes and Retry-After. */
export async function registryErrorFrom(
  res: Dispatcher.ResponseData,
  host: string,
  what: string,
): Promise<RegistryError> {
  const errors = await readErrorBody(res);
  const first = errors[0];
  const reason = first ? `${first.code}${first.message ? `: ${first.message}` : ''}` : `HTTP ${res.statusCode}`;
  return new RegistryError(
    `${what} failed on ${host}: ${reason}`,
    res.statusCode,
    host,
    errors,
    parseRetryAfter(headerValue(res.headers, 'retry-after')),
  );
}
