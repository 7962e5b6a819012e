// Issue 6, items 3 and 5 over HTTPS, on 127.0.0.1 and 127.0.0.2 with a throw-away certificate:
// nothing goes down from HTTPS to HTTP (redirects, upload Locations, token realms).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { UnsafeRedirectError, UntrustedRealmError } from '../../lib/errors.js';
import { stopAllTracked } from '../helpers/cleanup.js';
import { hostileClient, loopbackAgent, type LoopbackAgent } from '../helpers/hostile-client.js';
import { json, loopbackCertificate, startHostile } from '../helpers/hostile-server.js';

after(stopAllTracked);
let tls: { key: string; cert: string };
let agent: LoopbackAgent;
before(async () => {
  tls = await loopbackCertificate();
  agent = loopbackAgent(tls.cert);
});
const BLOB = Buffer.from('layer bytes');
const DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`;

function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => assert.fail('expected a refusal'), (e: unknown) => e);
}

describe('HTTPS registries', () => {
  test('a redirect from HTTPS to HTTP is refused; HTTPS to HTTPS elsewhere is followed', async () => {
    const plain = await startHostile((_req, res) => { res.writeHead(200, { 'content-length': String(BLOB.length) }); res.end(BLOB); }, '127.0.0.2');
    const secure = await startHostile((_req, res) => { res.writeHead(200, { 'content-length': String(BLOB.length) }); res.end(BLOB); }, '127.0.0.2', tls);
    const reg = await startHostile((req, res) => {
      res.writeHead(307, { location: `${req.url?.includes('down') ? plain.url : secure.url}/blob?sig=1`, 'content-length': '0' });
      res.end();
    }, '127.0.0.1', tls);
    const client = hostileClient(reg.host, agent, { insecure: false });
    const err = await rejection(client.blobGet('down', DIGEST));
    assert.ok(err instanceof UnsafeRedirectError, String(err));
    assert.match(err.message, new RegExp(`^${reg.host} pointed to http://${plain.host}/blob\\?<redacted>, which was refused: a downgrade from HTTPS to HTTP$`));
    assert.equal(plain.requests.length, 0);

    const ok = await client.blobGet('up', DIGEST);
    assert.equal(ok.size, BLOB.length);
    await ok.body.resume();
    assert.equal(secure.requests.length, 1);
  });

  test('an upload Location on plain HTTP, even on the same host, is refused', async () => {
    const reg = await startHostile((_req, res) => {
      res.writeHead(202, { location: `http://127.0.0.1:${reg.host.split(':')[1]}/v2/a/blobs/uploads/1`, 'content-length': '0' });
      res.end();
    }, '127.0.0.1', tls);
    const err = await rejection(hostileClient(reg.host, agent, { insecure: false }).blobUploadStart('a'));
    assert.ok(err instanceof UnsafeRedirectError, String(err));
    assert.match(err.message, /the upload Location is a downgrade from HTTPS to HTTP/);
  });

  test('an HTTP token realm of an HTTPS registry is refused, credentials unsent', async () => {
    const realm = await startHostile((_req, res) => json(res, 200, { token: 't' }));
    const reg = await startHostile((_req, res) => json(res, 401, {}, { 'www-authenticate': `Bearer realm="${realm.url}/token",service="s"` }), '127.0.0.1', tls);
    const err = await rejection(hostileClient(reg.host, agent, { insecure: false, credentials: { username: 'u', password: 'p' } }).tagList('a'));
    assert.ok(err instanceof UntrustedRealmError, String(err));
    assert.match(err.message, /it is not HTTPS and the registry is not marked insecure/);
    assert.equal(realm.requests.length, 0);
  });
});
