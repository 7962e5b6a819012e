// Issue 6, item 4: a hostile registry on 127.0.0.1 sends endless tag lists, Link loops, a 1 GiB error
// body, trickling bodies and control characters. Each run must fail fast with a one-line error
// naming the host and a stable code, with bounded memory (figures printed for the closing note).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BodyTooLargeError, PaginationError, RegistryError } from '../../lib/errors.js';
import { stopAllTracked } from '../helpers/cleanup.js';
import { hostileClient, loopbackAgent, peakRss } from '../helpers/hostile-client.js';
import { json, startHostile, streamBody } from '../helpers/hostile-server.js';

after(stopAllTracked);
const MiB = 2 ** 20;
const RSS_LIMIT_MIB = 200;
const agent = loopbackAgent();

function oneLine(err: unknown, host: string, code: string): void {
  assert.ok(err instanceof Error, `expected an error, got ${String(err)}`);
  assert.equal((err as { code?: string }).code, code, err.message);
  assert.ok(err.message.includes(host), `message does not name ${host}: ${err.message}`);
  assert.doesNotMatch(err.message, /[\u0000-\u001f\u007f]/, 'control characters or more than one line');
}

describe('tag lists and Link chains', () => {
  test('an endless tag list body fails at 16 MiB with bounded memory', async () => {
    const srv = await startHostile(async (_req, res, s) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const tags = Array.from({ length: 4096 }, (_, i) => `"t${String(i).padStart(10, '0')}"`).join(',');
      await streamBody(res, s, (i) => (i === 0 ? '{"name":"a","tags":[' : `${tags},`));
    });
    const run = await peakRss(() => hostileClient(srv.host, agent).tagList('a'));
    console.log(`endless tag list: ${run.error instanceof Error ? run.error.message : 'no error'}; RSS ${run.startMiB.toFixed(0)} -> peak ${run.peakMiB.toFixed(0)} MiB; ${run.ms} ms; server wrote ${(srv.bytesWritten / MiB).toFixed(1)} MiB`);
    assert.ok(run.error instanceof BodyTooLargeError);
    oneLine(run.error, srv.host, 'SWRM_BODY_TOO_LARGE');
    assert.ok(run.peakMiB < RSS_LIMIT_MIB, `peak RSS ${run.peakMiB} MiB`);
  });

  test('a Link loop (a page seen twice) fails with SWRM_PAGINATION', async () => {
    const srv = await startHostile((req, res) => {
      const next = req.url?.includes('last=b') ? '/v2/a/tags/list?n=1000' : '/v2/a/tags/list?last=b&n=1000';
      json(res, 200, { name: 'a', tags: req.url?.includes('last=b') ? ['c'] : ['a', 'b'] }, { link: `<${next}>; rel="next"` });
    });
    const run = await peakRss(() => hostileClient(srv.host, agent).tagList('a'));
    console.log(`Link loop: ${run.error instanceof Error ? run.error.message : 'no error'}; RSS ${run.startMiB.toFixed(0)} -> peak ${run.peakMiB.toFixed(0)} MiB; ${run.ms} ms`);
    assert.ok(run.error instanceof PaginationError);
    oneLine(run.error, srv.host, 'SWRM_PAGINATION');
    assert.match(run.error.message, /loops back to page 1 after 2 pages/);
    assert.equal(srv.requests.length, 2);
  });

  test('an endless chain of new pages stops at the entry cap with bounded memory', async () => {
    const srv = await startHostile((req, res) => {
      const page = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('last') ?? 0);
      const tags = Array.from({ length: 1000 }, (_, i) => `p${page}-tag-${String(i).padStart(6, '0')}`);
      json(res, 200, { name: 'a', tags }, { link: `</v2/a/tags/list?last=${page + 1}&n=1000>; rel="next"` });
    });
    const run = await peakRss(() => hostileClient(srv.host, agent).tagList('a'));
    console.log(`endless Link chain: ${run.error instanceof Error ? run.error.message : 'no error'}; RSS ${run.startMiB.toFixed(0)} -> peak ${run.peakMiB.toFixed(0)} MiB; ${run.ms} ms; ${srv.requests.length} pages`);
    assert.ok(run.error instanceof PaginationError);
    oneLine(run.error, srv.host, 'SWRM_PAGINATION');
    assert.ok(run.peakMiB < RSS_LIMIT_MIB, `peak RSS ${run.peakMiB} MiB`);
    assert.ok(srv.requests.length <= 501, `${srv.requests.length} pages fetched`);
  });

  test('tags with control characters or outside the tag grammar are dropped', async () => {
    const srv = await startHostile((_req, res) => json(res, 200, { name: 'a', tags: ['v1', 'x\u001b]0;pwned\u0007', 'a\nb', 'v2'] }));
    assert.deepEqual(await hostileClient(srv.host, agent).tagList('a'), ['v1', 'v2']);
  });
});

