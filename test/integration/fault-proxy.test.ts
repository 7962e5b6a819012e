// The chaos suite's weapon (test/helpers/fault-proxy.ts) checked against a real distribution registry:
// each fault kind happens and the registry never sees a faulted request (except a cut body), upload
// bodies of faulted requests are drained, a seed reproduces the same faults, the CDN origin refuses
// Authorization and faults too, budget mode counts GETs and refills, the commit log records uploads
// and mounts, and at rate 0 everything passes through unchanged.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type PushedManifest, MT, getBlob, getManifest, listTags, pushImage, randomLayer, sha256 } from '../helpers/push.js';
import { headerValue } from '../helpers/client.js';
import { type FaultProxyHandle, type FaultProxyOptions, startFaultProxy } from '../helpers/fault-proxy.js';
import { FAULT_KINDS, type FaultKind, decide } from '../helpers/fault-proxy-plan.js';

const ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ');
/** Only `kind`, for every request (on the registry side). */
const only = (kind: FaultKind): Partial<Record<FaultKind, number>> =>
  Object.fromEntries(FAULT_KINDS.map((k) => [k, k === kind ? 1 : 0]));

interface Raw { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }
/** One request, no retries, no redirects; rejects when the connection breaks (reset, cut body). */
async function raw(url: string, method = 'GET', opts: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<Raw> {
  const res = await request(url, { method: method as 'GET', headers: opts.headers ?? {}, body: opts.body ?? null });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

describe('fault proxy', () => {
  let reg: RegistryHandle;
  let img: PushedManifest;
  let layer: { digest: string; size: number };
  const proxies: FaultProxyHandle[] = [];
  const proxy = async (opts: FaultProxyOptions): Promise<FaultProxyHandle> => {
    const p = await startFaultProxy(reg, opts);
    proxies.push(p);
    return p;
  };

  before(async () => {
    reg = await startRegistry();
    img = await pushImage(reg, 'app/one', 'v1', { format: 'docker', layers: [randomLayer(3_000), randomLayer(20_000)] });
    layer = img.blobs.reduce((a, b) => (b.size > a.size ? b : a));
  });
  after(async () => {
    for (const p of proxies) await p.stop();
    await stopAll();
  });

  /** Requests the registry itself logged since `mark` for a path containing `fragment`. */
  const upstreamSaw = async (mark: number, fragment: string): Promise<number> => {
    await reg.settle();
    return reg.requestsSince(mark).filter((e) => e.path.includes(fragment)).length;
  };

  test('503, 429, Docker Hub 429 and reset are answered by the proxy: the registry never sees them', async () => {
    for (const kind of ['503', '429', '429-hub', 'reset'] as const) {
      const p = await proxy({ faultRate: 1, kinds: only(kind), budget: { limit: 10, windowS: 60 } });
      const mark = reg.mark();
      const url = `${p.url}/v2/app/one/manifests/v1`;
      if (kind === 'reset') {
        // ECONNRESET: a real RST, not a polite close (which undici reports as UND_ERR_SOCKET).
        await assert.rejects(raw(url), { code: 'ECONNRESET' });
      } else {
        const r = await raw(url, 'GET', { headers: { accept: ACCEPT } });
        const code = (JSON.parse(r.body.toString()) as { errors: { code: string }[] }).errors[0]!.code;
        if (kind === '503') {
          assert.equal(r.status, 503);
          assert.equal(code, 'UNAVAILABLE');
        } else {
          assert.equal(r.status, 429);
          assert.equal(code, 'TOOMANYREQUESTS');
        }
        if (kind === '429') {
          assert.equal(r.headers['retry-after'], '1');
          assert.equal(r.headers['ratelimit-remaining'], undefined);
        }
        if (kind === '429-hub') {
          // A throttle, not a spent budget: the true remaining (nothing was counted) is stated.
          assert.equal(r.headers['ratelimit-limit'], '10;w=60');
          assert.equal(r.headers['ratelimit-remaining'], '10;w=60');
          assert.equal(r.headers['docker-ratelimit-source'], '127.0.0.1');
          assert.equal(r.headers['retry-after'], undefined);
        }
      }
      assert.equal(await upstreamSaw(mark, '/manifests/'), 0, `${kind}: the registry saw the faulted request`);
      const [rec] = p.log.records;
      assert.deepEqual([rec?.fault, rec?.status, rec?.route], [kind, kind === 'reset' ? 0 : kind === '503' ? 503 : 429, 'manifest-get']);
      assert.equal(p.log.stats().registry.byFault[kind], 1);
    }
  });

  test('cut body: status and full Content-Length, then part of the body and a closed connection', async () => {
    const p = await proxy({ faultRate: 1, kinds: only('cut-body') });
    const mark = reg.mark();
    const res = await request(`${p.url}/v2/app/one/blobs/${layer.digest}`);
    assert.equal(res.statusCode, 200);
    assert.equal(Number(res.headers['content-length']), layer.size);
    let got = 0;
    await assert.rejects(async () => {
      for await (const chunk of res.body) got += (chunk as Buffer).length;
    });
    assert.ok(got < layer.size, `got ${got} of ${layer.size} bytes`);
    assert.equal(await upstreamSaw(mark, layer.digest), 1, 'a cut body is the registry\'s answer, cut');
    assert.equal(p.log.records[0]?.fault, 'cut-body');
    // A HEAD has no body to cut: it passes, and is not counted as a fault.
    const head = await raw(`${p.url}/v2/app/one/blobs/${layer.digest}`, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(p.log.records[1]?.fault, 'none');
  });

  test('a faulted upload PUT gets its 503 and commits nothing; a lost response commits but the client hears nothing', async () => {
    const bytes = randomLayer(50_000);
    const digest = sha256(bytes);
    const session = async (): Promise<string> => {
      const post = await raw(`${reg.url}/v2/app/one/blobs/uploads/`, 'POST');
      assert.equal(post.status, 202);
      const loc = new URL(String(post.headers.location), reg.url);
      return `${loc.pathname}${loc.search}&digest=${encodeURIComponent(digest)}`;
    };
    const busy = await proxy({ faultRate: 1, kinds: only('503') });
    const refused = await raw(`${busy.url}${await session()}`, 'PUT', { body: bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(refused.status, 503);
    assert.equal((await raw(`${reg.url}/v2/app/one/blobs/${digest}`, 'HEAD')).status, 404);
    assert.deepEqual(busy.log.commits, []);

    const lost = await proxy({ faultRate: 1, kinds: only('lost-response') });
    await assert.rejects(raw(`${lost.url}${await session()}`, 'PUT', { body: bytes, headers: { 'content-type': 'application/octet-stream' } }));
    await lost.idle();
    assert.equal((await raw(`${reg.url}/v2/app/one/blobs/${digest}`, 'HEAD')).status, 200);
    assert.deepEqual(lost.log.commits.map((c) => [c.repository, c.digest, c.via]), [['app/one', digest, 'put']]);
    assert.equal(lost.log.records[0]?.fault, 'lost-response');
  });

  test('a client that dies mid-upload leaves nothing waiting on the registry', async () => {
    const p = await proxy({ faultRate: 0 });
    const post = await raw(`${p.url}/v2/app/one/blobs/uploads/`, 'POST');
    const loc = new URL(String(post.headers.location));
    const abort = new AbortController();
    // One chunk of a body announced as 1 MiB, then silence: the registry waits for the rest.
    const body = new PassThrough();
    body.write(Buffer.alloc(1_000));
    const put = request(`${p.url}${loc.pathname}${loc.search}&digest=sha256:${'0'.repeat(64)}`, {
      method: 'PUT', body, headers: { 'content-length': String(1 << 20) }, signal: abort.signal,
    });
    await sleep(200);
    abort.abort();
    await assert.rejects(put);
    await p.idle(3_000);
  });

  test('a mixed plan: every kind at about the rate, the same faults for the same seed, others for another', async () => {
    const opts = { faultRate: 0.5, budget: { limit: 1000, windowS: 60 } };
    const [a, b, c] = [await proxy({ ...opts, seed: 7 }), await proxy({ ...opts, seed: 7 }), await proxy({ ...opts, seed: 8 })];
    const paths: [string, string][] = [];
    for (let i = 0; i < 20; i++) {
      paths.push(['HEAD', '/v2/app/one/manifests/v1'], ['GET', '/v2/app/one/manifests/v1'],
        ['GET', `/v2/app/one/blobs/${layer.digest}`], ['GET', '/v2/app/one/tags/list']);
    }
    const run = async (p: FaultProxyHandle): Promise<string[]> => {
      for (const [method, path] of paths) await raw(`${p.url}${path}`, method, { headers: { accept: ACCEPT } }).catch(() => undefined);
      return p.log.records.map((r) => `${r.method} ${r.route} ${r.fault}`);
    };
    const [fa, fb, fc] = [await run(a), await run(b), await run(c)];
    assert.deepEqual(fa, fb, 'the same seed faulted other requests');
    assert.notDeepEqual(fa, fc, 'another seed faulted the same requests');
    const s = a.log.stats();
    assert.equal(s.requests, paths.length);
    assert.ok(s.faults >= 0.35 * paths.length && s.faults <= 0.65 * paths.length, `${s.faults} faults in ${paths.length}`);
    for (const kind of ['503', '429', '429-hub', 'reset', 'cut-body'] as const) assert.ok(s.registry.byFault[kind] > 0, `no ${kind} in ${JSON.stringify(s.registry.byFault)}`);
    assert.equal(s.registry.byFault['lost-response'], 0, 'lost-response is off by default');
    assert.deepEqual([s.registry.byRoute['manifest-head'], s.registry.byRoute['manifest-get'], s.registry.byRoute['blob-get'], s.registry.byRoute['tag-list']], [20, 20, 20, 20]);
    // Lowering the rate only removes faults: the decision's first draw is compared with the rate.
    for (let i = 0; i < 200; i++) {
      const hi = decide(3, `k${i}`, 0.5, [['503', 1], ['reset', 1]]);
      const lo = decide(3, `k${i}`, 0.2, [['503', 1], ['reset', 1]]);
      if (lo.kind !== 'none') assert.equal(lo.kind, hi.kind);
    }
  });

  test('cdn: blob GETs go to another origin, which refuses Authorization and faults too', async () => {
    const p = await proxy({ cdn: true, faultRate: 0 });
    const redirect = await raw(`${p.url}/v2/app/one/blobs/${layer.digest}`);
    assert.equal(redirect.status, 307);
    const location = new URL(String(redirect.headers.location));
    assert.notEqual(location.origin, p.url);
    assert.equal(location.origin, p.cdnOrigin);
    const blob = await raw(location.href);
    assert.equal(blob.status, 200);
    assert.equal(sha256(blob.body), layer.digest);
    const withAuth = await raw(location.href, 'GET', { headers: { authorization: 'Bearer secret-token' } });
    assert.equal(withAuth.status, 400);
    assert.match(withAuth.body.toString(), /Only one auth mechanism allowed/);
    const s = p.log.stats();
    assert.deepEqual([s.registry.byRoute['blob-get'], s.cdn.byRoute['blob-get'], s.cdn.refused.authorization, s.faults], [1, 2, 1, 0]);

    for (const kind of ['503', 'reset', 'cut-body'] as const) {
      const f = await proxy({ cdn: true, faultRate: 0, cdnFaultRate: 1, kinds: only(kind) });
      const hop = await raw(`${f.url}/v2/app/one/blobs/${layer.digest}`);
      assert.equal(hop.status, 307, `${kind}: the redirect itself is not faulted`);
      const at = raw(String(hop.headers.location));
      if (kind === '503') assert.equal((await at).status, 503);
      else await assert.rejects(at, `${kind}: the CDN answered in full`);
      assert.deepEqual(f.log.records.map((r) => `${r.side} ${r.fault}`), ['registry none', `cdn ${kind}`]);
    }
  });

  test('budget mode: manifest GETs counted (HEADs free), 429 with remaining 0 once spent, refilled after the window', async () => {
    const p = await proxy({ faultRate: 0, budget: { limit: 3, windowS: 1 } });
    // The earlier tests' requests may still be on their way into the registry's log: let them land
    // before the mark (a 4th GET was counted once on a busy machine).
    await reg.settle();
    const mark = reg.mark();
    const url = `${p.url}/v2/app/one/manifests/v1`;
    const remaining = (r: Raw) => [r.status, r.headers['ratelimit-remaining'], r.headers['ratelimit-limit']];
    assert.deepEqual(remaining(await raw(url, 'HEAD', { headers: { accept: ACCEPT } })), [200, '3;w=1', '3;w=1']);
    for (const left of [2, 1, 0]) assert.deepEqual(remaining(await raw(url, 'GET', { headers: { accept: ACCEPT } })), [200, `${left};w=1`, '3;w=1']);
    const spent = await raw(url, 'GET', { headers: { accept: ACCEPT } });
    assert.deepEqual(remaining(spent), [429, '0;w=1', '3;w=1']);
    assert.match(spent.body.toString(), /"code":"TOOMANYREQUESTS"/);
    assert.deepEqual(remaining(await raw(url, 'HEAD', { headers: { accept: ACCEPT } })), [200, '0;w=1', '3;w=1']);
    // Blobs are not manifests: not counted, no headers.
    const blob = await raw(`${p.url}/v2/app/one/blobs/${layer.digest}`, 'HEAD');
    assert.equal(blob.headers['ratelimit-remaining'], undefined);
    await reg.settle();
    assert.equal(reg.requestsSince(mark).filter((e) => e.method === 'GET').length, 3, 'only the 3 counted GETs reach the registry');
    await sleep(1_100);
    assert.deepEqual(remaining(await raw(url, 'GET', { headers: { accept: ACCEPT } })), [200, '2;w=1', '3;w=1']);
    const s = p.log.stats().registry;
    assert.deepEqual([s.byRoute['manifest-get'], s.byRoute['manifest-head'], s.refused.budget, s.faults], [5, 2, 1, 0]);
  });

  test('the commit log records upload PUTs and mounts answered 201, in order, with repository and digest', async () => {
    const p = await proxy({ faultRate: 0 });
    const pushed = await pushImage(p, 'pushed/app', 'v1', { format: 'oci', layers: [randomLayer(4_000), randomLayer(5_000)] });
    assert.deepEqual(
      p.log.commits.map((c) => `${c.repository}@${c.digest} ${c.via}`).sort(),
      pushed.blobs.map((b) => `pushed/app@${b.digest} put`).sort(),
    );
    const from = pushed.blobs[0]!.digest;
    const mount = await raw(`${p.url}/v2/pushed/other/blobs/uploads/?mount=${from}&from=pushed/app`, 'POST');
    assert.equal(mount.status, 201);
    assert.deepEqual(p.log.commits.at(-1), { ...p.log.commits.at(-1)!, repository: 'pushed/other', digest: from, via: 'mount' });
    const s = p.log.stats().registry.byRoute;
    assert.deepEqual([s['upload-post'], s['upload-put'], s['manifest-put']], [4, 3, 1]);
    assert.ok(p.log.commits.every((c, i) => i === 0 || c.at >= p.log.commits[i - 1]!.at), 'commits out of order');
  });

  test('at rate 0 everything passes unchanged (digests equal); setFaultRate changes it at run time', async () => {
    const p = await proxy({ faultRate: 1, kinds: only('503'), budget: { limit: 100, windowS: 60 } });
    assert.equal((await raw(`${p.url}/v2/app/one/manifests/v1`, 'HEAD')).status, 503);
    p.setFaultRate(0);
    assert.equal(p.faultRate, 0);
    const viaProxy = await getManifest(p, 'app/one', 'v1');
    const direct = await getManifest(reg, 'app/one', 'v1');
    assert.equal(viaProxy?.digest, img.digest);
    assert.deepEqual(viaProxy?.bytes, direct?.bytes);
    for (const b of img.blobs) assert.equal(sha256((await getBlob(p, 'app/one', b.digest))!), b.digest);
    assert.deepEqual(await listTags(p, 'app/one'), await listTags(reg, 'app/one'));
    const res = await request(`${p.url}/v2/app/one/manifests/v1`, { method: 'HEAD', headers: { accept: ACCEPT } });
    await res.body.dump();
    assert.equal(headerValue(res, 'docker-content-digest'), img.digest);
    assert.equal(p.log.stats().faults, 1, 'only the request before healing was faulted');
    assert.throws(() => p.setFaultRate(1.5), /\[0, 1\]/);

    // `exclude`: the ping and HEADs pass even at rate 1; the rest is faulted.
    const picky = await proxy({ faultRate: 1, kinds: only('503'), exclude: (method, path) => method === 'HEAD' || path === '/v2/' });
    assert.equal((await raw(`${picky.url}/v2/`)).status, 200);
    assert.equal((await raw(`${picky.url}/v2/app/one/manifests/v1`, 'HEAD', { headers: { accept: ACCEPT } })).status, 200);
    assert.equal((await raw(`${picky.url}/v2/app/one/tags/list`)).status, 503);
    assert.deepEqual(picky.log.records.map((r) => `${r.route} ${r.status}`), ['ping 200', 'manifest-head 200', 'tag-list 503']);
  });
});
