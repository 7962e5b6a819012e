// The pure half of the fault proxy (fault-proxy.ts): what a request is (its route), whether it is
// faulted and how, and Docker Hub's pull-budget window. No I/O, so a decision can be checked alone.
//
// Reproducibility under concurrency: a run with 16 copiers sends requests in an order that changes
// from run to run, so one PRNG stream consumed in arrival order would fault different requests each
// time. Instead each decision gets its own mulberry32 generator, seeded from (seed, side, what the
// request is about, how many times that exact request was seen before): the n-th `GET blob X of
// repo R` is faulted, or not, the same way in every run with the same seed, whatever the interleaving.

export const FAULT_KINDS = ['503', '429', '429-hub', 'reset', 'cut-body', 'lost-response'] as const;
/**
 * - `503`: answered by the proxy (distribution's UNAVAILABLE body); the registry never sees it.
 * - `429`: TOOMANYREQUESTS with `Retry-After` and no rate-limit headers.
 * - `429-hub`: Docker Hub's throttle on a budgeted source: `ratelimit-*` headers stating the true
 *   remaining (> 0 unless spent), `docker-ratelimit-source`, no Retry-After. Only with `budget`.
 * - `reset`: the client's socket is reset (RST) before any answer; the registry never sees it.
 * - `cut-body`: a GET forwarded, its status and full Content-Length sent, then part of the body and
 *   the socket destroyed. The only kind the registry sees.
 * - `lost-response` (off by default): forwarded, the registry acts on it (an upload PUT commits),
 *   then the socket is reset instead of answering.
 */
export type FaultKind = (typeof FAULT_KINDS)[number];
export type Side = 'registry' | 'cdn';

export const DEFAULT_WEIGHTS: Readonly<Record<FaultKind, number>> = {
  '503': 1, '429': 1, '429-hub': 1, reset: 1, 'cut-body': 1, 'lost-response': 0,
};

export const ROUTES = [
  'ping', 'catalog', 'tag-list',
  'manifest-head', 'manifest-get', 'manifest-put', 'manifest-delete',
  'blob-head', 'blob-get', 'blob-delete',
  'upload-post', 'upload-put', 'upload-patch', 'upload-get', 'upload-delete',
  'other',
] as const;
export type Route = (typeof ROUTES)[number];

export interface RouteInfo {
  route: Route;
  /** Repository name (`library/app`), when the path names one. */
  repository?: string;
  /** Manifest reference, blob digest, the digest an upload PUT commits, or a mount's digest. */
  ref?: string;
  /** `POST .../blobs/uploads/?mount=<digest>&from=<repo>`: a cross-repository mount. */
  mount?: boolean;
}

const PATHS: [RegExp, string][] = [
  [/^\/v2\/?$/, 'ping'],
  [/^\/v2\/_catalog$/, 'catalog'],
  [/^\/v2\/(.+)\/tags\/list$/, 'tag-list'],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, 'manifest'],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, 'upload-start'],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, 'upload'],
  [/^\/v2\/(.+)\/blobs\/([a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+)$/, 'blob'],
];

/** What a registry request is about. `pathAndQuery` is the request target as received. */
export function routeOf(method: string, pathAndQuery: string): RouteInfo {
  const url = new URL(pathAndQuery, 'http://x');
  const m = method.toLowerCase();
  for (const [re, base] of PATHS) {
    const hit = re.exec(url.pathname);
    if (!hit) continue;
    const repository = hit[1];
    const known = (route: string): Route => ((ROUTES as readonly string[]).includes(route) ? (route as Route) : 'other');
    switch (base) {
      case 'ping': case 'catalog': case 'tag-list':
        return { route: m === 'get' || m === 'head' ? (base as Route) : 'other', ...(repository ? { repository } : {}) };
      case 'manifest': return { route: known(`manifest-${m}`), repository, ref: decodeURIComponent(hit[2]!) };
      case 'blob': return { route: known(`blob-${m}`), repository, ref: hit[2]! };
      case 'upload-start': {
        const mount = url.searchParams.get('mount') ?? undefined;
        return { route: m === 'post' ? 'upload-post' : 'other', repository, ...(mount ? { ref: mount, mount: true } : {}) };
      }
      case 'upload': {
        const digest = url.searchParams.get('digest') ?? undefined;
        return { route: known(`upload-${m}`), repository, ...(digest ? { ref: digest } : {}) };
      }
    }
  }
  return { route: 'other' };
}

