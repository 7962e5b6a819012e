// Which token realms get our credentials (issue 6, item 3). A Bearer challenge names the URL we send
// the user's username and password to, so a hostile or hijacked registry could name its own server
// and collect them. Modelled on ggcr's `validateRealmURL` (the scheme), plus rules for the host:
//   1. HTTPS, unless the registry itself is marked insecure;
//   2. the realm's host is the registry's host, or under the registry's registrable domain
//      (its shortest parent that is not a public suffix: `auth.docker.io` for `registry-1.docker.io`),
//      or it is listed in the registry's `tokenRealms`;
//   3. not a private, loopback or link-local address unless the registry is one too; link-local and
//      metadata addresses also need `allowLinkLocal`.
import { addressKind, bareHost, isIpLiteral, isSameOrUnder, registrableDomain } from '../http/address.js';

export interface RealmTrust {
  /** The hosts the registry is known by: its API endpoint and its name (registry-1.docker.io, docker.io). */
  hosts: readonly string[];
  insecure?: boolean;
  /** Extra realms from the config: URLs (`https://auth.example.com/token`) or hosts (`auth.example.com[:port]`). */
  tokenRealms?: readonly string[];
  allowLinkLocal?: boolean;
}

function hostnameOf(hostPort: string): string {
  try {
    return new URL(`http://${hostPort}`).hostname;
  } catch {
    return hostPort;
  }
}

/** A `tokenRealms` entry matches by origin when it is a URL, by host (and port, if given) otherwise. */
function listed(realm: URL, entries: readonly string[]): boolean {
  return entries.some((entry) => {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) {
      try {
        const u = new URL(entry);
        // The listed path or one below it, at a segment boundary: `/token` covers `/token/v2`, not `/token2`.
        const prefix = u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`;
        return u.origin === realm.origin && (realm.pathname === u.pathname || realm.pathname.startsWith(prefix));
      } catch {
        return false;
      }
    }
    const e = entry.toLowerCase();
    return e.includes(':') && !e.startsWith('[') ? e === realm.host : bareHost(hostnameOf(e)) === bareHost(realm.hostname);
  });
}

function onRegistryDomain(realmHost: string, hosts: readonly string[]): boolean {
  return hosts.some((h) => {
    const name = hostnameOf(h);
    return isSameOrUnder(realmHost, name) || (!isIpLiteral(name) && isSameOrUnder(realmHost, registrableDomain(name)));
  });
}

/** Why a realm is refused, or undefined when credentials may go there. Pure: never contacts anything. */
export function realmRefusal(realm: URL, trust: RealmTrust): string | undefined {
  if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && trust.insecure)) {
    return trust.insecure ? 'it is neither HTTP nor HTTPS' : 'it is not HTTPS and the registry is not marked insecure';
  }
  if (!onRegistryDomain(realm.hostname, trust.hosts) && !listed(realm, trust.tokenRealms ?? [])) {
    return "it is not on the registry's domain nor listed in its tokenRealms";
  }
  const kind = addressKind(realm.hostname);
  if ((kind === 'link-local' || kind === 'metadata') && !trust.allowLinkLocal) {
    return `it is a ${kind} address and allowLinkLocal is not set`;
  }
  if (kind !== 'public') {
    const registryKinds = trust.hosts.map((h) => addressKind(hostnameOf(h)));
    if (!registryKinds.some((k) => k !== 'public')) return `it is a ${kind} address and the registry is not`;
  }
  return undefined;
}
