// The client under test, pointed at hostile servers through a dispatcher that refuses anything
// outside 127.0.0.0/8: even if a refusal under test were broken, no request could leave the host.
import type { Dispatcher } from 'undici';
import type { Credentials } from '../../lib/registry/auth/auth.js';
import { UndiciRegistryClient } from '../../lib/registry/client.js';
import { Agent } from '../../lib/registry/http/undici-agent.js';
import { track } from './cleanup.js';

export interface LoopbackAgent {
  dispatcher: Dispatcher;
  /** Origins the client tried to reach outside loopback (should stay empty: refusals come first). */
  blocked: string[];
}

/** `ca`: a PEM certificate to trust, for HTTPS hostile servers. */
export function loopbackAgent(ca?: string): LoopbackAgent {
  const agent = new Agent({ connectTimeout: 5_000, ...(ca ? { connect: { ca } } : {}) });
  track({ stop: () => agent.close(), stopSync: () => void agent.destroy() });
  const blocked: string[] = [];
  const dispatcher = {
    request(opts: Dispatcher.RequestOptions) {
      const host = new URL(String(opts.origin)).hostname;
      if (!/^127\.\d+\.\d+\.\d+$/.test(host)) {
        blocked.push(String(opts.origin));
        return Promise.reject(new Error(`test guard: refused to contact ${String(opts.origin)}`));
      }
      return agent.request(opts);
    },
  } as unknown as Dispatcher;
  return { dispatcher, blocked };
}

export interface HostileClientOptions {
  /** Plain HTTP (default true: loopback test registries are marked insecure). */
  insecure?: boolean;
  credentials?: Credentials;
  tokenRealms?: string[];
  allowLinkLocal?: boolean;
}

/** A client for `host` (plain HTTP, marked insecure as loopback test registries are), one attempt per request. */
export function hostileClient(host: string, agent: LoopbackAgent, opts: HostileClientOptions = {}): UndiciRegistryClient {
  return new UndiciRegistryClient({
    registry: host,
    insecure: true,
    dispatcher: agent.dispatcher,
    retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    ...opts,
  });
}

/** Peak RSS while `fn` runs, sampled every 5 ms (the hostile server shares the process: an upper bound). */
export async function peakRss<T>(fn: () => Promise<T>): Promise<{ result: T | undefined; error: unknown; startMiB: number; peakMiB: number; ms: number }> {
  const startRss = process.memoryUsage().rss;
  const startMiB = startRss / 2 ** 20;
  let peak = startRss;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
  const start = Date.now();
  try {
    const result = await fn();
    return { result, error: undefined, startMiB, peakMiB: peak / 2 ** 20, ms: Date.now() - start };
  } catch (error) {
    return { result: undefined, error, startMiB, peakMiB: Math.max(peak, process.memoryUsage().rss) / 2 ** 20, ms: Date.now() - start };
  } finally {
    clearInterval(timer);
  }
}
