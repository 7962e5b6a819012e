// What a tool's destination registry looks like from the outside. Most tools talk to the fresh
// distribution registry directly; a tool listed here talks to a stand-in in front of it instead
// (the SWR Basic proxy for `ours-swr`). The access logs are always the backing registry's, so a
// request the stand-in refuses is not counted as one the registry served; the stand-in's own
// counters (refusedOci) say what it turned away.
import type { RegistryHandle } from '../test/helpers/registry.js';
import { swrState } from '../test/helpers/swr-api-server.js';
import { startSwrRegistryProxy } from '../test/helpers/swr-registry-proxy.js';
import type { Tool } from './workloads.js';

export interface Front {
  /** host:port the tool is given. */
  host: string;
  /** Manifest PUTs the stand-in refused because they were OCI-typed (SWR's 400 MANIFEST_INVALID). */
  refusedOci(): number;
  stop(): Promise<void>;
}

type FrontFactory = (registry: RegistryHandle, prefix: string) => Promise<Front>;

/**
 * The SWR stand-in; the bench's destination namespace is an organization the account owns. Basic
 * refuses OCI manifests; EE (`acceptOci`) takes them, which makes it the unconverted baseline
 * behind the very same hop, so a comparison of the two measures the conversion alone.
 */
function swrFront(acceptOci: boolean): FrontFactory {
  return async (registry, prefix) => {
    const state = swrState();
    // SWR organizations are the first path component; without it every push is 401 DENIED.
    state.orgs.set(prefix.split('/')[0]!, { auth: 7, mine: true });
    const proxy = await startSwrRegistryProxy(registry, { state, acceptOci });
    return { host: proxy.host, refusedOci: () => proxy.refused.oci, stop: () => proxy.stop() };
  };
}

const FRONTS: Partial<Record<Tool, FrontFactory>> = { 'ours-swr': swrFront(false), 'ours-swr-ee': swrFront(true) };

/** The stand-in a tool's destination sits behind, or undefined: the registry itself. */
export function openFront(tool: Tool, registry: RegistryHandle, prefix: string): Promise<Front> | undefined {
  return FRONTS[tool]?.(registry, prefix);
}
