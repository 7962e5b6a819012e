// A throttling stand-in in front of a test registry (issue 15, item 3): it answers 429
// TOOMANYREQUESTS to a request that arrives while `limit` requests of its kind are already in flight
// (as a registry or a load balancer with a per-client concurrency cap does), and holds every request
// it accepts for `holdMs` before forwarding it (a WAN round trip, so that requests overlap). It
// measures what a registry would see: requests of each kind in flight over time, their peak, and
// when each refusal happened.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { track } from './cleanup.js';
import type { RegistryHandle } from './registry.js';

export type RequestKind = 'manifest' | 'blob' | 'blob-head' | 'upload' | 'mount' | 'other';

export function requestKind(method: string, path: string): RequestKind {
  const p = path.split('?')[0]!;
  if (/\/manifests\/[^/]+$/.test(p) && (method === 'GET' || method === 'HEAD')) return 'manifest';
  if (/\/blobs\/sha256:[0-9a-f]{64}$/.test(p)) return method === 'HEAD' ? 'blob-head' : 'blob';
  if (p.includes('/blobs/uploads/')) return method === 'POST' && /[?&]mount=/.test(path) ? 'mount' : 'upload';
  return 'other';
}

export interface KindStats {
  /** Accepted requests in flight now, and the most at once. */
  inFlight: number;
  peak: number;
  accepted: number;
  /** When each refusal was answered (ms since the proxy started). */
  refusedAt: number[];
  /** When each accepted request arrived (ms). */
  arrivals: number[];
  /** [time ms, in flight] at every change, for time-weighted averages. */
  changes: [number, number][];
  /** How long each accepted request was in flight here (ms): the stand-in's service time. */
  durations: number[];
}

export interface ThrottleProxyHandle {
  host: string;
  /** Requests of one kind in flight above which the proxy refuses (Infinity: never). Read per request. */
  limit: number;
  holdMs: number;
  kinds: Map<RequestKind, KindStats>;
  /** ms since the proxy started. */
  now(): number;
  /** The time-weighted mean of a kind's requests in flight over [from, to). */
  meanInFlight(kind: RequestKind, from: number, to: number): number;
  reset(): void;
  stop(): Promise<void>;
}

export async function startThrottleProxy(target: RegistryHandle, opts: { limit: number; holdMs: number }): Promise<ThrottleProxyHandle> {
  const started = performance.now();
  const now = (): number => performance.now() - started;
  const [targetHost, targetPort] = target.host.split(':');
  const kinds = new Map<RequestKind, KindStats>();
  const stats = (k: RequestKind): KindStats => {
    let s = kinds.get(k);
    if (!s) kinds.set(k, (s = { inFlight: 0, peak: 0, accepted: 0, refusedAt: [], arrivals: [], changes: [], durations: [] }));
    return s;
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const s = stats(requestKind(req.method ?? 'GET', req.url ?? '/'));
    if (s.inFlight >= handle.limit) {
      s.refusedAt.push(now());
      const body = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'too many requests in flight' }] });
      req.resume();
      const send = (): void => {
        res.writeHead(429, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      if (req.complete) send();
      else req.once('end', send);
      return;
    }
    s.accepted++;
    s.arrivals.push(now());
    s.inFlight++;
    s.peak = Math.max(s.peak, s.inFlight);
    s.changes.push([now(), s.inFlight]);
    let done = false;
    const arrived = now();
    const finish = (): void => {
      if (done) return;
      done = true;
      s.durations.push(now() - arrived);
      s.inFlight--;
      s.changes.push([now(), s.inFlight]);
    };
    res.once('close', finish);
    req.pause();
    setTimeout(() => {
      const up = httpRequest(
        { host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          // Done once the last byte is written, not when the upstream's end is noticed later: the
          // client knows the body is complete from its length and may send its next request first.
          const length = Number(upRes.headers['content-length']);
          let bytes = 0;
          if (req.method !== 'HEAD' && length > 0) {
            upRes.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
              if (bytes >= length) finish();
            });
          }
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
      req.resume();
    }, handle.holdMs);
  };

  const server = createServer(onRequest);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const handle: ThrottleProxyHandle = {
    host: `127.0.0.1:${port}`,
    limit: opts.limit,
    holdMs: opts.holdMs,
    kinds,
    now,
    meanInFlight(kind, from, to) {
      const changes = kinds.get(kind)?.changes ?? [];
      let area = 0;
      let level = 0;
      let at = from;
      for (const [t, n] of changes) {
        if (t <= from) {
          level = n;
          continue;
        }
        if (t >= to) break;
        area += level * (t - at);
        at = t;
        level = n;
      }
      area += level * (to - at);
      return area / (to - from);
    },
    reset: () => kinds.clear(),
    stop: () => {
      untrack();
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
  const untrack = track({ stop: () => handle.stop(), stopSync: () => server.close() });
  return handle;
}
