// The DNS guard under undici, with a fake resolver: a name that resolves to a metadata address fails
// the request with SWRM_UNSAFE_REDIRECT before any connection. A safety net below the guard keeps
// every address on 127.0.0.0/8, so even a broken guard could not connect anywhere else.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnsafeRedirectError } from '../../lib/errors.js';
import { guardedLookup, type LookupFunction } from '../../lib/registry/http/lookup.js';
import { Agent } from '../../lib/registry/http/undici-agent.js';
import { ClientPool } from '../../lib/registry/pool.js';

const zone: Record<string, string> = { 'metadata.evil.test': '169.254.169.254', 'fine.test': '127.0.0.1' };
const fake: LookupFunction = (hostname, options, callback) => {
  const address = zone[hostname];
  if (!address) return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
  if ((options as { all?: boolean }).all) callback(null, [{ address, family: 4 }]);
  else callback(null, address, 4);
};

describe('guarded lookup under undici', () => {
  test('through undici: the refusal is the request error, and no connection is made', async () => {
    let connections = 0;
    const server = createServer((_req, res) => res.end('ok')).on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    after(() => server.close());
    const port = (server.address() as AddressInfo).port;
    const safetyNet: LookupFunction = (hostname, options, callback) =>
      guardedLookup(() => false, fake)(hostname, options, (err, address, family) => {
        // Whatever the guard let through, connect only to loopback.
        const list = Array.isArray(address) ? address.map((a) => a.address) : [address];
        if (!err && list.some((a) => !a.startsWith('127.'))) return callback(new Error('safety net: guard let a non-loopback address through'), address, family);
        callback(err, address, family);
      });
    const agent = new Agent({ connect: { lookup: safetyNet } as object });
    after(() => agent.close());
    await assert.rejects(agent.request({ origin: `http://metadata.evil.test:${port}`, path: '/', method: 'GET' }), UnsafeRedirectError);
    const ok = await agent.request({ origin: `http://fine.test:${port}`, path: '/', method: 'GET' });
    assert.equal(await ok.body.text(), 'ok');
    assert.equal(connections, 1);
  });

  test('the client pool connects through the guard', async () => {
    let connections = 0;
    const server = createServer((_req, res) => res.end('{}')).on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    after(() => server.close());
    const port = (server.address() as AddressInfo).port;
    const pool = new ClientPool({ resolve: () => ({}), dnsLookup: fake, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    after(() => pool.close());
    const err = await pool.client(`metadata.evil.test:${port}`, 'r/a', 'source').manifestHead('r/a', 'v1').catch((e: unknown) => e);
    assert.ok(err instanceof UnsafeRedirectError, String(err));
    assert.match(err.message, /resolves to a link-local or cloud metadata address/);
    assert.equal(connections, 0);
  });
});
