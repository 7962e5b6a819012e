// One client per (registry, role) over keep-alive undici dispatchers, one per TLS profile (most runs
// have one), so connections and tokens are reused by every copy of a run.
import type { Agent, Dispatcher } from 'undici';
import { createDispatcher, Pool, proxySettings, type ProxySettings } from './http/undici-agent.js';
import { DEFAULT_TIMEOUT_S } from './http/deadline.js';
import { tlsConnectOptions, tlsConnector, tlsProfileKey } from './http/tls.js';
import { guardedLookup, type LookupFunction } from './http/lookup.js';
import type { Logger } from 'pino';
import { registryEndpointHost } from '../oci/reference.js';
import type { Credentials } from './auth/auth.js';
import { AuthError, type CredentialSource } from '../errors.js';
import { type SwrAccess, swrAccessForHost } from '../vendors/swr/config.js';
import type { ListingSettings } from '../listing/settings.js';
import { ecrHost } from '../vendors/ecr/detect.js';
import { ecrCredentialsProvider } from '../vendors/ecr/listing.js';
import { registryRefusalExplainer, tokenRefusalExplainer } from '../vendors/swr/refusal.js';
import { UndiciRegistryClient } from './client.js';
import { busyTolerant, HTTP_RETRY, type RetryPolicy } from './http/retry.js';
import { PushBudget, pushTenant } from './limits/push-budget.js';
import { PullBudget } from './limits/pull-budget.js';
import { RegistryWindows } from './limits/window-gate.js';
import { ByteBucket } from './limits/bandwidth.js';
import type { RegistryClient, RegistryStats } from './types.js';

export interface RegistryAccess {
  credentials?: Credentials;
  /**
   * image-syncer / containers/image semantics: HTTPS without certificate verification, falling back
   * to plain HTTP when the port does not speak TLS.
   */
  insecure?: boolean;
  /** PEM bundle of extra CAs to trust for this registry (a private CA). */
  caFile?: string;
  /** Client certificate and key (PEM) for registries that require mutual TLS. */
  certFile?: string;
  keyFile?: string;
  /** Token realms allowed besides the registry's own host and its parent domains (URLs or hosts). */
  tokenRealms?: string[];
  /** Allow redirects, realms and locations to link-local / cloud metadata addresses (refused by default). */
  allowLinkLocal?: boolean;
  /** Connections at most per origin of this registry. */
  connections?: number;
  /**
   * The entry's `concurrency`: besides blob transfers (copy/context.ts), the upper bound of each of
   * the registry's AIMD windows, i.e. of its requests of one kind in flight (limits/window-gate.ts).
   */
  concurrency?: number;
  /** Blob bytes per second from this registry, and to it, each way (limits/bandwidth.ts). */
  maxBytesPerSecond?: number;
  /** Set when the registry is Huawei SWR (lib/vendors/swr/config.ts): edition, region, endpoints, push budget, keys. */
  swr?: SwrAccess;
  /** The listing API of a source (lib/listing): its type, endpoint and token. */
  listing?: ListingSettings;
  /**
   * Credentials that expire (ECR's 12-hour login): asked before each authenticated request, and
   * refreshed by the provider itself. Used when `credentials` is not set.
   */
  credentialsProvider?: () => Promise<Credentials>;
  /** Where these credentials were given (lib/config/load.ts), named by an authentication failure. */
  credentialsFrom?: CredentialSource;
}

/** Finds credentials and transport settings for a repository (longest-prefix match, see auth-file). */
export type AccessResolver = (registry: string, repository: string) => RegistryAccess;

export type Role = 'source' | 'destination';

export interface PoolOptions {
  resolve: AccessResolver;
  retry?: RetryPolicy;
  logger?: Logger;
  /** One dispatcher for everything (tests); TLS options and proxies are then its business. */
  dispatcher?: Dispatcher;
  /** Where HTTPS_PROXY, HTTP_PROXY, NO_PROXY and NODE_EXTRA_CA_CERTS are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Seconds: each request's deadline base and undici's idle timeouts (`defaults.timeout`). */
  timeout?: number;
  /** Connections at most per origin, where the registry sets none (`defaults.connections`). */
  connections?: number;
  /** The resolver under the link-local guard (tests give a fake one); default: node's dns.lookup. */
  dnsLookup?: LookupFunction;
  /** Told the status of every registry response, by registry as references name it (serve's metrics). */
  onResponse?: (registry: string, status: number) => void;
}

