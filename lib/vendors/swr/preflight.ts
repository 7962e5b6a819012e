// SWR pre-flight (issue 8): before any byte moves, check every SWR destination's name against
// SWR's rules, and make sure its organization exists. SWR refuses a push into a missing
// organization at the token endpoint (401, like a wrong password), and caps organizations per
// account (default 5): the planner knows every destination organization up front, so the quota is
// checked for the whole plan and each missing organization is created once, before any copy.
import { Agent, envHttpProxyAgent, proxySettings } from '../../registry/http/undici-agent.js';
import type { Logger } from 'pino';
import { ConfigError, ErrorCode, type ErrorCodeValue, MigrateError } from '../../errors.js';
import { decodeMessage } from '../../queue/messages.js';
import { parseReference, parseRepositoryReference } from '../../oci/reference.js';
import type { AccessResolver } from '../../registry/pool.js';
import type { SwrAccess } from './config.js';
import { SwrManagementClient } from './management.js';
import { assertSwrPath } from './names.js';
import { OrgEnsurer, type OrgState } from './org-ensure.js';

export interface Destination { registry: string; repository: string }

export interface PreflightOptions {
  logger?: Logger;
  /** `check`: names and quota only, nothing created (plan / dry run). Default `ensure`. */
  mode?: 'ensure' | 'check';
  /** The management API clock (tests); default the system clock. */
  now?: () => Date;
  /** Where HTTPS_PROXY / HTTP_PROXY / NO_PROXY are read; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface PreflightResult {
  /** Organization states by SWR registry, where the management API was used. */
  orgs: Map<string, Map<string, OrgState>>;
  /** Registries whose organizations could not be checked (no keys or no management endpoint). */
  unchecked: string[];
}

/** Every SWR destination name that breaks the rules, listed together: a ConfigError (CLI exit 2). */
export class SwrNamesError extends ConfigError {
  constructor(problems: string[]) {
    super(`${problems.length} SWR destination name(s) break SWR's naming rules; rename them in the config`, problems);
    (this as { code: ErrorCodeValue }).code = ErrorCode.SWR_NAME;
  }
}

interface SwrRegistry { swr: SwrAccess; orgs: Set<string> }

/** Group SWR destinations by registry, collecting every name problem first. */
function collect(destinations: Iterable<Destination>, resolve: AccessResolver): Map<string, SwrRegistry> {
  const byRegistry = new Map<string, SwrRegistry>();
  const problems = new Set<string>();
  for (const d of destinations) {
    const swr = resolve(d.registry, d.repository).swr;
    if (!swr) continue;
    try {
      const { organization } = assertSwrPath(d.repository);
      const entry = byRegistry.get(d.registry) ?? { swr, orgs: new Set<string>() };
      entry.orgs.add(organization);
      byRegistry.set(d.registry, entry);
    } catch (err) {
      if (!(err instanceof MigrateError) || err.code !== ErrorCode.SWR_NAME) throw err;
      problems.add(`${d.registry}/${d.repository}: ${err.message}`);
    }
  }
  if (problems.size) throw new SwrNamesError([...problems]);
  return byRegistry;
}

/** The names check alone, with no request: what `swrPreflight` refuses first (packaging runs it). */
export function checkSwrNames(destinations: Iterable<Destination>, resolve: AccessResolver): void {
  collect(destinations, resolve);
}

export async function swrPreflight(destinations: Iterable<Destination>, resolve: AccessResolver, opts: PreflightOptions = {}): Promise<PreflightResult> {
  const byRegistry = collect(destinations, resolve);
  const result: PreflightResult = { orgs: new Map(), unchecked: [] };
  if (byRegistry.size === 0) return result;
  // Its own dispatcher, closed at the end: the CLI must not wait on idle keep-alive sockets. Behind
  // HTTPS_PROXY the management API goes through the proxy, as the registries do.
  const timeouts = { connectTimeout: 15_000, headersTimeout: 60_000, bodyTimeout: 60_000 };
  const proxy = proxySettings(opts.env ?? process.env);
  const dispatcher = proxy ? envHttpProxyAgent({ ...timeouts, ...proxy }) : new Agent(timeouts);
  try {
    for (const [registry, { swr, orgs }] of byRegistry) {
      const keys = swr.keys;
      if (!keys || !swr.managementEndpoint) {
        result.unchecked.push(registry);
        opts.logger?.warn({ registry, organizations: [...orgs] },
          `SWR organizations on ${registry} are not checked: ${keys ? 'no managementEndpoint' : 'a console login cannot call the management API (configure accessKey/secretKey to have them created)'}`);
        continue;
      }
      const client = new SwrManagementClient({
        endpoint: swr.managementEndpoint,
        auth: { kind: 'aksk', key: { ak: keys.accessKey, sk: keys.secretKey } },
        ...(swr.projectId ? { projectId: swr.projectId } : {}),
        dispatcher,
        ...(opts.now ? { now: opts.now } : {}),
      });
      const ensurer = new OrgEnsurer(client);
      if (opts.mode === 'check') {
        const { missing } = await ensurer.quotaCheck(orgs);
        if (missing.length) opts.logger?.info({ registry, organizations: missing }, `SWR organizations to create on ${registry}: ${missing.join(', ')}`);
        continue;
      }
      const states = await ensurer.ensureAll(orgs);
      result.orgs.set(registry, states);
      const created = [...states].filter(([, s]) => s === 'created').map(([o]) => o);
      if (created.length) opts.logger?.info({ registry, organizations: created }, `created SWR organization(s) on ${registry}: ${created.join(', ')}`);
    }
  } finally {
    await dispatcher.close();
  }
  return result;
}

/** The destinations of config rules. */
export function ruleDestinations(rules: ReadonlyArray<{ destinations: ReadonlyArray<Destination> }>): Destination[] {
  return rules.flatMap((r) => r.destinations.map((d) => ({ registry: d.registry, repository: d.repository })));
}

/** The destinations of queue message bodies; undecodable bodies are the copier's to report. */
export function messageDestinations(bodies: Iterable<string>): Destination[] {
  const out: Destination[] = [];
  for (const body of bodies) {
    try {
      const m = decodeMessage(body);
      // A namespace letter's destinations are known once it is listed again (the copier checks them).
      const refs = m.kind === 'copy-image' ? [parseReference(m.destination)] : m.kind === 'expand-repository' ? m.destinations.map(parseRepositoryReference) : [];
      for (const r of refs) out.push({ registry: r.registry, repository: r.repository });
    } catch {
      continue;
    }
  }
  return out;
}
