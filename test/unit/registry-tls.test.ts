// TLS and proxy logic without a network: which errors are certificate problems (permanent, with the
// option that fixes them), which mean "this port speaks plain HTTP", how caFile/certFile/keyFile are
// checked, where proxy settings come from, and how the insecure fallback decides once per host.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, NetworkError, TlsError, isRetryable } from '../../lib/errors.js';
import { isPlainHttpAnswer, tlsFailure } from '../../lib/registry/http/tls-errors.js';
import { tlsConnectOptions, tlsProfileKey } from '../../lib/registry/http/tls.js';
import { proxySettings } from '../../lib/registry/http/undici-agent.js';
import { type Scheme, SchemeChoice } from '../../lib/registry/http/insecure-fallback.js';
import { networkReason } from '../../lib/registry/http/transport.js';
import { testPki } from '../helpers/certs.js';

const coded = (code: string, message = `openssl says ${code}`, cause?: unknown): Error =>
  Object.assign(new Error(message), { code, ...(cause ? { cause } : {}) });

describe('tlsFailure', () => {
  const host = 'harbor.corp:8443';
  const cases: [string, unknown, RegExp][] = [
    ['self-signed', coded('DEPTH_ZERO_SELF_SIGNED_CERT'), /not trusted \(self-signed certificate\): give its CA as caFile, or set insecure: true/],
    ['private CA', coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), /not trusted \(unknown issuer\): give its CA as caFile/],
    ['expired', coded('CERT_HAS_EXPIRED'), /has expired: renew it on the registry, or set insecure: true/],
    ['wrong name', coded('ERR_TLS_CERT_ALTNAME_INVALID'), /is for other names: .*insecure: true/],
    ['wrong name through a proxy (undici wraps it)', coded('UND_ERR_PRX_TLS', 'Secure Proxy Connection failed', coded('ERR_TLS_CERT_ALTNAME_INVALID')), /is for other names/],
    ['plain-HTTP port', coded('ERR_SSL_WRONG_VERSION_NUMBER', 'ssl3_get_record:wrong version number'), /answered HTTPS in plain HTTP: mark the registry insecure: true/],
    ['client certificate missing (TLS 1.2, at connect)', coded('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'), /refused the TLS client certificate \(bad certificate\): set certFile and keyFile/],
    ['client certificate missing (TLS 1.3, alert after "other side closed")', coded('UND_ERR_SOCKET', 'other side closed', coded('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')), /\(certificate required\): set certFile and keyFile/],
    ['client certificate from an unknown CA', coded('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), /\(unknown ca\): set certFile and keyFile/],
  ];
  for (const [name, err, message] of cases) {
    test(name, () => {
      const tls = tlsFailure(host, err);
      assert.ok(tls instanceof TlsError);
      assert.equal(tls.code, ErrorCode.TLS);
      assert.match(tls.message, message);
      assert.ok(tls.message.startsWith('TLS certificate of harbor.corp:8443') || tls.message.startsWith('harbor.corp:8443 '), tls.message);
      assert.doesNotMatch(tls.message, /\n|wrong version number|openssl/);
      assert.equal(isRetryable(tls), false, 'certificate problems are permanent');
    });
  }

  test('passing network errors are not TLS failures', () => {
    for (const err of [coded('ECONNREFUSED'), coded('ECONNRESET'), coded('UND_ERR_SOCKET', 'other side closed'), new Error('x'), undefined]) {
      assert.equal(tlsFailure(host, err), undefined);
    }
    assert.equal(isRetryable(new NetworkError(host, 'connection reset')), true);
  });

  test('only a plain-HTTP answer to the handshake is one', () => {
    assert.equal(isPlainHttpAnswer(coded('ERR_SSL_WRONG_VERSION_NUMBER')), true);
    assert.equal(isPlainHttpAnswer(new TlsError(host, 'x', true, { cause: coded('ERR_SSL_WRONG_VERSION_NUMBER') })), true);
    assert.equal(isPlainHttpAnswer(coded('DEPTH_ZERO_SELF_SIGNED_CERT')), false);
    assert.equal(isPlainHttpAnswer(coded('ECONNREFUSED')), false);
    assert.equal(tlsFailure(host, coded('ERR_SSL_WRONG_VERSION_NUMBER'))?.plainHttp, true);
  });
});

describe('networkReason', () => {
  test('a proxy that refuses the tunnel says so, without the proxy URL', () => {
    const reason = networkReason(coded('UND_ERR_ABORTED', 'Proxy response (407) !== 200 when HTTP Tunneling'));
    assert.equal(reason, 'the proxy refused the tunnel (HTTP 407)');
  });
});

describe('tlsConnectOptions', () => {
  const files = (map: Record<string, string>) => (path: string): string => {
    const content = map[path];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return content;
  };

  test('default and insecure profiles', () => {
    assert.deepEqual(tlsConnectOptions('r.io', {}), {});
    assert.deepEqual(tlsConnectOptions('r.io', { insecure: true }), { rejectUnauthorized: false });
    assert.notEqual(tlsProfileKey({}), tlsProfileKey({ insecure: true }));
    assert.equal(tlsProfileKey({ caFile: '/a' }), tlsProfileKey({ caFile: '/a', insecure: false }));
  });

  test('a missing caFile names the file and the registry', () => {
    assert.throws(
      () => tlsConnectOptions('harbor.corp', { caFile: '/etc/ca/corp.pem' }, files({})),
      (err: unknown) =>
        err instanceof TlsError && err.message === 'cannot read caFile /etc/ca/corp.pem for registry harbor.corp (no such file)' && !isRetryable(err),
    );
  });

  test('a caFile that is not PEM names the file', () => {
    assert.throws(
      () => tlsConnectOptions('harbor.corp', { caFile: '/ca.pem' }, files({ '/ca.pem': 'hello' })),
      (err: unknown) => err instanceof TlsError && /^caFile \/ca\.pem for registry harbor\.corp is not a PEM certificate bundle/.test(err.message),
    );
  });

  test('a client certificate with the wrong key names both files', async () => {
    const pki = await testPki();
    assert.throws(
      () => tlsConnectOptions('mtls.corp', { certFile: pki.clientCert, keyFile: pki.strangerKey }),
      (err: unknown) =>
        err instanceof TlsError && err.message.startsWith(`certFile ${pki.clientCert} and keyFile ${pki.strangerKey} for registry mtls.corp cannot be used (`),
    );
    assert.throws(() => tlsConnectOptions('mtls.corp', { certFile: pki.clientCert }), /give both certFile and keyFile/);
  });

  test('good files give one secure context, verification stays on', async () => {
    const pki = await testPki();
    const opts = tlsConnectOptions('mtls.corp', { caFile: pki.caFile, certFile: pki.clientCert, keyFile: pki.clientKey });
    assert.ok(opts.secureContext);
    assert.equal(opts.rejectUnauthorized, undefined);
  });
});

describe('proxySettings', () => {
  test('no proxy variables: no proxy agent at all', () => {
    assert.equal(proxySettings({}), undefined);
    assert.equal(proxySettings({ NO_PROXY: 'a.b' }), undefined);
    assert.equal(proxySettings({ HTTPS_PROXY: '' }), undefined);
  });
  test('upper and lower case, lower case first (as curl and undici)', () => {
    assert.deepEqual(proxySettings({ HTTPS_PROXY: 'http://p:3128', NO_PROXY: 'local' }), { httpProxy: '', httpsProxy: 'http://p:3128', noProxy: 'local' });
    assert.deepEqual(proxySettings({ https_proxy: 'http://low', HTTPS_PROXY: 'http://up', HTTP_PROXY: 'http://h', no_proxy: 'x', NO_PROXY: 'y' }), {
      httpProxy: 'http://h', httpsProxy: 'http://low', noProxy: 'x',
    });
    // An empty variable is unset (a CI job that blanks the lower-case one keeps the upper-case one).
    assert.deepEqual(proxySettings({ https_proxy: '', HTTPS_PROXY: 'http://up', no_proxy: '', NO_PROXY: 'y' }), { httpProxy: '', httpsProxy: 'http://up', noProxy: 'y' });
  });
});

describe('SchemeChoice (insecure: HTTPS first, plain HTTP when the port speaks it)', () => {
  const plainAnswer = () => new TlsError('h:1', 'plain', true, { cause: coded('ERR_SSL_WRONG_VERSION_NUMBER') });

  test('concurrent first requests: one HTTPS attempt, then everyone uses HTTP, for good', async () => {
    const choice = new SchemeChoice();
    const sent: Scheme[] = [];
    const send = async (scheme: Scheme): Promise<string> => {
      sent.push(scheme);
      await new Promise((r) => setTimeout(r, 5));
      if (scheme === 'https:') throw plainAnswer();
      return 'ok';
    };
    const results = await Promise.all(Array.from({ length: 8 }, () => choice.run('h:1', send)));
    assert.deepEqual(results, Array(8).fill('ok'));
    assert.equal(sent.filter((s) => s === 'https:').length, 1);
    assert.equal(sent.filter((s) => s === 'http:').length, 8);
    assert.equal(choice.known('h:1'), 'http:');
    await choice.run('h:1', send);
    assert.equal(sent.filter((s) => s === 'https:').length, 1, 'decided once');
    assert.equal(choice.known('other:2'), undefined, 'per host');
  });

  test('an HTTPS answer decides HTTPS', async () => {
    const choice = new SchemeChoice();
    assert.equal(await choice.run('h:1', async (s) => s), 'https:');
    assert.equal(choice.known('h:1'), 'https:');
  });

  test('a refused connection decides nothing: the next request tries HTTPS again', async () => {
    const choice = new SchemeChoice();
    const refused = new NetworkError('h:1', 'connection refused');
    await assert.rejects(choice.run('h:1', async () => { throw refused; }), refused);
    assert.equal(choice.known('h:1'), undefined);
    assert.equal(await choice.run('h:1', async (s) => s), 'https:');
  });
});
