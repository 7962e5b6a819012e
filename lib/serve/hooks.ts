// serve's webhook endpoints: POST /hooks/harbor, /hooks/dockerhub/<secret>, /hooks/quay/<secret>,
// /hooks/github. The body is read up to the receiver's cap (a bigger one is answered 413 without
// reading the rest), the receiver (lib/events/receive.ts, pure) checks the secret and turns the
// event into re-check messages, and those are offered to the burst window (lib/events/coalesce.ts),
// whose send puts them on the embedded queue. The answer goes at once: a sender gets its 2xx before
// any copy starts, and a burst of events for one repository becomes one re-check.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { EventResult, ServeMetrics } from './metrics.js';

/** The receiver's request and result (lib/events/receive.ts), as serve uses them. */
export interface HookRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}
export type HookResult<M> =
  | { status: 200 | 202; via: string; rechecks: M[]; note?: string }
  | { status: 400 | 401 | 404 | 413; via?: string; reason: string };

export interface HookDeps<M> {
  /** lib/events/receive.ts receiveWebhook with the config's events settings. */
  receive(req: HookRequest): HookResult<M>;
  /** lib/events/receive.ts MAX_WEBHOOK_BODY. */
  maxBody: number;
  /** lib/events/coalesce.ts Coalescer.offer. */
  offer(m: M): 'scheduled' | 'merged';
  metrics: ServeMetrics;
  logger: Logger;
}

/** The path as it may be logged: Docker Hub's and Quay's last segment is their secret. */
export function loggablePath(path: string): string {
  const m = /^\/hooks\/(dockerhub|quay)\/[^/?]*/.exec(path);
  return m ? `/hooks/${m[1]}/***` : path.split('?')[0]!;
}

/** The event source a path names (for the metrics' label): harbor, dockerhub, quay, github, or `unknown`. */
function sourceOf(path: string): string {
  const m = /^\/hooks\/(harbor|dockerhub|quay|github)(?:\/|$|\?)/.exec(path);
  return m ? m[1]! : 'unknown';
}

/** Read the body, stopping past `max` bytes: undefined then (the rest is never read). */
export function readCapped(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return resolve(undefined);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.off('data', onData);
        req.pause();
        return resolve(undefined);
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

export async function handleHook<M>(req: IncomingMessage, res: ServerResponse, deps: HookDeps<M>): Promise<void> {
  const started = performance.now();
  const path = req.url ?? '/';
  const source = sourceOf(path);
  const body = await readCapped(req, deps.maxBody).catch(() => undefined);
  let status: number;
  let result: EventResult;
  let detail: Record<string, unknown> = {};
  if (body === undefined) {
    status = 413;
    result = 'refused';
    detail = { reason: `body over ${deps.maxBody} bytes` };
    // The rest of the body is not read: the connection closes after the answer.
    res.setHeader('connection', 'close');
  } else {
    const r = deps.receive({ path, headers: req.headers, body });
    status = r.status;
    if ('reason' in r) {
      result = 'refused';
      detail = { via: r.via, reason: r.reason };
    } else {
      const offered = r.rechecks.map((m) => deps.offer(m));
      const scheduled = offered.filter((o) => o === 'scheduled').length;
      result = r.rechecks.length === 0 ? 'ignored' : scheduled ? 'accepted' : 'merged';
      detail = { via: r.via, rechecks: r.rechecks.length, scheduled, ...(r.note ? { note: r.note } : {}) };
    }
  }
  deps.metrics.event(source, result);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${result}\n`, () => {
    if (status === 413) req.socket.destroy();
  });
  // One line per request; the path without its secret segment, no header, no body.
  deps.logger.info({ method: req.method, path: loggablePath(path), status, result, ms: Math.round(performance.now() - started), ...detail }, 'webhook');
}
