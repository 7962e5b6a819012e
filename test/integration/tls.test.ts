// TLS against real distribution registries on 127.0.0.1: one serving HTTPS with a certificate from
// a throwaway CA, one requiring client certificates (mutual TLS), one plain HTTP. Connection
// attempts are counted from undici's diagnostics channels, so "not retried" and "one failed
// handshake per host" are measured, not assumed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { copyImage } from '../../lib/copy/copy-image.js';
import { createCopyContext } from '../../lib/copy/context.js';
import { ErrorCode, TlsError } from '../../lib/errors.js';
import { parseReference, parseRepositoryReference } from '../../lib/oci/reference.js';
import { ClientPool, type RegistryAccess } from '../../lib/registry/pool.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type TestPki, testPki } from '../helpers/certs.js';
import { getManifest, pushImage, randomLayer, sha256 } from '../helpers/push.js';
import { registryRequest } from '../helpers/client.js';
import { Agent } from '../../lib/registry/http/undici-agent.js';
import { RegistryTransport } from '../../lib/registry/http/transport.js';

const retry = { attempts: 4, baseDelayMs: 10, maxDelayMs: 20 };

/** Connection attempts and failures per `protocol//host:port`, while `fn` runs. */
async function countConnections<T>(fn: () => Promise<T>): Promise<{ result: T | Error; attempts: Map<string, number>; failures: Map<string, number> }> {
  const attempts = new Map<string, number>();
  const failures = new Map<string, number>();
  const key = (m: unknown): string => {
    const p = (m as { connectParams: { protocol: string; host: string } }).connectParams;
    return `${p.protocol}//${p.host}`;
  };
  const onAttempt = (m: unknown): void => void attempts.set(key(m), (attempts.get(key(m)) ?? 0) + 1);
  const onFailure = (m: unknown): void => void failures.set(key(m), (failures.get(key(m)) ?? 0) + 1);
  diagnostics.subscribe('undici:client:beforeConnect', onAttempt);
  diagnostics.subscribe('undici:client:connectError', onFailure);
  try {
    const result = await fn().catch((err: Error) => err);
    return { result, attempts, failures };
  } finally {
    diagnostics.unsubscribe('undici:client:beforeConnect', onAttempt);
    diagnostics.unsubscribe('undici:client:connectError', onFailure);
  }
}

function poolFor(access: Record<string, RegistryAccess>): ClientPool {
  return new ClientPool({ resolve: (registry) => access[registry] ?? {}, retry, env: {} });
}

async function copy(pool: ClientPool, src: string, dst: string): Promise<string> {
  const s = parseReference(src);
  const d = parseRepositoryReference(dst);
  const res = await copyImage(
    createCopyContext(),
    { client: pool.client(s.registry, s.repository, 'source'), ref: s },
    { client: pool.client(d.registry, d.repository, 'destination'), ref: d },
  );
  return res.digest;
}

