// How webhook senders prove who they are, checked without leaking the secret through timing:
// every comparison is timingSafeEqual over SHA-256 digests, which have equal lengths whatever the
// lengths of what is compared (timingSafeEqual itself throws on unequal lengths). Pure: no I/O.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const sha256 = (v: string | Buffer) => createHash('sha256').update(v).digest();

/** Whether `given` is the secret, in constant time with respect to both. */
export function sameSecret(given: string, secret: string): boolean {
  return timingSafeEqual(sha256(given), sha256(secret));
}

/**
 * GitHub's `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the raw body under the secret.
 * The hex is compared as received (GitHub writes lower case), through digests as above.
 */
export function hubSignatureMatches(header: string | undefined, body: Buffer, secret: string): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return timingSafeEqual(sha256(header), sha256(expected));
}

/** One header's value (names lower-case); a repeated header is refused rather than guessed at. */
export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}
