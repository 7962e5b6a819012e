// A scripted HTTP server on a loopback address (127.0.0.x), playing a hostile or broken registry:
// each test gives a handler that answers as it likes (Link loops, endless bodies, odd redirects).
// Endless and huge bodies are generated chunk by chunk with backpressure, never buffered, and the
// server counts what it managed to write, so tests can show the client stopped reading early.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { track } from './cleanup.js';

export interface HostileRequest { method: string; path: string; headers: IncomingHttpHeaders }
export type Script = (req: IncomingMessage, res: ServerResponse, server: HostileServer) => void | Promise<void>;

export interface HostileServer {
  /** `127.0.0.x:port`, as a registry name. */
  host: string;
  /** `http://127.0.0.x:port` (`https://` when started with a certificate). */
  url: string;
  requests: HostileRequest[];
  /** Body bytes written by `streamBody` so far, over all responses. */
  bytesWritten: number;
  stop(): Promise<void>;
}

/**
 * Starts a scripted server on `address` (any 127.0.0.0/8 address; Linux routes the whole block to lo),
 * speaking HTTPS when given a key and certificate.
 */
export async function startHostile(script: Script, address = '127.0.0.1', tls?: { key: string; cert: string }): Promise<HostileServer> {
  if (!address.startsWith('127.')) throw new Error(`hostile servers listen on loopback only, not ${address}`);
  const server = tls ? createTlsServer(tls) : createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let stopped = false;
  const handle: HostileServer = {
    host: `${address}:${port}`,
    url: `${tls ? 'https' : 'http'}://${address}:${port}`,
    requests: [],
    bytesWritten: 0,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      untrack();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle.requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers });
    Promise.resolve(script(req, res, handle)).catch(() => res.destroy());
  });
  const untrack = track({ stop: handle.stop, stopSync: () => server.close() });
  return handle;
}

/**
 * Writes `next()` chunks until it returns undefined or the client goes away, waiting for 'drain'
 * between them: memory stays at one chunk however long the body is.
 */
export async function streamBody(res: ServerResponse, server: HostileServer, next: (i: number) => Buffer | string | undefined, delayMs = 0): Promise<void> {
  for (let i = 0; !res.destroyed; i++) {
    const chunk = next(i);
    if (chunk === undefined) break;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    server.bytesWritten += buf.length;
    if (!res.write(buf)) {
      await new Promise<void>((resolve) => {
        const done = (): void => { res.off('drain', done); res.off('close', done); resolve(); };
        res.on('drain', done);
        res.on('close', done);
      });
    }
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
  }
  if (!res.destroyed) res.end();
}

/** A JSON answer. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** A throw-away EC certificate for 127.0.0.1 and 127.0.0.2 (openssl, as the token-server helper uses). */
export async function loopbackCertificate(): Promise<{ key: string; cert: string }> {
  const { execFile } = await import('node:child_process');
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'swrm-hostile-tls-'));
  try {
    await new Promise<void>((resolve, reject) => {
      execFile('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1',
        '-addext', 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ], (err) => (err ? reject(err) : resolve()));
    });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
