// Corporate proxies: HTTPS_PROXY / HTTP_PROXY send every request through a CONNECT tunnel of a
// forward proxy on 127.0.0.1 (counted), NO_PROXY bypasses it, and TLS settings still apply inside
// the tunnel. The pool reads the variables from the `env` it is given, once, as the CLI does from
// process.env. undici 7.30.2 does not exempt loopback addresses, so 127.0.0.1 is proxied unless
// NO_PROXY names it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkError, TlsError } from '../../lib/errors.js';
import { ClientPool, type RegistryAccess } from '../../lib/registry/pool.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type TestPki, testPki } from '../helpers/certs.js';
import { type ForwardProxyHandle, startForwardProxy } from '../helpers/forward-proxy.js';
import { pushImage, randomLayer } from '../helpers/push.js';

const retry = { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 };

describe('proxies', () => {
  let pki: TestPki;
  let plain: RegistryHandle;
  let https: RegistryHandle;
  let proxy: ForwardProxyHandle;
  let digest: string;
  before(async () => {
    pki = await testPki();
    [plain, https, proxy] = await Promise.all([
      startRegistry(),
      startRegistry({ tls: { certificate: pki.serverCert, key: pki.serverKey, ca: pki.caFile } }),
      startForwardProxy(),
    ]);
    digest = (await pushImage(https, 'app/web', 'v1', { format: 'oci', layers: [randomLayer(10_000)] })).digest;
  });
  after(stopAll);

  const withPool = async (env: NodeJS.ProcessEnv, access: Record<string, RegistryAccess>, fn: (p: ClientPool) => Promise<void>) => {
    const pool = new ClientPool({ resolve: (registry) => access[registry] ?? {}, retry, env });
    try {
      await fn(pool);
    } finally {
      await pool.close();
    }
  };
  const tunnelsTo = (host: string) => proxy.tunnels.filter((t) => t === host).length;

  test('HTTPS_PROXY: requests to an HTTPS registry go through the tunnel, caFile still applies', async () => {
    const before = tunnelsTo(https.host);
    await withPool({ HTTPS_PROXY: proxy.url }, { [https.host]: { caFile: pki.caFile } }, async (pool) => {
      const info = await pool.client(https.host, 'app/web', 'source').manifestHead('app/web', 'v1');
      assert.equal(info?.digest, digest);
    });
    assert.equal(tunnelsTo(https.host) - before, 1, 'one tunnel, kept alive');
  });

  test('NO_PROXY bypasses the proxy (host, and host:port)', async () => {
    for (const noProxy of ['127.0.0.1', `127.0.0.1:${https.host.split(':')[1]}`, 'example.com,127.0.0.1']) {
      const before = proxy.tunnels.length;
      await withPool({ HTTPS_PROXY: proxy.url, NO_PROXY: noProxy }, { [https.host]: { caFile: pki.caFile } }, async (pool) => {
        assert.equal((await pool.client(https.host, 'app/web', 'source').manifestHead('app/web', 'v1'))?.digest, digest);
      });
      assert.equal(proxy.tunnels.length, before, `NO_PROXY=${noProxy}`);
    }
    // A NO_PROXY entry for another port does not exempt this one.
    const before = tunnelsTo(https.host);
    await withPool({ HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1:1' }, { [https.host]: { caFile: pki.caFile } }, async (pool) => {
      await pool.client(https.host, 'app/web', 'source').ping();
    });
    assert.equal(tunnelsTo(https.host) - before, 1);
  });

  test('HTTP_PROXY alone carries both schemes: an insecure plain registry falls back to HTTP through it', async () => {
    const before = tunnelsTo(plain.host);
    await withPool({ http_proxy: proxy.url }, { [plain.host]: { insecure: true } }, async (pool) => {
      await pool.client(plain.host, 'app/web', 'source').ping();
    });
    // One tunnel for the HTTPS attempt that found plain HTTP, one for the HTTP connection.
    assert.equal(tunnelsTo(plain.host) - before, 2);
  });

  test('an untrusted certificate behind the proxy is still a permanent SWRM_TLS error', async () => {
    await withPool({ HTTPS_PROXY: proxy.url }, {}, async (pool) => {
      await assert.rejects(pool.client(https.host, 'app/web', 'source').ping(), (err: unknown) =>
        err instanceof TlsError && err.message.startsWith(`TLS certificate of ${https.host} is not trusted`));
    });
  });

  test('proxy credentials in the URL are used, and never appear in an error', async () => {
    const guarded = await startForwardProxy({ credentials: { username: 'corp', password: 's3cret-proxy-pw' } });
    const url = new URL(guarded.url);
    url.username = 'corp';
    url.password = 's3cret-proxy-pw';
    await withPool({ HTTPS_PROXY: url.href }, { [https.host]: { caFile: pki.caFile } }, async (pool) => {
      await pool.client(https.host, 'app/web', 'source').ping();
    });
    assert.deepEqual(guarded.tunnels, [https.host]);
    url.password = 'wrong-pw';
    await withPool({ HTTPS_PROXY: url.href }, { [https.host]: { caFile: pki.caFile } }, async (pool) => {
      await assert.rejects(pool.client(https.host, 'app/web', 'source').ping(), (err: unknown) =>
        err instanceof NetworkError && err.message === `cannot reach ${https.host}: the proxy refused the tunnel (HTTP 407)`);
    });
    await guarded.stop();
  });
});
