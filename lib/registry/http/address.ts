// Pure checks on the host part of a URL: which addresses a redirect, a token realm or an upload
// Location may point at. Only literal IP addresses (and the names `localhost` and the cloud metadata
// names) can be judged without DNS; any other name is 'public' here. The WHATWG URL parser has
// already normalised the odd IPv4 spellings (`0xA9FEA9FE`, `2852039166`) to dotted quads.
import { BlockList, isIP } from 'node:net';

export type AddressKind = 'loopback' | 'private' | 'link-local' | 'metadata' | 'public';

function blockList(ranges: [string, number, 'ipv4' | 'ipv6'][]): BlockList {
  const list = new BlockList();
  for (const [net, prefix, family] of ranges) list.addSubnet(net, prefix, family);
  return list;
}

// Cloud instance metadata services: AWS/GCP/Azure/OpenStack use 169.254.169.254 (and Alibaba
// 100.100.100.200); AWS's IPv6 endpoint is fd00:ec2::254. Reaching them from a redirect is the
// classic SSRF that leaks instance credentials.
const METADATA = blockList([
  ['169.254.169.254', 32, 'ipv4'],
  ['100.100.100.200', 32, 'ipv4'],
  ['fd00:ec2::254', 128, 'ipv6'],
]);
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata']);
const LINK_LOCAL = blockList([
  ['169.254.0.0', 16, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
]);
const LOOPBACK = blockList([
  ['127.0.0.0', 8, 'ipv4'],
  ['0.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
  ['::', 128, 'ipv6'],
]);
// RFC 1918, carrier-grade NAT (RFC 6598) and IPv6 unique-local (RFC 4193).
const PRIVATE = blockList([
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['fc00::', 7, 'ipv6'],
]);

/** A URL hostname without the IPv6 brackets and a trailing dot, lower-cased. */
export function bareHost(hostname: string): string {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

/** What a hostname (as in `URL.hostname`) points at, as far as can be told without DNS. */
export function addressKind(hostname: string): AddressKind {
  const host = bareHost(hostname);
  const family = isIP(host);
  if (family === 0) {
    if (METADATA_NAMES.has(host)) return 'metadata';
    // RFC 6761: `localhost` and every name under it is loopback.
    if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
    return 'public';
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  // BlockList matches IPv4-mapped IPv6 (::ffff:169.254.169.254) against the IPv4 ranges too.
  if (METADATA.check(host, type)) return 'metadata';
  if (LINK_LOCAL.check(host, type)) return 'link-local';
  if (LOOPBACK.check(host, type)) return 'loopback';
  if (PRIVATE.check(host, type)) return 'private';
  return 'public';
}

/** Link-local and metadata addresses: refused as targets unless the registry's config allows them. */
export function isLinkLocalOrMetadata(hostname: string): boolean {
  const kind = addressKind(hostname);
  return kind === 'link-local' || kind === 'metadata';
}

export function isIpLiteral(hostname: string): boolean {
  return isIP(bareHost(hostname)) !== 0;
}

// Second-level labels that, under a two-letter country code, form a public suffix (co.uk, com.cn,
// ne.jp, gov.br, ...), and shared hosting suffixes where every tenant is a different owner.
const GENERIC_SECOND_LEVEL = new Set([
  'ac', 'co', 'com', 'edu', 'gen', 'go', 'gob', 'gov', 'gv', 'info', 'lg', 'ltd', 'mil', 'ne', 'net', 'nic', 'or', 'org', 'plc', 'sch',
]);
const SHARED_SUFFIXES = new Set([
  'amazonaws.com', 'azurecr.io', 'pkg.dev', 'appspot.com', 'cloudfront.net', 'github.io', 'gitlab.io',
  'herokuapp.com', 'azurewebsites.net', 'myqcloud.com', 'aliyuncs.com', 'cloudapp.net', 'ngrok.io', 'ngrok-free.app',
]);

/** True for names that many unrelated owners register under: `com`, `co.uk`, `amazonaws.com`. */
export function isPublicSuffix(domain: string): boolean {
  const labels = domain.split('.');
  if (labels.length <= 1) return true;
  if (SHARED_SUFFIXES.has(domain)) return true;
  return labels.length === 2 && labels[1]!.length === 2 && GENERIC_SECOND_LEVEL.has(labels[0]!);
}

/**
 * The domain a host shares with its siblings: its shortest parent that is not a public suffix
 * (`registry-1.docker.io` -> `docker.io`, `a.b.example.co.uk` -> `example.co.uk`). An IP address,
 * a single label, or a host that is itself just above a public suffix has no parent but itself.
 */
export function registrableDomain(hostname: string): string {
  const host = bareHost(hostname);
  if (isIP(host)) return host;
  const labels = host.split('.');
  for (let i = labels.length - 2; i >= 0; i--) {
    const candidate = labels.slice(i).join('.');
    if (!isPublicSuffix(candidate)) return candidate;
  }
  return host;
}

/** True when `host` is `base` or a name under `base` (`auth.docker.io` under `docker.io`). */
export function isSameOrUnder(hostname: string, base: string): boolean {
  const h = bareHost(hostname);
  const b = bareHost(base);
  return h === b || (!isIP(h) && h.endsWith(`.${b}`));
}
