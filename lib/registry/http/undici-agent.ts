// The undici Agent with its request API, without the rest of undici. Loading undici's index.js
// costs ~190 ms at start-up (fetch, WebSocket, caches, mocks are all evaluated); the Agent plus the
// api mixin costs ~77 ms, and start-up is most of a no-op sync. This is exactly what index.js does
// for these two pieces (`Object.assign(Dispatcher.prototype, api)`), on the pinned undici 7.30.2.
// The proxy agents are loaded only when a proxy is configured.
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Pool as UndiciPool, Dispatcher as UndiciDispatcher, EnvHttpProxyAgent as UndiciEnvHttpProxyAgent } from 'undici';
import type { buildConnector as buildConnectorType } from 'undici';

const require = createRequire(import.meta.url);
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
const api = require('undici/lib/api/index.js') as object;
if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, api);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
export const buildConnector = require('undici/lib/core/connect.js') as typeof buildConnectorType;

/** Where requests go through a forward proxy: curl's and Go's variables (lower case first; empty is unset). */
export interface ProxySettings {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

/** The proxy settings in an environment, or undefined when no proxy is set (the common case). */
export function proxySettings(env: NodeJS.ProcessEnv): ProxySettings | undefined {
  const httpProxy = env.http_proxy || env.HTTP_PROXY || '';
  // Empty when unset: undici's EnvHttpProxyAgent then sends HTTPS through HTTP_PROXY, as curl does.
  const httpsProxy = env.https_proxy || env.HTTPS_PROXY || '';
  if (!httpProxy && !httpsProxy) return undefined;
  return { httpProxy, httpsProxy, noProxy: env.no_proxy || env.NO_PROXY || '' };
}

/**
 * A dispatcher for one TLS profile. Behind a proxy, undici's EnvHttpProxyAgent tunnels (CONNECT)
 * to every host NO_PROXY does not exclude; it applies `requestTls` to the tunnelled TLS and our
 * `connect` to direct connections. Its settings are passed explicitly, so the pool's environment
 * decides, not whatever process.env holds later.
 */
export function createDispatcher(
  agentOptions: UndiciAgent.Options,
  tls: buildConnectorType.BuildOptions,
  connect: buildConnectorType.connector,
  proxy: ProxySettings | undefined,
): UndiciDispatcher {
  if (!proxy) return new Agent({ ...agentOptions, connect });
  const EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof UndiciEnvHttpProxyAgent;
  return new EnvHttpProxyAgent({ ...agentOptions, connect, requestTls: tls, ...proxy } as UndiciEnvHttpProxyAgent.Options);
}

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;

/** undici's EnvHttpProxyAgent, loaded when a proxy is configured. */
export function envHttpProxyAgent(options: UndiciEnvHttpProxyAgent.Options): UndiciEnvHttpProxyAgent {
  const EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof UndiciEnvHttpProxyAgent;
  return new EnvHttpProxyAgent(options);
}

type RequestOptions = { dispatcher?: UndiciDispatcher } & Omit<UndiciDispatcher.RequestOptions, 'origin' | 'path' | 'method'> &
  Partial<Pick<UndiciDispatcher.RequestOptions, 'method'>>;

/**
 * undici's top-level `request(url, options)` (index.js makeDispatcher, for a URL without
 * `options.path`), on the given dispatcher or undici's global one. The side APIs (listing, SWR
 * management) call it; importing it from 'undici' would load all of index.js again (issue 15, item 8).
 */
export function request(url: URL, { dispatcher, ...options }: RequestOptions): Promise<UndiciDispatcher.ResponseData> {
  const target = dispatcher ?? (require('undici/lib/global.js') as { getGlobalDispatcher(): UndiciDispatcher }).getGlobalDispatcher();
  return target.request({
    ...options,
    origin: url.origin,
    path: url.search ? `${url.pathname}${url.search}` : url.pathname,
    method: options.method ?? (options.body ? 'PUT' : 'GET'),
  });
}
