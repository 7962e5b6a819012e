// The overall request deadline against real HTTP servers on 127.0.0.1 (issue 6, item 4): a
// trickling server that keeps undici's idle timeouts happy is cut off at `timeout`, while a blob
// that moves steadily may take longer than `timeout`, since its deadline grows with its size.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientPool } from '../../lib/registry/pool.js';
import { ErrorCode, RequestTimeoutError } from '../../lib/errors.js';
import { MIN_BODY_RATE } from '../../lib/registry/http/deadline.js';
import { sha256 } from '../helpers/push.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Serves `bytes` in `chunk`-byte pieces every `everyMs`, with Content-Length, for any path. */
function trickler(bytes: Buffer, chunk: number, everyMs: number): Server {
  return createServer((req, res) => {
    res.writeHead(200, { 'content-length': String(bytes.length), 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    let at = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      res.write(bytes.subarray(at, (at += chunk)));
      if (at >= bytes.length) {
        clearInterval(timer);
        res.end();
      }
    }, everyMs);
    req.on('close', () => clearInterval(timer));
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function drain(body: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of body) void _;
}

describe('request deadline', () => {
  const servers: Server[] = [];
  let slow: string;
  let steady: string;
  // 1 KiB at 16 bytes per 100 ms: 6.4 s, and never idle for long.
  const small = Buffer.alloc(1024, 1);
  // 768 KiB at 64 KiB per 100 ms: about 1.2 s, longer than the 1 s timeout.
  const big = Buffer.alloc(768 * 1024, 2);
  before(async () => {
    servers.push(trickler(small, 16, 100), trickler(big, 64 * 1024, 100));
    [slow, steady] = (await Promise.all(servers.map(listen))) as [string, string];
  });
  after(async () => {
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
  const pool = () => new ClientPool({ resolve: () => ({ insecure: true }), timeout: 1 });

  test('a trickled blob download ends at its deadline with SWRM_TIMEOUT naming the host', async () => {
    const p = pool();
    const started = performance.now();
    try {
      const blob = await p.client(slow, 'r/a', 'source').blobGet('r/a', sha256(small));
      const err = await drain(blob.body).catch((e: unknown) => e);
      const ms = performance.now() - started;
      assert.ok(err instanceof RequestTimeoutError, String(err));
      assert.equal(err.code, ErrorCode.TIMEOUT);
      assert.match(err.message, new RegExp(`^blob GET r/a@sha256:[0-9a-f]{64} on ${slow} took longer than 1 s`));
      assert.ok(ms >= 900 && ms < 3000, `took ${Math.round(ms)} ms`);
    } finally {
      await p.close();
    }
  });

  test('a trickled manifest is cut off too (its body is read inside the client)', async () => {
    const p = pool();
    const started = performance.now();
    try {
      const err = await p.client(slow, 'r/a', 'source').manifestGet('r/a', 'v1').catch((e: unknown) => e);
      assert.ok(err instanceof RequestTimeoutError, String(err));
      assert.ok(performance.now() - started < 3000);
    } finally {
      await p.close();
    }
  });

  test('a blob that moves steadily may take longer than the timeout: the deadline scales with its size', async () => {
    assert.ok(big.length / MIN_BODY_RATE >= 2, 'the allowance must cover the test');
    const p = pool();
    const started = performance.now();
    try {
      const blob = await p.client(steady, 'r/a', 'source').blobGet('r/a', sha256(big));
      await drain(blob.body);
      assert.ok(performance.now() - started > 1000, 'the test did not outlast the timeout');
    } finally {
      await p.close();
    }
    await sleep(0);
  });

  // A registry that wants a token from a trickling realm on its own host: the token request goes
  // around the transport (auth.ts), and still ends.
  function gatekeeper(realmHost: () => string): Server {
    return createServer((req, res) => {
      if (req.url?.startsWith('/token')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), 100);
        req.on('close', () => clearInterval(timer));
        return;
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${realmHost()}/token",service="t"`, 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    });
  }

  test('a token realm that trickles its answer ends at the deadline', async () => {
    let host = '';
    const server = gatekeeper(() => host);
    servers.push(server);
    host = await listen(server);
    const p = pool();
    const started = performance.now();
    try {
      const err = await p.client(host, 'r/a', 'source').manifestHead('r/a', 'v1').catch((e: unknown) => e);
      assert.ok(err instanceof RequestTimeoutError, String(err));
      assert.match(err.message, new RegExp(`^token request on ${host} took longer than 1 s`));
      assert.ok(performance.now() - started < 4000, `took ${Math.round(performance.now() - started)} ms`);
    } finally {
      await p.close();
    }
  });

  test('a blob redirected to another origin that trickles ends at the deadline', async () => {
    const redirector = createServer((_req, res) => res.writeHead(307, { location: `http://${slow}/object` }).end());
    servers.push(redirector);
    const host = await listen(redirector);
    const p = pool();
    const started = performance.now();
    try {
      const blob = await p.client(host, 'r/a', 'source').blobGet('r/a', sha256(small));
      const err = await drain(blob.body).catch((e: unknown) => e);
      assert.ok(err instanceof RequestTimeoutError, String(err));
      assert.match(err.message, new RegExp(`on ${slow} took longer than 1 s`));
      assert.ok(performance.now() - started < 4000, `took ${Math.round(performance.now() - started)} ms`);
    } finally {
      await p.close();
    }
  });
});