describe('TLS', () => {
  let pki: TestPki;
  let plain: RegistryHandle;
  let https: RegistryHandle;
  let mtls: RegistryHandle;
  let digest: string;
  before(async () => {
    pki = await testPki();
    const tls = { certificate: pki.serverCert, key: pki.serverKey, ca: pki.caFile };
    [plain, https, mtls] = await Promise.all([
      startRegistry(),
      startRegistry({ tls }),
      startRegistry({ tls: { ...tls, clientCas: [pki.caFile], clientCert: pki.clientCert, clientKey: pki.clientKey } }),
    ]);
    digest = (await pushImage(plain, 'app/web', 'v1', { format: 'oci', layers: [randomLayer(40_000), randomLayer(30_000), randomLayer(20_000)] })).digest;
  });
  after(stopAll);

  test('caFile: a registry with a private CA is trusted, and the copy is digest-exact', async () => {
    const pool = poolFor({ [plain.host]: { insecure: true }, [https.host]: { caFile: pki.caFile } });
    try {
      assert.equal(await copy(pool, `${plain.host}/app/web:v1`, `${https.host}/mirror/web`), digest);
      assert.equal((await getManifest(https, 'mirror/web', 'v1'))?.digest, digest);
    } finally {
      await pool.close();
    }
  });

  test('caFile keeps NODE_EXTRA_CA_CERTS (a corporate CA) trusted: a `ca` option replaces the default store', async () => {
    const ping = async (env: NodeJS.ProcessEnv) => {
      const pool = new ClientPool({ resolve: () => ({ caFile: pki.otherCaFile }), retry, env });
      try {
        return await pool.client(https.host, 'app/web', 'source').ping().then(() => 'ok', (err: Error) => err.message);
      } finally {
        await pool.close();
      }
    };
    assert.equal(await ping({ NODE_EXTRA_CA_CERTS: pki.caFile }), 'ok');
    assert.match(await ping({}), /is not trusted/);
  });

  test('no caFile: one SWRM_TLS error naming the host and the options, never retried', async () => {
    const pool = poolFor({});
    try {
      const { result, attempts } = await countConnections(() => pool.client(https.host, 'app/web', 'source').ping());
      assert.ok(result instanceof TlsError, String(result));
      assert.equal(result.code, ErrorCode.TLS);
      assert.equal(result.message, `TLS certificate of ${https.host} is not trusted (unknown issuer): give its CA as caFile, or set insecure: true to skip verification`);
      assert.equal(attempts.get(`https://${https.host}`), 1, 'one handshake: retry.attempts is 4, but a certificate does not change');
    } finally {
      await pool.close();
    }
  });

  test('insecure: true speaks HTTPS without verification (a self-signed Harbor works, no HTTP 400)', async () => {
    const pool = poolFor({ [https.host]: { insecure: true } });
    const mark = https.mark();
    try {
      const info = await pool.client(https.host, 'mirror/web', 'source').manifestHead('mirror/web', 'v1');
      assert.equal(info?.digest, digest);
      await https.settle();
      assert.deepEqual(https.requestsSince(mark).map((r) => `${r.method} ${r.status}`), ['HEAD 200'], 'reached the HTTPS-only registry');
    } finally {
      await pool.close();
    }
  });

  test('insecure: true on a plain-HTTP registry falls back to HTTP after one failed handshake per host', async () => {
    const target = await startRegistry();
    const pool = poolFor({ [plain.host]: { insecure: true }, [target.host]: { insecure: true } });
    try {
      const { result, attempts, failures } = await countConnections(() => copy(pool, `${plain.host}/app/web:v1`, `${target.host}/copy/web`));
      assert.equal(result, digest);
      for (const host of [plain.host, target.host]) {
        assert.equal(failures.get(`https://${host}`), 1, `one failed handshake for ${host}`);
        assert.equal(attempts.get(`https://${host}`), 1, `HTTPS tried once for ${host}`);
      }
      const stats = pool.stats();
      assert.ok(stats[target.host]!.requests >= 8, 'many requests, all after the one decision');
      assert.equal((await getManifest(target, 'copy/web', 'v1'))?.digest, digest);
    } finally {
      await pool.close();
    }
  });

  test('insecure: a streamed body as first request finds the scheme with GET /v2/ first, then streams once', async () => {
    const dispatcher = new Agent();
    try {
      const started = await registryRequest(plain, 'POST', '/v2/stream/first/blobs/uploads/');
      await started.body.dump();
      const location = new URL(String(started.headers.location), plain.url);
      const blob = randomLayer(5000);
      location.searchParams.set('digest', sha256(blob));
      const transport = new RegistryTransport({ host: plain.host, insecure: true, dispatcher });
      const mark = plain.mark();
      async function* body(): AsyncIterable<Uint8Array> { yield blob; }
      const res = await transport.send({
        method: 'PUT', url: new URL(location.href.replace('http:', 'https:')), body: body(),
        headers: { 'content-length': String(blob.length) }, expect: [201], what: 'blob upload',
      });
      await res.body.dump();
      await plain.settle();
      assert.deepEqual(plain.requestsSince(mark).map((r) => `${r.method} ${r.path.split('?')[0]} ${r.status}`), [
        'GET /v2/ 200', `PUT ${location.pathname} 201`,
      ]);
    } finally {
      await dispatcher.close();
    }
  });

  test('HTTPS to a plain-HTTP port: a hint to set insecure: true, not "wrong version number"', async () => {
    const pool = poolFor({});
    try {
      const { result, attempts } = await countConnections(() => pool.client(plain.host, 'app/web', 'source').ping());
      assert.ok(result instanceof TlsError, String(result));
      assert.equal(result.message, `${plain.host} answered HTTPS in plain HTTP: mark the registry insecure: true to use HTTP`);
      assert.equal(attempts.get(`https://${plain.host}`), 1);
    } finally {
      await pool.close();
    }
  });

  test('mutual TLS: certFile and keyFile are presented; a missing or foreign one is named', async () => {
    const good = poolFor({ [plain.host]: { insecure: true }, [mtls.host]: { caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey } });
    const none = poolFor({ [mtls.host]: { caFile: pki.caFile } });
    const stranger = poolFor({ [mtls.host]: { caFile: pki.caFile, certFile: pki.strangerCert, keyFile: pki.strangerKey } });
    try {
      assert.equal(await copy(good, `${plain.host}/app/web:v1`, `${mtls.host}/mirror/web`), digest);
      for (const pool of [none, stranger]) {
        const { result, attempts } = await countConnections(() => pool.client(mtls.host, 'mirror/web', 'source').ping());
        assert.ok(result instanceof TlsError, String(result));
        assert.match(result.message, new RegExp(`^${mtls.host} refused the TLS client certificate \\(.+\\): set certFile and keyFile to one it accepts$`));
        assert.equal(attempts.get(`https://${mtls.host}`), 1, 'not retried');
      }
    } finally {
      await Promise.all([good.close(), none.close(), stranger.close()]);
    }
  });

  test('an unreadable caFile fails the client with the file named, before any connection', async () => {
    const pool = poolFor({ [https.host]: { caFile: '/nonexistent/ca.pem' } });
    try {
      assert.throws(
        () => pool.client(https.host, 'app/web', 'source'),
        (err: unknown) => err instanceof TlsError && err.message === `cannot read caFile /nonexistent/ca.pem for registry ${https.host} (no such file)`,
      );
    } finally {
      await pool.close();
    }
  });
});
