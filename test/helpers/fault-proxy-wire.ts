// The fault proxy's ways of answering (fault-proxy.ts, fault-proxy-cdn.ts): a refusal that drains the
// request body first, a TCP reset, a body cut mid-way; and what both of its origins share.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { FaultLog, RequestRecord } from './fault-proxy-log.js';
import type { Decision, RouteInfo, Side } from './fault-proxy-plan.js';

export const errorsBody = (code: string, message: string): string => JSON.stringify({ errors: [{ code, message }] });

/**
 * Answers without forwarding, once the request body (an upload's PUT or PATCH) has been read to its
 * end: a client still sending would otherwise see a broken pipe instead of the status.
 */
export function answer(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  const send = (): void => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers, 'content-length': String(Buffer.byteLength(body)) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  req.resume();
  if (req.complete) send();
  else req.once('end', send);
}

/** A TCP reset (RST), not a polite close: what a crashed load balancer or a dropped NAT entry gives. */
export function reset(socket: Socket | null): void {
  try {
    socket?.resetAndDestroy();
  } catch {
    socket?.destroy();
  }
}

/**
 * Sends `share` of the body (never all of it: at most length - 1 bytes), then closes the connection.
 * Without a Content-Length (chunked), sends that share of the first chunk.
 */
export async function sendCut(body: Readable, res: ServerResponse, length: number | undefined, share: number): Promise<void> {
  const limit = length === undefined ? undefined : Math.max(0, Math.min(length - 1, Math.floor(length * share)));
  let sent = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const room = (limit ?? Math.floor(chunk.length * share)) - sent;
      const part = chunk.subarray(0, Math.max(0, room));
      if (part.length) await new Promise<void>((resolve) => res.write(part, () => resolve()));
      sent += part.length;
      if (limit === undefined || sent >= limit) break;
    }
  } catch {
    // the client or the registry went away first: the cut happened anyway
  }
  body.destroy();
  res.destroy();
}

export async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export type Recorder = (status: number, fault: RequestRecord['fault'], refused?: RequestRecord['refused']) => void;

/** What the registry side and the CDN side share: the decisions, the log, the count of requests in flight. */
export interface FaultCore {
  log: FaultLog;
  choose(side: Side, method: string, info: RouteInfo, path: string): Decision;
  recorder(side: Side, method: string, path: string, info: RouteInfo, at: number): Recorder;
  /** Requests forwarded and not yet answered by the registry. */
  busy: number;
}