/**
 * Connections per origin by default (issue 6, item 8). Without a cap undici opens one per request
 * in flight: a 100-layer image times 16 copiers opened over 100 to one registry. 64 stays above what
 * the copy engine has in flight per registry (16 transfers, 32 blob checks, one manifest request
 * per copier, 16 by default), so the cap bounds bursts without queueing normal work.
 */
export const DEFAULT_CONNECTIONS = 64;

/** Agent options: keep-alive, idle timeouts from `timeout`, and a per-origin connection cap. */
export function agentOptions(timeoutS: number, connectionsFor: (origin: string) => number): Agent.Options {
  return {
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    connectTimeout: Math.min(15_000, timeoutS * 1000),
    headersTimeout: timeoutS * 1000,
    bodyTimeout: timeoutS * 1000,
    factory: (origin: string | URL, opts: object) => new Pool(origin, { ...opts, connections: connectionsFor(String(origin)) }),
  };
}

export class ClientPool {
  /** Dispatchers by TLS profile key. */
  private readonly dispatchers = new Map<string, Dispatcher>();
  private readonly clients = new Map<string, UndiciRegistryClient>();
  private readonly proxy: ProxySettings | undefined;
  /** Per-registry `connections`, by API host (the origin's host). */
  private readonly hostConnections = new Map<string, number>();
  /** Host names whose registry entry has `allowLinkLocal`. */
  private readonly linkLocalHosts = new Set<string>();
  /** SWR push budgets by tenant (push-budget.ts), shared by every destination client of the tenant. */
  private readonly budgets = new Map<string, PushBudget>();
  /** ECR logins by host, shared by every client of that host (one GetAuthorizationToken per 11 h). */
  private readonly ecrLogins = new Map<string, () => Promise<Credentials>>();
  /** Pull budgets of sources (limits/pull-budget.ts), by endpoint and login: Docker Hub counts per account or IP. */
  private readonly rateBudgets = new Map<string, PullBudget>();
  /** AIMD windows by API host, shared by every client of the host, whatever its role or login. */
  private readonly windows = new Map<string, RegistryWindows>();
  /** Bandwidth buckets by API host (`maxBytesPerSecond`). */
  private readonly bandwidth = new Map<string, { download: ByteBucket; upload: ByteBucket }>();

  constructor(private readonly opts: PoolOptions) {
    this.proxy = proxySettings(opts.env ?? process.env);
  }

  /** The options of every dispatcher of the pool, in one place. */
  private agentOptions(): Agent.Options {
    const fallback = this.opts.connections ?? DEFAULT_CONNECTIONS;
    return agentOptions(this.opts.timeout ?? DEFAULT_TIMEOUT_S, (origin) => this.hostConnections.get(new URL(origin).host) ?? fallback);
  }

  /**
   * The dispatcher for a registry's TLS settings. Built on first use, which reads caFile, certFile and
   * keyFile: a file that cannot be used fails the images of that registry with one TlsError.
   */
  private dispatcherFor(registry: string, access: RegistryAccess): Dispatcher {
    if (this.opts.dispatcher) return this.opts.dispatcher;
    const key = tlsProfileKey(access);
    let dispatcher = this.dispatchers.get(key);
    if (!dispatcher) {
      const options = this.agentOptions();
      const tls = tlsConnectOptions(registry, access, undefined, this.opts.env ?? process.env);
      // undici builds its own connector only when given none: pass the connect timeout on.
      // The DNS half of the link-local refusal: a name that resolves to 169.254.x.x or a metadata
      // address is refused at connect time, unless a registry on that host allows it (lookup.ts).
      const lookup = guardedLookup((host) => this.linkLocalHosts.has(host), this.opts.dnsLookup);
      const connect = tlsConnector({ timeout: options.connectTimeout, ...tls, lookup } as Parameters<typeof tlsConnector>[0]);
      dispatcher = createDispatcher(options, tls, connect, this.proxy);
      this.dispatchers.set(key, dispatcher);
    }
    return dispatcher;
  }

