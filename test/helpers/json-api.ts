// Shared plumbing of the listing API stand-ins (docker-hub-api, harbor-api, quay-api, ecr-api):
// an HTTP server on 127.0.0.1 that records requests and can be told to misbehave like real
// deployments do (a login page instead of JSON, a `next` that loops or points elsewhere).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenTracked } from './cleanup.js';

export interface Recorded { method: string; path: string; authorization?: string; target?: string }
export interface Misbehave {
  /** Answer every request with an HTML login page (200, text/html). */
  html?: boolean;
  /** Answer every request with this status (401, 403, 404). */
  status?: number;
  /** Pagination loops: the second page's `next` points back at the first. */
  loop?: boolean;
  /** Next-page URLs on this origin instead of the stand-in's own. */
  nextOrigin?: string;
}
export interface JsonApi {
  url: string;
  requests: Recorded[];
  misbehave: Misbehave;
  stop(): Promise<void>;
}
export type Reply = { status: number; body: unknown; headers?: Record<string, string> };
export type Handler = (req: IncomingMessage, url: URL, body: string, base: string, misbehave: Misbehave) => Reply;

export function reply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, body, headers };
}

function send(res: ServerResponse, r: Reply): void {
  const text = JSON.stringify(r.body);
  res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...r.headers });
  res.end(text);
}

export async function startJsonApi(handler: Handler): Promise<JsonApi> {
  const requests: Recorded[] = [];
  const misbehave: Misbehave = {};
  let base = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', base);
      requests.push({
        method: req.method ?? 'GET', path: url.pathname + url.search,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(req.headers['x-amz-target'] ? { target: String(req.headers['x-amz-target']) } : {}),
      });
      if (misbehave.html) {
        const page = '<!DOCTYPE html><html><body><form action="/login">Sign in</form></body></html>';
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(page.length) }).end(page);
        return;
      }
      if (misbehave.status) return send(res, reply(misbehave.status, { errors: [{ code: 'DENIED', message: 'injected' }] }));
      send(res, handler(req, url, Buffer.concat(chunks).toString('utf8'), misbehave.nextOrigin ?? base, misbehave));
    });
  });
  const { port, stop } = await listenTracked(server);
  base = `http://127.0.0.1:${port}`;
  return { url: base, requests, misbehave, stop };
}

/** Page `page` (1-based) of `all`, `size` items each. */
export function pageOf<T>(all: T[], page: number, size: number): T[] {
  return all.slice((page - 1) * size, page * size);
}
