// Huawei Cloud API signing, SDK-HMAC-SHA256 (Huawei "API Request Signing Guide";
// huaweicloud-sdk-go-v3 core/auth/signer). Pure: the clock is a parameter, nothing is sent.
import { createHash, createHmac } from 'node:crypto';

export const SIGN_ALGORITHM = 'SDK-HMAC-SHA256';
/** The gateway refuses a request whose X-Sdk-Date is further than this from its own clock. */
export const MAX_SKEW_MS = 15 * 60 * 1000;

export interface SignInput {
  method: string;
  /** Absolute URL or path with query, e.g. `/v2/manage/repos?limit=1`. */
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}
export interface AkSk { ak: string; sk: string }

const hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** RFC 3986 unreserved characters stay, everything else is %XX (upper case), as the SDKs do. */
export function signEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `YYYYMMDDTHHMMSSZ`, UTC. */
export function sdkDate(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Parse an X-Sdk-Date back to epoch ms, or undefined when malformed. */
export function parseSdkDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function splitUrl(url: string): { path: string; query: string } {
  const u = new URL(url, 'http://signer.invalid');
  return { path: u.pathname, query: u.search.replace(/^\?/, '') };
}

/** The path, each segment encoded, always ending in `/` (the gateway adds it before comparing). */
export function canonicalUri(path: string): string {
  const segs = path.split('/').map((s) => signEncode(decodeURIComponent(s)));
  const joined = segs.join('/');
  return joined.endsWith('/') ? joined : `${joined}/`;
}

/** Query parameters sorted by name then value, both encoded; `a` without `=` signs as `a=`. */
export function canonicalQuery(query: string): string {
  if (!query) return '';
  const pairs = query.split('&').filter(Boolean).map((p) => {
    const i = p.indexOf('=');
    const k = decodeURIComponent((i < 0 ? p : p.slice(0, i)).replace(/\+/g, ' '));
    const v = i < 0 ? '' : decodeURIComponent(p.slice(i + 1).replace(/\+/g, ' '));
    return [signEncode(k), signEncode(v)] as const;
  });
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Lower-case, sorted names of the headers to sign. */
export function signedHeaderNames(headers: Record<string, string>): string[] {
  return Object.keys(headers).map((h) => h.toLowerCase()).sort();
}

export function canonicalRequest(input: SignInput, signed: string[]): string {
  const { path, query } = splitUrl(input.url);
  const lower = new Map(Object.entries(input.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const headerLines = signed.map((h) => `${h}:${(lower.get(h) ?? '').trim()}\n`).join('');
  return [
    input.method.toUpperCase(),
    canonicalUri(path),
    canonicalQuery(query),
    headerLines,
    signed.join(';'),
    hex(input.body ?? ''),
  ].join('\n');
}

export function stringToSign(canonical: string, date: string): string {
  return `${SIGN_ALGORITHM}\n${date}\n${hex(canonical)}`;
}

export function signature(sk: string, toSign: string): string {
  return createHmac('sha256', sk).update(toSign).digest('hex');
}

/**
 * Sign a request: returns the headers to add (X-Sdk-Date and Authorization). Every header in
 * `input.headers` plus X-Sdk-Date is signed; callers pass only headers they send verbatim
 * (host, content-type), since a proxy rewriting one breaks the signature.
 */
export function signRequest(input: SignInput, key: AkSk, now: Date = new Date()): Record<string, string> {
  const date = sdkDate(now);
  const headers = { ...input.headers, 'X-Sdk-Date': date };
  const signed = signedHeaderNames(headers);
  const sig = signature(key.sk, stringToSign(canonicalRequest({ ...input, headers }, signed), date));
  return {
    'X-Sdk-Date': date,
    Authorization: `${SIGN_ALGORITHM} Access=${key.ak}, SignedHeaders=${signed.join(';')}, Signature=${sig}`,
  };
}

export interface ParsedAuthorization { access: string; signedHeaders: string[]; signature: string }

/** Parse an `Authorization: SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...` value. */
export function parseAuthorization(value: string): ParsedAuthorization | undefined {
  const m = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(value.trim());
  if (!m) return undefined;
  return { access: m[1]!, signedHeaders: m[2]!.split(';'), signature: m[3]! };
}
