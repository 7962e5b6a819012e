// A stand-in for Docker Hub's pull budget (REFERENCE.md section 3): an HTTP proxy in front of a real
// distribution registry that
//   - counts manifest GETs per client per window (anonymous and Basic-authenticated clients have
//     separate counters and limits, as Docker Hub counts per IP or per account);
//   - adds `ratelimit-limit: N;w=W` and `ratelimit-remaining: R;w=W` (and docker-ratelimit-source)
//     to every manifest response, HEAD included; HEADs never count;
//   - answers 429 TOOMANYREQUESTS to a manifest GET once the window's budget is spent;
//   - refills W seconds after the window's first GET (a short W keeps the tests fast).
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { listenTracked } from './cleanup.js';
import type { RegistryHandle } from './registry.js';

export interface DockerHubOptions {
  /** Manifest GETs per window, anonymous (Docker Hub: 100). */
  anonymous: number;
  /** Manifest GETs per window, Basic-authenticated (Docker Hub: 200). */
  authenticated: number;
  /** Window in seconds (Docker Hub: 21600). */
  windowS: number;
  /** Awaited before each manifest GET is answered (a test holds the first one to check ordering). */
  beforeGet?: () => Promise<void>;
}

export interface DockerHubEvent {
  method: string;
  path: string;
  status: number;
  at: number;
}

export interface DockerHubHandle {
  host: string;
  /** Every manifest request, in arrival order. */
  manifests: DockerHubEvent[];
  /** 429s answered. */
  refused: number;
  stop(): Promise<void>;
}

const MANIFEST = /^\/v2\/.+\/manifests\/[^/]+$/;

export async function startDockerHub(target: RegistryHandle, opts: DockerHubOptions): Promise<DockerHubHandle> {
  const [, targetPort] = target.host.split(':');
  const windows = new Map<string, { start: number; used: number }>();
  const handle: DockerHubHandle = { host: '', manifests: [], refused: 0, stop: async () => {} };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    const isManifest = MANIFEST.test(path.split('?')[0]!);
    const auth = String(req.headers.authorization ?? '');
    const client = auth.startsWith('Basic ') ? `user:${Buffer.from(auth.slice(6), 'base64').toString().split(':')[0]}` : 'anonymous';
    const limit = client === 'anonymous' ? opts.anonymous : opts.authenticated;
    const now = Date.now();
    let w = windows.get(client);
    if (!w || now - w.start >= opts.windowS * 1000) windows.set(client, (w = { start: now, used: 0 }));
    const extra: Record<string, string> = {};
    if (isManifest) {
      if (method === 'GET' && w.used >= limit) {
        handle.refused++;
        handle.manifests.push({ method, path, status: 429, at: now });
        req.resume();
        const body = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit.' }] });
        res.writeHead(429, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'ratelimit-limit': `${limit};w=${opts.windowS}`,
          'ratelimit-remaining': `0;w=${opts.windowS}`,
        });
        return void res.end(body);
      }
      if (method === 'GET') w.used++;
      extra['ratelimit-limit'] = `${limit};w=${opts.windowS}`;
      extra['ratelimit-remaining'] = `${limit - w.used};w=${opts.windowS}`;
      extra['docker-ratelimit-source'] = client === 'anonymous' ? '127.0.0.1' : client.slice(5);
    }
    const forward = (): void => {
      const up = httpRequest({ host: '127.0.0.1', port: Number(targetPort), method, path, headers: req.headers }, (ur) => {
        if (isManifest) handle.manifests.push({ method, path, status: ur.statusCode ?? 0, at: now });
        res.writeHead(ur.statusCode ?? 502, { ...ur.headers, ...extra });
        pipeline(ur, res).catch(() => res.destroy());
      });
      up.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy error: ${err.message}`);
      });
      req.pipe(up);
    };
    if (isManifest && method === 'GET' && opts.beforeGet) void opts.beforeGet().then(forward, forward);
    else forward();
  };

  const server = createServer(onRequest);
  const { port, stop } = await listenTracked(server);
  Object.assign(handle, { host: `127.0.0.1:${port}`, stop });
  return handle;
}