  /**
   * The client for a repository. Credentials may differ per namespace (image-syncer's
   * `registry/namespace` keys), so clients are keyed by the credentials that apply, not just the host.
   */
  client(registry: string, repository: string, role: Role): RegistryClient {
    const access = this.access(registry, repository);
    // Realm trust and link-local permission change what a client may do: part of its identity too.
    const trust = `${(access.tokenRealms ?? []).join(' ')}|${access.allowLinkLocal ? 1 : 0}`;
    const key = [registry, role, tlsProfileKey(access), trust, access.credentials?.username ?? '', access.credentials?.password ?? ''].join('\u0000');
    const endpoint = registryEndpointHost(registry);
    const swrPush = role === 'destination' && access.swr !== undefined;
    // Looked up (and tightened) on every call: namespaces of one tenant may share a client, yet
    // each entry's limits must count.
    const pushBudget = swrPush ? this.pushBudget(endpoint, access) : undefined;
    const windows = this.windowsFor(endpoint, access);
    const bandwidth = this.bandwidthFor(endpoint, access);
    let client = this.clients.get(key);
    if (!client) {
      // The first namespace's setting wins: connections are shared by the whole origin.
      if (access.connections && !this.hostConnections.has(endpoint)) this.hostConnections.set(endpoint, access.connections);
      if (access.allowLinkLocal) this.linkLocalHosts.add(new URL(`https://${endpoint}`).hostname);
      client = new UndiciRegistryClient({
        registry,
        endpoint,
        credentials: access.credentials,
        insecure: access.insecure,
        tokenRealms: access.tokenRealms,
        allowLinkLocal: access.allowLinkLocal,
        dispatcher: this.dispatcherFor(registry, access),
        actions: role === 'destination' ? ['pull', 'push'] : ['pull'],
        // SWR answers 503 when the tenant is over its push limits: wait that out (retry.ts).
        retry: swrPush ? busyTolerant(this.opts.retry ?? HTTP_RETRY) : this.opts.retry,
        timeout: this.opts.timeout,
        logger: this.opts.logger?.child({ registry, role }),
        pushBudget,
        rateBudget: role === 'source' ? this.rateBudget(registry, repository) : undefined,
        windows,
        bandwidth,
      });
      if (!access.credentials && access.credentialsProvider) client.transport.auth.credentialsProvider = access.credentialsProvider;
      // A refusal names where the user gave these credentials (their file and flag).
      const from = access.credentialsFrom;
      client.transport.auth.credentialsFrom = from;
      const sourced = (err: AuthError) => (from ? new AuthError(err.host, err.status, err.detail, err.expired, from) : undefined);
      client.transport.explainRefusal = sourced;
      const observe = this.opts.onResponse;
      if (observe) client.transport.onResponse = (status) => observe(registry, status);
      // SWR answers a push into a missing organization with 401, like a wrong password: say which.
      if (role === 'destination' && access.swr) {
        const swr = registryRefusalExplainer(registry, access.swr);
        client.transport.auth.explainRefusal = tokenRefusalExplainer(registry, access.swr);
        client.transport.explainRefusal = (err, req) => swr(err, req) ?? sourced(err);
      }
      this.clients.set(key, client);
    }
    return client;
  }

  /**
   * The push budget of an SWR destination's tenant. Entries of one tenant (namespaces, or the same
   * login on several entries) share it, with the smallest pushConcurrency and pushRate any of them
   * gives (PushBudget.tighten): the limit is the tenant's, so the strictest setting is the safe one.
   * An entry counts from its first client on; entries are resolved lazily, as repositories are.
   */
  private pushBudget(endpoint: string, access: RegistryAccess): PushBudget {
    const { pushConcurrency, pushRate } = access.swr!;
    const tenant = pushTenant(access.credentials?.username, endpoint);
    let budget = this.budgets.get(tenant);
    if (budget) budget.tighten(pushConcurrency, pushRate);
    else this.budgets.set(tenant, (budget = new PushBudget(tenant, pushConcurrency, pushRate)));
    return budget;
  }

