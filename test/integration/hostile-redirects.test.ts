// Issue 6, items 3 and 5 against scripted loopback servers: token realms on another address,
// redirects (301-308, HTTPS downgrade, metadata addresses), Authorization only on the registry's
// origin, and upload Locations and Links on another origin. Every listener is on 127.0.0.x; the
// client's dispatcher refuses anything else, so a broken refusal could not leave the host either.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProtocolError, UnsafeRedirectError, UntrustedRealmError } from '../../lib/errors.js';
import { stopAllTracked } from '../helpers/cleanup.js';
import { hostileClient, loopbackAgent } from '../helpers/hostile-client.js';
import { json, startHostile, type HostileServer } from '../helpers/hostile-server.js';

after(stopAllTracked);
const agent = loopbackAgent();
const creds = { username: 'user', password: 's3cret' };
const MANIFEST = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}');
const DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;

function serveManifest(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(MANIFEST.length), 'docker-content-digest': DIGEST });
  res.end(MANIFEST);
}

/** A token realm that hands out the token "good" to anyone. */
function tokenRealm(address: string): Promise<HostileServer> {
  return startHostile((_req, res) => json(res, 200, { token: 'good', expires_in: 300 }), address);
}

/** A registry that wants `Bearer good` for everything, then lets `route` answer. */
function bearerRegistry(realmUrl: string, route: (req: IncomingMessage, res: ServerResponse) => void): Promise<HostileServer> {
  return startHostile((req, res) => {
    if (req.headers.authorization !== 'Bearer good') {
      json(res, 401, { errors: [{ code: 'UNAUTHORIZED' }] }, { 'www-authenticate': `Bearer realm="${realmUrl}",service="hostile"` });
      return;
    }
    route(req, res);
  });
}

function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => assert.fail('expected a refusal'), (e: unknown) => e);
}

describe('token realms', () => {
  test('a realm on another loopback address (127.0.0.2) gets no credentials unless listed', async () => {
    const realm = await tokenRealm('127.0.0.2');
    const reg = await bearerRegistry(`${realm.url}/token`, (_req, res) => json(res, 200, { name: 'a', tags: ['v1'] }));
    const err = await rejection(hostileClient(reg.host, agent, { credentials: creds }).tagList('a'));
    assert.ok(err instanceof UntrustedRealmError, String(err));
    assert.equal(err.code, 'SWRM_UNTRUSTED_REALM');
    assert.match(err.message, new RegExp(`registry ${reg.host} sent token realm http://${realm.host}/token, which is not trusted`));
    assert.doesNotMatch(err.message, /s3cret|\n/);
    assert.equal(realm.requests.length, 0, 'the realm was contacted');

    const listed = hostileClient(reg.host, agent, { credentials: creds, tokenRealms: [realm.host] });
    assert.deepEqual(await listed.tagList('a'), ['v1']);
    assert.equal(realm.requests[0]?.headers.authorization, `Basic ${Buffer.from('user:s3cret').toString('base64')}`);
  });

  test("a realm on the registry's own host (another port) is trusted for an insecure registry", async () => {
    const realm = await tokenRealm('127.0.0.1');
    const reg = await bearerRegistry(`${realm.url}/token`, (_req, res) => json(res, 200, { name: 'a', tags: ['v1'] }));
    assert.deepEqual(await hostileClient(reg.host, agent, { credentials: creds }).tagList('a'), ['v1']);
    assert.equal(realm.requests.length, 1);
  });

  test('a link-local realm is refused before anything is sent', async () => {
    const reg = await startHostile((_req, res) => json(res, 401, {}, { 'www-authenticate': 'Bearer realm="http://169.254.169.254/latest/meta-data/",service="x"' }));
    const err = await rejection(hostileClient(reg.host, agent, { tokenRealms: ['169.254.169.254'] }).tagList('a'));
    assert.ok(err instanceof UntrustedRealmError, String(err));
    assert.match(err.message, /metadata address and allowLinkLocal is not set/);
    assert.deepEqual(agent.blocked, []);
  });
});