describe('manifests, error bodies, tokens', () => {
  test('a 1 GiB error body is read to 64 KiB, never buffered', async () => {
    const srv = await startHostile(async (_req, res, s) => {
      res.writeHead(500, { 'content-type': 'text/html', 'content-length': String(1024 * MiB) });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      await streamBody(res, s, (i) => (i < 16384 ? chunk : undefined));
    });
    const run = await peakRss(() => hostileClient(srv.host, agent).manifestGet('a', 'v1'));
    await new Promise((r) => setTimeout(r, 200));
    console.log(`1 GiB error body: ${run.error instanceof Error ? run.error.message : 'no error'}; RSS ${run.startMiB.toFixed(0)} -> peak ${run.peakMiB.toFixed(0)} MiB; ${run.ms} ms; server wrote ${(srv.bytesWritten / MiB).toFixed(1)} MiB`);
    assert.ok(run.error instanceof RegistryError && run.error.status === 500);
    oneLine(run.error, srv.host, 'SWRM_REGISTRY');
    assert.ok(srv.bytesWritten < 64 * MiB, `server wrote ${srv.bytesWritten} bytes: the client kept reading`);
  });

  test('an error body that trickles forever is abandoned after a bounded wait', async () => {
    const srv = await startHostile(async (_req, res, s) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      await streamBody(res, s, (i) => (i === 0 ? '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"' : 'x'), 20);
    });
    const run = await peakRss(() => hostileClient(srv.host, agent).manifestGet('a', 'v1'));
    assert.ok(run.error instanceof RegistryError && run.error.status === 404, String(run.error));
    assert.ok(run.ms < 6_000, `took ${run.ms} ms`);
  });

  test('manifests over 4 MiB are refused, by Content-Length or while streaming', async () => {
    const srv = await startHostile(async (req, res, s) => {
      const declared = req.url?.includes('declared');
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', ...(declared ? { 'content-length': String(5 * MiB) } : {}) });
      const chunk = Buffer.alloc(64 * 1024, ' ');
      await streamBody(res, s, (i) => (i < 80 ? chunk : undefined));
    });
    const client = hostileClient(srv.host, agent);
    for (const tag of ['declared', 'streamed']) {
      const err = await client.manifestGet('a', tag).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof BodyTooLargeError, String(err));
      oneLine(err, srv.host, 'SWRM_BODY_TOO_LARGE');
      assert.match(err.message, /manifest a:\w+ from 127\.0\.0\.1:\d+ is larger than 4194304 bytes/);
    }
  });

  test("a registry's error text reaches the message without control characters", async () => {
    const srv = await startHostile((_req, res) =>
      json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'gone\u001b[2J\r\nERROR fake line\u202e' }] }));
    const err = await hostileClient(srv.host, agent).manifestGet('a', 'v1').then(() => undefined, (e: unknown) => e);
    oneLine(err, srv.host, 'SWRM_REGISTRY');
    assert.match((err as Error).message, /MANIFEST_UNKNOWN: gone \[2J ERROR fake line/);
  });

  test('media types with control characters (C1 in a header, any in JSON) are stripped', async () => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/x\u001b[2J\u009b31m' }));
    const srv = await startHostile((req, res) => {
      // obs-text (0x80-0xff) is legal in a header value: 0x9b is CSI to a terminal reading latin1.
      const type = req.url?.includes('header') ? 'application/x\u009b2Jy' : 'application/json';
      res.writeHead(200, { 'content-type': type, 'content-length': String(body.length) });
      res.end(body);
    });
    // The media type goes on into logs, reports and the destination's Content-Type.
    const client = hostileClient(srv.host, agent);
    assert.equal((await client.manifestGet('a', 'header')).mediaType, 'application/x 2Jy');
    assert.equal((await client.manifestGet('a', 'json')).mediaType, 'application/x [2J 31m');
  });

  test('an endless token response is refused at 1 MiB', async () => {
    const realm = await startHostile(async (_req, res, s) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      await streamBody(res, s, (i) => (i === 0 ? '{"token":"' : 'a'.repeat(65536)));
    });
    const srv = await startHostile((_req, res) => json(res, 401, {}, { 'www-authenticate': `Bearer realm="${realm.url}/token",service="s"` }));
    const err = await hostileClient(srv.host, agent).tagList('a').then(() => undefined, (e: unknown) => e);
    oneLine(err, realm.host, 'SWRM_BODY_TOO_LARGE');
    assert.ok(realm.bytesWritten < 16 * MiB);
  });

  test('a manifest of 4 MiB exactly is accepted', async () => {
    const body = Buffer.alloc(4 * MiB, ' ');
    body.write('{"schemaVersion":2}');
    const srv = await startHostile((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(body.length) });
      res.end(body);
    });
    const got = await hostileClient(srv.host, agent).manifestGet('a', 'v1');
    assert.equal(got.digest, `sha256:${createHash('sha256').update(body).digest('hex')}`);
  });
});