  /**
   * The windows of a registry host, bounded by its entries' `concurrency` and its connections per
   * origin. Like the push budget, the smallest bound any entry of the host gives wins: the load
   * is the host's, whichever namespace's images cause it.
   */
  private windowsFor(endpoint: string, access: RegistryAccess): RegistryWindows {
    // More in flight than connections would only queue in undici: the connections bound the windows too.
    const connections = access.connections ?? this.hostConnections.get(endpoint) ?? this.opts.connections ?? DEFAULT_CONNECTIONS;
    const bound = Math.min(access.concurrency ?? Infinity, connections);
    let w = this.windows.get(endpoint);
    if (w) w.tighten(bound);
    else this.windows.set(endpoint, (w = new RegistryWindows(endpoint, bound)));
    return w;
  }

  /** The bandwidth buckets of a registry host with `maxBytesPerSecond` (the first entry's that gives one). */
  private bandwidthFor(endpoint: string, access: RegistryAccess): { download: ByteBucket; upload: ByteBucket } | undefined {
    const known = this.bandwidth.get(endpoint);
    if (known || access.maxBytesPerSecond === undefined) return known;
    const buckets = { download: new ByteBucket(access.maxBytesPerSecond), upload: new ByteBucket(access.maxBytesPerSecond) };
    this.bandwidth.set(endpoint, buckets);
    return buckets;
  }

  /** The windows of every registry host the pool has talked to, for reports and tests. */
  windowStats(): Record<string, ReturnType<RegistryWindows['stats']>> {
    return Object.fromEntries([...this.windows].map(([host, w]) => [host, w.stats()]));
  }

  /** The dispatcher for a registry's side APIs (listing), with the registry's TLS, proxy and link-local settings. */
  apiDispatcher(registry: string): Dispatcher {
    return this.dispatcherFor(registry, this.access(registry, ''));
  }

  /** The pull budget a source repository's GETs count against (one per endpoint and login). */
  rateBudget(registry: string, repository: string): PullBudget {
    const access = this.access(registry, repository);
    const endpoint = registryEndpointHost(registry);
    const key = `${endpoint}\u0000${access.credentials?.username ?? ''}`;
    let tracker = this.rateBudgets.get(key);
    if (!tracker) this.rateBudgets.set(key, (tracker = new PullBudget(endpoint, Boolean(access.credentials))));
    return tracker;
  }

  /** The settings that apply to a repository (credentials, TLS, SWR), as the resolver finds them. */
  access(registry: string, repository: string): RegistryAccess {
    const access = this.ecrLogin(registry, this.opts.resolve(registry, repository));
    if (access.swr) return access;
    // SWR by its host, when the settings came from where `type: swr` cannot be said (auth files).
    const swr = swrAccessForHost(registry);
    return swr ? { ...access, swr } : access;
  }

  /** An ECR host without username/password logs in with GetAuthorizationToken (lib/vendors/ecr/listing.ts). */
  private ecrLogin(registry: string, access: RegistryAccess): RegistryAccess {
    if (access.credentials || access.credentialsProvider || (!ecrHost(registry) && access.listing?.type !== 'ecr')) return access;
    let provider = this.ecrLogins.get(registry);
    if (!provider) this.ecrLogins.set(registry, (provider = ecrCredentialsProvider(registry, access.listing?.apiEndpoint ? { endpoint: access.listing.apiEndpoint } : {})));
    // The login comes from the AWS credential chain, not from the file the entry is in.
    const { credentialsFrom: _file, ...rest } = access;
    return { ...rest, credentialsProvider: provider };
  }

  /** Requests per registry host, for reports and benchmarks. */
  stats(): Record<string, RegistryStats> {
    const out: Record<string, RegistryStats> = {};
    for (const c of this.clients.values()) {
      const s = c.stats();
      const t = (out[c.registry] ??= { requests: 0, tokenRequests: 0 });
      t.requests += s.requests;
      t.tokenRequests += s.tokenRequests;
    }
    return out;
  }

  /**
   * Close every connection. A request still pending (a TLS handshake that never completes, after a
   * Ctrl-C gave up on it: undici waits for its connect timeout) must not hold the exit: after
   * `graceMs` the dispatchers are destroyed instead.
   */
  async close(graceMs = 1000): Promise<void> {
    const owned = [...this.dispatchers.values()];
    this.dispatchers.clear();
    await Promise.all(
      owned.map(async (d) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
        const closed = d.close().then(() => 'closed' as const, () => 'closed' as const);
        const first = await Promise.race([closed, late]);
        clearTimeout(timer);
        if (first === 'late') await d.destroy().catch(() => undefined);
      }),
    );
  }
}
