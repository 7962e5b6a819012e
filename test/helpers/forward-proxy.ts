// A forward proxy like a corporate one: HTTP CONNECT tunnels on 127.0.0.1, counted, so tests can
// assert that requests went through it (or, with NO_PROXY, did not). It only tunnels to loopback
// addresses: test traffic never leaves 127.0.0.0/8, whatever a test asks for.
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { track } from './cleanup.js';

export interface ForwardProxyHandle {
  /** `http://127.0.0.1:<port>`, for HTTPS_PROXY / HTTP_PROXY. */
  url: string;
  /** `host:port` of every CONNECT that was answered 200, in order. */
  tunnels: string[];
  /** CONNECTs refused (wrong credentials, non-loopback target). */
  refused: string[];
  stop(): Promise<void>;
}

export interface ForwardProxyOptions {
  /** Require `Proxy-Authorization: Basic` with these credentials (else 407). */
  credentials?: { username: string; password: string };
}

const LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

export async function startForwardProxy(opts: ForwardProxyOptions = {}): Promise<ForwardProxyHandle> {
  const tunnels: string[] = [];
  const refused: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => {
    res.writeHead(405, { 'content-type': 'text/plain' }).end('this test proxy only tunnels (CONNECT)');
  });
  const expected = opts.credentials
    ? `Basic ${Buffer.from(`${opts.credentials.username}:${opts.credentials.password}`).toString('base64')}`
    : undefined;

  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const target = req.url ?? '';
    const m = /^([^:]+):(\d+)$/.exec(target);
    if (expected !== undefined && req.headers['proxy-authorization'] !== expected) {
      refused.push(target);
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (!m || !LOOPBACK.test(m[1]!)) {
      refused.push(target);
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = connect(Number(m[2]), m[1]!, () => {
      tunnels.push(target);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => {
      if (!client.writableEnded) client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    });
    client.on('close', () => upstream.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    untrack();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const untrack = track({ stop, stopSync: () => server.close() });
  return { url: `http://127.0.0.1:${port}`, tunnels, refused, stop };
}
