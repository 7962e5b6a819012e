// A fault-injecting reverse proxy in front of a real (plain HTTP) distribution registry, for the chaos
// suite (issue 13 item 8). With a fixed seed it faults a share of the requests (default 25%) with 503s,
// 429s (plain, or Docker Hub's throttle), connection resets and bodies cut mid-way; what is faulted,
// and how, is decided per request in fault-proxy-plan.ts and recorded in fault-proxy-log.ts.
//   - Faults are decided before forwarding: the registry never sees a faulted request, except a cut
//     body (and the opt-in lost response), which need the registry's answer.
//   - `cdn: true`: every blob GET the registry would answer is redirected (307) to a second origin
//     on another address, like Docker Hub -> its CDN or ECR -> S3. The CDN serves the blob from the
//     registry, faults too (503, reset, cut body), and refuses any request carrying Authorization
//     (S3 does: a presigned URL is the only credential it takes).
//   - `budget`: Docker Hub's pull budget. Manifest GETs are counted per window, every manifest
//     response (HEAD too) carries `ratelimit-limit`/`ratelimit-remaining`, and once spent a manifest
//     GET gets a real 429 TOOMANYREQUESTS with remaining 0 until the window turns over.
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { track } from './cleanup.js';
import { cdnHandler, cdnLocation } from './fault-proxy-cdn.js';
import { FaultLog } from './fault-proxy-log.js';
import {
  BudgetWindow, DEFAULT_WEIGHTS, type Decision, type FaultKind, type RouteInfo,
  decide, decisionKey, eligibleKinds, routeOf,
} from './fault-proxy-plan.js';
import { type FaultCore, type Recorder, answer, errorsBody, listen, reset, sendCut } from './fault-proxy-wire.js';
import type { RegistryHandle } from './registry.js';

export interface FaultProxyOptions {
  /** Default 1. The same seed faults the same requests (see fault-proxy-plan.ts). */
  seed?: number;
  /** Share of registry requests faulted, 0..1. Default 0.25. */
  faultRate?: number;
  /** Share of CDN requests faulted. Default: `faultRate`. */
  cdnFaultRate?: number;
  /** Weight per kind; 0 switches a kind off. Unlisted kinds keep DEFAULT_WEIGHTS (lost-response: 0). */
  kinds?: Partial<Record<FaultKind, number>>;
  /** Redirect every blob GET to the CDN origin. */
  cdn?: boolean;
  /** Docker Hub's pull budget: `limit` manifest GETs per `windowS` seconds. */
  budget?: { limit: number; windowS: number; source?: string };
  /** Requests never faulted, matched against `METHOD path?query` (e.g. /^GET \/v2\/$/ for the ping). */
  exclude?: RegExp | ((method: string, path: string) => boolean);
  /** `Retry-After` of the plain 429, in seconds. Default 1. */
  retryAfterS?: number;
}