/**
 * The identity a decision is keyed on (before the occurrence count is added): stable across runs,
 * unlike upload session ids or `_state` query parameters.
 */
export function decisionKey(side: Side, method: string, info: RouteInfo, pathAndQuery: string): string {
  const what = info.route === 'other' ? pathAndQuery.split('?')[0] : `${info.repository ?? ''}|${info.ref ?? ''}`;
  const query = info.route === 'tag-list' || info.route === 'catalog' ? pathAndQuery.split('?')[1] ?? '' : '';
  return `${side}|${method}|${info.route}|${what}|${query}`;
}

/** FNV-1a, 32 bits: turns a key into a PRNG seed. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a tiny seeded PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Decision {
  kind: FaultKind | 'none';
  /** cut-body: the share of the body sent before the cut, in [0.05, 0.95). */
  cut: number;
}

/**
 * Fault or not, and which kind among the eligible ones (weights > 0). The first draw alone decides
 * "faulted", against `rate`, so lowering the rate only ever removes faults.
 */
export function decide(seed: number, key: string, rate: number, eligible: [FaultKind, number][]): Decision {
  const rng = mulberry32(fnv1a(`${seed}|${key}`));
  const faulted = rng() < rate;
  const pick = rng();
  const cut = 0.05 + 0.9 * rng();
  const total = eligible.reduce((s, [, w]) => s + w, 0);
  if (!faulted || total <= 0) return { kind: 'none', cut };
  let at = pick * total;
  for (const [kind, w] of eligible) {
    if (at < w) return { kind, cut };
    at -= w;
  }
  return { kind: eligible[eligible.length - 1]![0], cut };
}

/** Which kinds can apply to a request on this side (before weights). */
export function eligibleKinds(side: Side, method: string, route: Route, opts: { budget: boolean; cdn: boolean }): FaultKind[] {
  // A redirected blob GET answers 307 with no body: its cut happens at the CDN.
  const hasBody = method === 'GET' && !(side === 'registry' && opts.cdn && route === 'blob-get');
  if (side === 'cdn') return ['503', 'reset', ...(hasBody ? (['cut-body'] as const) : [])];
  return [
    '503', '429', 'reset',
    ...(opts.budget ? (['429-hub'] as const) : []),
    ...(hasBody ? (['cut-body'] as const) : []),
    'lost-response',
  ];
}

/**
 * Docker Hub's pull budget (REFERENCE.md section 3): manifest GETs counted per window of `windowS`
 * seconds (a window starts at the first manifest request after the previous one ended); HEADs are
 * free and still carry the headers.
 */
export class BudgetWindow {
  private start = -Infinity;
  used = 0;
  constructor(readonly limit: number, readonly windowS: number) {}

  /** Starts a fresh window when the current one is over. */
  roll(now: number): void {
    if (now - this.start >= this.windowS * 1000) {
      this.start = now;
      this.used = 0;
    }
  }

  get remaining(): number {
    return Math.max(0, this.limit - this.used);
  }

  take(): void {
    this.used++;
  }

  headers(source: string): Record<string, string> {
    return {
      'ratelimit-limit': `${this.limit};w=${this.windowS}`,
      'ratelimit-remaining': `${this.remaining};w=${this.windowS}`,
      'docker-ratelimit-source': source,
    };
  }
}
