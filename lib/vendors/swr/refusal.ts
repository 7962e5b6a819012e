// What a 401/403 from an SWR registry means. SWR answers a token request for an organization that
// does not exist (or that this login cannot push to) with 401 DENIED, the same status as a wrong
// password, so the generic "check the credentials" sends users after the wrong problem (issue 8).
// The registry code stays SWR-agnostic: lib/registry/pool.ts attaches these for SWR destinations.
import { AuthError } from '../../errors.js';
import type { SwrAccess } from './config.js';

/** An AuthError whose whole message is given (no generic "--auth" advice that would mislead). */
export class SwrAuthError extends AuthError {
  constructor(host: string, status: number, message: string) {
    super(host, status);
    this.message = message;
  }
}

const CREATES = 'swr-migrate creates organizations when accessKey/secretKey are configured';

function orgOf(repository: string): string {
  return repository.split('/')[0] ?? repository;
}

/** The login was derived from accessKey/secretKey (lib/vendors/swr/login.ts), not copied from the console. */
const derived = (swr: SwrAccess): boolean => swr.keys !== undefined;

/** A refused push into `repository`: missing organization, no push right, or a wrong login. */
export function pushRefusal(host: string, status: number, swr: SwrAccess, repository: string): SwrAuthError {
  const login = derived(swr)
    ? `or SWR refused the login derived from accessKey/secretKey (check the keys and project "${swr.project ?? ''}")`
    : 'or the login is wrong';
  return new SwrAuthError(host, status,
    `${host} refused a push to ${repository}: the organization "${orgOf(repository)}" may not exist or this login cannot push to it (${CREATES}), ${login}`);
}

/** A refused read or ping with a derived login: the keys (or the project) are wrong. */
export function loginRefusal(host: string, status: number, swr: SwrAccess): SwrAuthError {
  return new SwrAuthError(host, status,
    `SWR refused the login derived from accessKey/secretKey on ${host}: check the keys and project "${swr.project ?? ''}" (the login is <project>@<accessKey>)`);
}

/** The repository of a `repository:<name>:<actions>` scope that asks for push, if any. */
export function pushScopeRepository(scopes: readonly string[]): string | undefined {
  for (const s of scopes) {
    const m = /^repository:(.+):([^:]*)$/.exec(s);
    if (m && m[2]!.split(',').includes('push')) return m[1];
  }
  return undefined;
}

/** HostAuth's `explainRefusal` for an SWR registry: token request refused for these scopes. */
export function tokenRefusalExplainer(host: string, swr: SwrAccess): (scopes: readonly string[], status: number) => Error | undefined {
  return (scopes, status) => {
    const repo = pushScopeRepository(scopes);
    if (repo !== undefined) return pushRefusal(host, status, swr, repo);
    return derived(swr) ? loginRefusal(host, status, swr) : undefined;
  };
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The transport's `explainRefusal` for an SWR destination: a registry-level 401/403 (the token
 * server's is explained by HostAuth). A write names the organization; a read with a derived login
 * points at the keys. Anything else keeps the generic message.
 */
export function registryRefusalExplainer(host: string, swr: SwrAccess) {
  return (err: AuthError, req: { method: string; repository?: string; type?: string }): Error | undefined => {
    if (err instanceof SwrAuthError || err.expired) return undefined;
    const repository = req.type === undefined || req.type === 'repository' ? req.repository : undefined;
    if (WRITES.has(req.method) && repository !== undefined) return pushRefusal(err.host, err.status, swr, repository);
    if (derived(swr)) return loginRefusal(err.host, err.status, swr);
    return undefined;
  };
}