export interface FaultProxyHandle {
  host: string;
  url: string;
  /** The CDN's origin (another address: 127.0.0.2 when it can be bound). */
  cdnOrigin: string;
  log: FaultLog;
  readonly faultRate: number;
  /** Change the shares at run time; `setFaultRate(0)` heals the proxy. */
  setFaultRate(rate: number, cdnRate?: number): void;
  /** A new seed, and the occurrence counts start over: the next run is faulted as a first one. */
  setSeed(seed: number): void;
  budget?: BudgetWindow;
  /** Resolves once no forwarded request is still waiting for the registry (e.g. after killing a client). */
  idle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const NO_FAULT: Decision = { kind: 'none', cut: 0 };

export async function startFaultProxy(target: RegistryHandle, opts: FaultProxyOptions = {}): Promise<FaultProxyHandle> {
  const [upstreamHost, upstreamPort] = target.host.split(':') as [string, string];
  const weights = { ...DEFAULT_WEIGHTS, ...opts.kinds };
  const budget = opts.budget ? new BudgetWindow(opts.budget.limit, opts.budget.windowS) : undefined;
  const budgetSource = opts.budget?.source ?? '127.0.0.1';
  const retryAfter = String(opts.retryAfterS ?? 1);
  let seed = opts.seed ?? 1;
  let rate = opts.faultRate ?? 0.25;
  let cdnRate = opts.cdnFaultRate ?? rate;
  /** How many times each decision key was seen: the n-th occurrence is decided on its own. */
  const seen = new Map<string, number>();
  let cdnOrigin = '';

  const excluded = (method: string, path: string): boolean =>
    opts.exclude instanceof RegExp ? opts.exclude.test(`${method} ${path}`) : (opts.exclude?.(method, path) ?? false);

  const core: FaultCore = {
    log: new FaultLog(),
    busy: 0,
    choose(side, method, info, path) {
      const key = decisionKey(side, method, info, path);
      const n = seen.get(key) ?? 0;
      seen.set(key, n + 1);
      if (excluded(method, path)) return NO_FAULT;
      const eligible = eligibleKinds(side, method, info.route, { budget: !!budget, cdn: !!opts.cdn })
        .map((k): [FaultKind, number] => [k, weights[k]])
        .filter(([, w]) => w > 0);
      return decide(seed, `${key}|${n}`, side === 'cdn' ? cdnRate : rate, eligible);
    },
    recorder: (side, method, path, info, at) => (status, fault, refused) =>
      core.log.add({ side, method, path, route: info.route, status, fault, ...(refused ? { refused } : {}), at }),
  };
  const { log } = core;

  /** Forwards to the registry; Host is kept, so its absolute upload Locations point back here. */
  const forward = (req: IncomingMessage, res: ServerResponse, info: RouteInfo, decision: Decision, record: Recorder): void => {
    const method = req.method ?? 'GET';
    core.busy++;
    const up = httpRequest({ host: upstreamHost, port: Number(upstreamPort), method, path: req.url, headers: req.headers }, (ur) => {
      const status = ur.statusCode ?? 502;
      ur.on('error', () => res.destroy());
      if (status === 201 && info.repository && info.ref && (info.route === 'upload-put' || (info.route === 'upload-post' && info.mount))) {
        log.commit({ repository: info.repository, digest: info.ref, via: info.route === 'upload-put' ? 'put' : 'mount', at: Date.now() });
      }
      if (decision.kind === 'lost-response') {
        ur.resume();
        record(0, 'lost-response');
        return reset(req.socket);
      }
      if (opts.cdn && info.route === 'blob-get' && status === 200) {
        ur.destroy();
        record(307, 'none');
        const location = cdnLocation(cdnOrigin, info.repository!, info.ref!, randomBytes(16).toString('hex'));
        res.writeHead(307, { location, 'content-length': '0', 'docker-distribution-api-version': 'registry/2.0' });
        return void res.end();
      }
      // The budget as it stands now, this request's GET included (Docker Hub states it after counting).
      const headers = { ...ur.headers, ...(budget && info.route.startsWith('manifest-') ? budget.headers(budgetSource) : {}) };
      const length = ur.headers['content-length'] === undefined ? undefined : Number(ur.headers['content-length']);
      if (decision.kind === 'cut-body' && method === 'GET' && status >= 200 && status < 300 && length !== 0) {
        record(status, 'cut-body');
        res.writeHead(status, headers);
        return void sendCut(ur, res, length, decision.cut);
      }
      record(status, 'none');
      res.writeHead(status, headers);
      pipeline(ur, res).catch(() => res.destroy());
    });
    up.once('close', () => core.busy--);
    up.on('error', (err) => {
      record(502, 'none');
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: ${err.message}`);
    });
    // A client that goes away mid-upload must not leave the registry waiting for the rest.
    req.once('close', () => {
      if (!req.complete) up.destroy();
    });
    req.pipe(up);
  };

  const onRegistry = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const at = Date.now();
    const info = routeOf(method, path);
    const record = core.recorder('registry', method, path, info, at);
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    if (budget && info.route.startsWith('manifest-')) budget.roll(at);
    const decision = core.choose('registry', method, info, path);
    if (budget && info.route === 'manifest-get' && budget.remaining === 0) {
      record(429, 'none', 'budget');
      return answer(req, res, 429, budget.headers(budgetSource),
        errorsBody('TOOMANYREQUESTS', 'You have reached your pull rate limit. You may increase the limit by authenticating and upgrading'));
    }
    switch (decision.kind) {
      case '503':
        record(503, '503');
        return answer(req, res, 503, {}, errorsBody('UNAVAILABLE', 'service unavailable'));
      case '429':
        record(429, '429');
        return answer(req, res, 429, { 'retry-after': retryAfter }, errorsBody('TOOMANYREQUESTS', 'too many requests'));
      case '429-hub':
        // Docker Hub's throttle: the budget headers say what is really left (a throttle, not an empty budget).
        record(429, '429-hub');
        return answer(req, res, 429, budget!.headers(budgetSource), errorsBody('TOOMANYREQUESTS', 'Too Many Requests.'));
      case 'reset':
        record(0, 'reset');
        return reset(req.socket);
      default:
        if (budget && info.route === 'manifest-get') budget.take();
        forward(req, res, info, decision, record);
    }
  };

  const registry = createServer(onRegistry);
  const cdn = createServer(cdnHandler(target, core));
  const port = await listen(registry, '127.0.0.1');
  // Another address, not only another port, like a real CDN; 127.0.0.1 if 127.0.0.2 cannot be bound.
  let cdnHost = '127.0.0.2';
  const cdnPort = await listen(cdn, cdnHost).catch(async () => listen(cdn, (cdnHost = '127.0.0.1')));
  cdnOrigin = `http://${cdnHost}:${cdnPort}`;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    untrack();
    await Promise.all([registry, cdn].map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
  };
  const untrack = track({ stop, stopSync: () => [registry, cdn].forEach((s) => s.close()) });

  const handle: FaultProxyHandle = {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    cdnOrigin,
    log,
    get faultRate() {
      return rate;
    },
    setFaultRate(r: number, c = r) {
      if (!(r >= 0 && r <= 1 && c >= 0 && c <= 1)) throw new Error(`fault rates must be in [0, 1], got ${r}, ${c}`);
      rate = r;
      cdnRate = c;
    },
    setSeed(s: number) {
      seed = s;
      seen.clear();
    },
    async idle(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (core.busy > 0) {
        if (Date.now() > deadline) throw new Error(`fault proxy: ${core.busy} request(s) still waiting for the registry after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop,
  };
  if (budget) handle.budget = budget;
  return handle;
}
