// The bench's WAN stand-in (test/helpers/tcp-delay-proxy.ts) must add the latency it claims and
// nothing else: bytes intact and in order, a response before `Connection: close` not lost, a big
// body through a small buffer cap, and only 127.0.0.0/8 targets.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, request } from 'node:http';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { stopAll } from '../helpers/registry.js';
import { startDelayProxy } from '../helpers/tcp-delay-proxy.js';

const DELAY = 50;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Echo server: every byte back, and a FIN answered with a FIN. */
async function startEcho(): Promise<{ host: string; server: Server }> {
  const server = createServer((s) => s.pipe(s));
  return { host: await listen(server), server };
}

function connectTo(host: string): Promise<Socket> {
  const [h, p] = host.split(':');
  return new Promise((resolve, reject) => {
    const s = connect({ host: h!, port: Number(p), noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes `data`, waits until `data.length` bytes came back, returns them and the elapsed ms. */
function roundTrip(s: Socket, data: Buffer): Promise<{ ms: number; got: Buffer }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const parts: Buffer[] = [];
    let n = 0;
    const onData = (d: Buffer): void => {
      parts.push(d);
      n += d.length;
      if (n >= data.length) {
        s.off('data', onData);
        resolve({ ms: performance.now() - t0, got: Buffer.concat(parts) });
      }
    };
    s.on('data', onData);
    s.write(data);
  });
}

describe('tcp delay proxy', { timeout: 20_000 }, () => {
  after(stopAll);

  it('adds a round trip per exchange, and one more for a new connection (the handshake)', async () => {
    const echo = await startEcho();
    const proxy = await startDelayProxy(echo.host, { delayMs: DELAY });
    const s = await connectTo(proxy.host);
    const first = await roundTrip(s, Buffer.from('ping'));
    const second = await roundTrip(s, Buffer.from('pong'));
    assert.equal(first.got.toString(), 'ping');
    assert.equal(second.got.toString(), 'pong');
    // 1 ms of slack for timer granularity; only lower bounds, since the machine may be loaded.
    assert.ok(first.ms >= 4 * DELAY - 1, `first exchange took ${first.ms} ms, expected >= ${4 * DELAY}`);
    assert.ok(second.ms >= 2 * DELAY - 1, `second exchange took ${second.ms} ms, expected >= ${2 * DELAY}`);
    assert.ok(second.ms < first.ms, 'a reused connection must not pay the handshake again');
    assert.equal(proxy.connections(), 1);
    s.destroy();
    await proxy.stop();
    echo.server.close();
  });

  it('delivers many small writes intact and in order, in both directions', async () => {
    const echo = await startEcho();
    const proxy = await startDelayProxy(echo.host, { delayMs: 5 });
    const s = await connectTo(proxy.host);
    const chunks = Array.from({ length: 500 }, (_, i) => Buffer.from(`${i};`));
    const expected = Buffer.concat(chunks);
    const got: Buffer[] = [];
    const done = new Promise<void>((resolve) => s.on('data', (d: Buffer) => {
      got.push(d);
      if (Buffer.concat(got).length >= expected.length) resolve();
    }));
    for (const [i, c] of chunks.entries()) {
      s.write(c);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1)); // spread over several timer ticks
    }
    await done;
    assert.equal(Buffer.concat(got).toString(), expected.toString());
    s.destroy();
    await proxy.stop();
    echo.server.close();
  });

  it('keeps a body larger than its buffer cap intact (backpressure, no loss)', async () => {
    const echo = await startEcho();
    const proxy = await startDelayProxy(echo.host, { delayMs: 2, maxBuffered: 256 * 1024 });
    const s = await connectTo(proxy.host);
    const data = randomBytes(8 * 1024 * 1024);
    const { got } = await roundTrip(s, data);
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'));
    s.destroy();
    await proxy.stop();
    echo.server.close();
  });

  it('forwards a server close after the response before it (Connection: close)', async () => {
    const body = randomBytes(300 * 1024).toString('hex');
    const http = createHttpServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end(body);
    });
    const target = await listen(http);
    const proxy = await startDelayProxy(target, { delayMs: 20 });
    const [, port] = proxy.host.split(':');
    const text = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port: Number(port), path: '/', agent: false }, (res) => {
        let t = '';
        res.setEncoding('utf8').on('data', (d: string) => (t += d)).on('end', () => resolve(t)).on('error', reject);
      }).on('error', reject).end();
    });
    assert.equal(text.length, body.length);
    assert.equal(text, body);
    await proxy.stop();
    http.close();
  });

  it('refuses a target outside 127.0.0.0/8', async () => {
    await assert.rejects(startDelayProxy('10.0.0.1:5000', { delayMs: 1 }), /not on 127\.0\.0\.0\/8/);
    await assert.rejects(startDelayProxy('localhost:5000', { delayMs: 1 }), /not on 127\.0\.0\.0\/8/);
  });
});