describe('redirects', () => {
  for (const status of [301, 302, 303, 307, 308]) {
    test(`${status} to another origin is followed without Authorization`, async () => {
      const storage = await startHostile((_req, res) => serveManifest(res), '127.0.0.2');
      const realm = await tokenRealm('127.0.0.1');
      const reg = await bearerRegistry(`${realm.url}/token`, (_req, res) => {
        res.writeHead(status, { location: `${storage.url}/m/${DIGEST}?X-Amz-Signature=abc`, 'content-length': '0' });
        res.end();
      });
      const got = await hostileClient(reg.host, agent).manifestGet('a', 'v1');
      assert.equal(got.digest, DIGEST);
      assert.equal(reg.requests.at(-1)?.headers.authorization, 'Bearer good');
      assert.equal(storage.requests.length, 1);
      assert.equal(storage.requests[0]?.headers.authorization, undefined, 'Authorization leaked to the other origin');
    });
  }

  test('a redirect on the same origin keeps Authorization', async () => {
    const realm = await tokenRealm('127.0.0.1');
    const reg = await bearerRegistry(`${realm.url}/token`, (req, res) => {
      if (req.url?.endsWith('/v1')) {
        res.writeHead(307, { location: `/v2/a/manifests/${DIGEST}`, 'content-length': '0' });
        res.end();
      } else serveManifest(res);
    });
    assert.equal((await hostileClient(reg.host, agent).manifestGet('a', 'v1')).digest, DIGEST);
    assert.deepEqual(reg.requests.filter((r) => r.headers.authorization).map((r) => r.path), ['/v2/a/manifests/v1', `/v2/a/manifests/${DIGEST}`]);
  });

  test('metadata and link-local targets are refused unless allowLinkLocal', async () => {
    for (const target of ['http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/latest', 'http://169.254.7.7/x']) {
      const reg = await startHostile((_req, res) => { res.writeHead(302, { location: target, 'content-length': '0' }); res.end(); });
      const err = await rejection(hostileClient(reg.host, agent).blobGet('a', DIGEST));
      assert.ok(err instanceof UnsafeRedirectError, String(err));
      assert.equal(err.code, 'SWRM_UNSAFE_REDIRECT');
      assert.match(err.message, new RegExp(`^${reg.host} pointed to .*, which was refused: a link-local or cloud metadata address`));
      // With allowLinkLocal the client does try: the test guard stops it at the dispatcher.
      const allowed = await rejection(hostileClient(reg.host, agent, { allowLinkLocal: true }).blobGet('a', DIGEST));
      assert.match(String(allowed), /test guard: refused to contact/);
    }
    assert.equal(agent.blocked.length, 3);
    agent.blocked.length = 0;
  });

  test('a redirect loop ends after 5 hops', async () => {
    const reg = await startHostile((req, res) => { res.writeHead(302, { location: `${req.url}x`, 'content-length': '0' }); res.end(); });
    const err = await rejection(hostileClient(reg.host, agent).manifestGet('a', 'v1'));
    assert.ok(err instanceof ProtocolError && /more than 5 redirects/.test(err.message), String(err));
    assert.equal(reg.requests.length, 6);
  });
});

describe('upload Locations and Links on another origin', () => {
  test('an upload Location on 127.0.0.2 is refused before anything is sent there', async () => {
    const other = await startHostile((_req, res) => { res.writeHead(201); res.end(); }, '127.0.0.2');
    const reg = await startHostile((_req, res) => {
      res.writeHead(202, { location: `${other.url}/upload/1?_state=x`, 'content-length': '0' });
      res.end();
    });
    const client = hostileClient(reg.host, agent);
    for (const start of [() => client.blobUploadStart('a'), () => client.blobMount('a', DIGEST, 'b')]) {
      const err = await rejection(start());
      assert.ok(err instanceof UnsafeRedirectError, String(err));
      assert.match(err.message, new RegExp(`the upload Location is not on the registry's origin http://${reg.host}`));
      assert.doesNotMatch(err.message, /_state/, 'query strings are redacted');
    }
    assert.equal(other.requests.length, 0);
  });

  test('a Link to another origin is refused', async () => {
    const other = await startHostile((_req, res) => json(res, 200, { tags: ['stolen'] }), '127.0.0.2');
    const reg = await startHostile((_req, res) => json(res, 200, { name: 'a', tags: ['v1'] }, { link: `<${other.url}/v2/a/tags/list?last=v1>; rel="next"` }));
    const err = await rejection(hostileClient(reg.host, agent).tagList('a'));
    assert.ok(err instanceof UnsafeRedirectError, String(err));
    assert.match(err.message, /the Link header is not on the registry's origin/);
    assert.equal(other.requests.length, 0);
  });
});
