// serve's HTTP endpoints: GET /healthz, GET /metrics, POST /hooks/... (hooks.ts). While draining
// (after SIGTERM/SIGINT) webhooks and /healthz answer 503, so a load balancer stops sending and a
// sender retries against the next pod; /metrics keeps answering until the process exits.
import { type Server, createServer } from 'node:http';
import type { Logger } from 'pino';
import { UsageError } from '../errors.js';
import { handleHook, type HookDeps, loggablePath } from './hooks.js';
import type { ServeMetrics } from './metrics.js';

export interface ServerDeps {
  metrics: ServeMetrics;
  logger: Logger;
  /** True while the queue and its copiers run. */
  healthy(): boolean;
  /** True once a stop began. */
  draining(): boolean;
  /** The webhook receiver; without it /hooks/... answers 404. */
  hooks?: HookDeps<unknown>;
}

/** `--listen HOST:PORT` (IPv6 as `[::1]:8080`); a bad one is a usage error. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new UsageError(`--listen must be HOST:PORT (e.g. 127.0.0.1:8080 or 0.0.0.0:8080), got "${value}"`);
  return { host: (m[1] ?? m[2])!, port };
}

export function createServeServer(deps: ServerDeps): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const plain = (status: number, text: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${text}\n`);
    };
    if (req.method === 'POST' && path.startsWith('/hooks/')) {
      if (deps.draining()) {
        deps.logger.info({ method: req.method, path: loggablePath(path), status: 503 }, 'webhook refused: stopping');
        res.setHeader('connection', 'close');
        return plain(503, 'stopping');
      }
      if (!deps.hooks) return plain(404, 'not found');
      return void handleHook(req, res, deps.hooks).catch((err: unknown) => {
        deps.logger.error({ path: loggablePath(path), err: String(err) }, 'webhook handler failed');
        if (!res.headersSent) plain(500, 'error');
      });
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/healthz') return deps.healthy() && !deps.draining() ? plain(200, 'ok') : plain(503, 'draining');
      if (path === '/metrics') {
        return void deps.metrics.text().then(
          (text) => {
            res.writeHead(200, { 'content-type': deps.metrics.contentType });
            res.end(text);
          },
          (err: unknown) => plain(500, `metrics: ${String(err)}`),
        );
      }
    }
    plain(404, 'not found');
  });
}

/** Listen, turning the usual failures into one clear line (exit 2): the port is taken, the address is not ours. */
export function listen(server: Server, host: string, port: number): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'the port is in use'
          : err.code === 'EADDRNOTAVAIL'
            ? 'no such address on this machine'
            : err.code === 'EACCES'
              ? 'permission denied'
              : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN'
                ? 'host not found'
                : (err.code ?? err.message);
      reject(new UsageError(`cannot listen on ${host}:${port} (${why}); choose another with --listen`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? { host, port: addr.port } : { host, port });
    });
  });
}
