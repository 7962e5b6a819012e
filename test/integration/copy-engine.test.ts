// The copy engine in-process (as `sync` will drive it): dedup across images, a big layer streamed,
// corrupted and redirected sources, and the bad-input messages of the CLI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyImage } from '../../lib/copy/copy-image.js';
import { createCopyContext } from '../../lib/copy/context.js';
import { parseReference, parseRepositoryReference } from '../../lib/oci/reference.js';
import { ClientPool } from '../../lib/registry/pool.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { blobExists, getManifest, pushImage, randomLayer, streamLayerTo } from '../helpers/push.js';
import { runCli, writeAuthFile } from '../helpers/run-cli.js';

const fastRetry = { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 };

function pool(...regs: { host: string; username?: string; password?: string }[]): ClientPool {
  return new ClientPool({
    resolve: (registry) => {
      const r = regs.find((x) => x.host === registry);
      return { insecure: true, credentials: r?.username ? { username: r.username, password: r.password ?? '' } : undefined };
    },
    retry: fastRetry,
  });
}

async function copy(p: ClientPool, ctx: ReturnType<typeof createCopyContext>, src: string, dst: string) {
  const s = parseReference(src);
  const d = parseRepositoryReference(dst);
  return copyImage(
    ctx,
    { client: p.client(s.registry, s.repository, 'source'), ref: s },
    { client: p.client(d.registry, d.repository, 'destination'), ref: d },
  );
}

describe('copy engine', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'token' })]);
  });
  after(stopAll);

  test('a listed digest stands for the source HEAD; one the source no longer has falls back to a HEAD of the tag', async () => {
    const img = await pushImage(src, 'listed/app', 'v1', { format: 'docker', layers: [randomLayer(2_000)] });
    const p = pool(src, dst);
    const ctx = createCopyContext({ blobRetry: fastRetry });
    const s = parseReference(`${src.host}/listed/app:v1`);
    const ends = (repo: string) => [
      { client: p.client(s.registry, s.repository, 'source'), ref: s },
      { client: p.client(dst.host, repo, 'destination'), ref: parseRepositoryReference(`${dst.host}/${repo}`) },
    ] as const;
    await src.settle();
    let mark = src.mark();
    const [a, b] = ends('listed/right');
    const right = await copyImage(ctx, a, b, { listedDigest: img.digest });
    await src.settle();
    assert.equal(right.digest, img.digest);
    assert.equal(src.requestsSince(mark).filter((e) => e.method === 'HEAD' && e.path.includes('/manifests/')).length, 0, 'no source HEAD');
    // The tag moved since the listing: the listed digest is gone (404), the tag is asked.
    mark = src.mark();
    const [c, d] = ends('listed/stale');
    const stale = await copyImage(ctx, c, d, { listedDigest: `sha256:${'0'.repeat(64)}` });
    await src.settle();
    await p.close();
    assert.equal(stale.status, 'copied');
    assert.equal(stale.digest, img.digest, 'what the tag names now was copied');
    assert.equal(src.requestsSince(mark).filter((e) => e.method === 'HEAD' && e.path.endsWith('/manifests/v1')).length, 1, 'one HEAD of the tag after the 404');
    assert.equal((await getManifest(dst, 'listed/stale', 'v1'))?.digest, img.digest);
  });

  test('a layer shared by several repos is uploaded once and mounted into the others', async () => {
    const base = randomLayer(512 * 1024);
    const repos = ['shared/a', 'shared/b', 'shared/c', 'shared/d'];
    const pushed = await Promise.all(repos.map((r) => pushImage(src, r, 'v1', { format: 'docker', layers: [base, randomLayer(10_000)] })));
    const baseDigest = pushed[0]!.blobs[1]!.digest;
    const p = pool(src, dst);
    const ctx = createCopyContext({ blobRetry: fastRetry });
    await dst.settle();
    const mark = dst.mark();
    const results = await Promise.all(repos.map((r) => copy(p, ctx, `${src.host}/${r}:v1`, `${dst.host}/${r}`)));
    await p.close();
    await dst.settle();
    const log = dst.requestsSince(mark);
    const enc = encodeURIComponent(baseDigest);
    const basePuts = log.filter((e) => e.method === 'PUT' && e.path.includes(`digest=${enc}`));
    const baseMounts = log.filter((e) => e.method === 'POST' && e.path.includes(`mount=${enc}`) && e.status === 201);
    assert.equal(basePuts.length, 1, 'the shared layer was uploaded more than once');
    assert.equal(baseMounts.length, repos.length - 1);
    assert.equal(results.reduce((n, r) => n + r.counters.blobsMounted, 0), repos.length - 1);
    for (const [i, r] of repos.entries()) {
      assert.equal((await getManifest(dst, r, 'v1'))?.digest, pushed[i]!.digest);
      assert.ok(await blobExists(dst, r, baseDigest));
    }
    // With every blob known to this run, a second image in a known repo skips HEADs entirely.
    const again = await Promise.all(repos.map((r) => copy(pool(src, dst), ctx, `${src.host}/${r}:v1`, `${dst.host}/${r}`)));
    assert.ok(again.every((r) => r.status === 'skipped'));
  });

  test('a 64 MiB layer streams through and keeps its digest', async () => {
    const big = await streamLayerTo(src, 'big/one', 64 * 1024 * 1024);
    const img = await pushImage(src, 'big/one', 'v1', { format: 'oci', layers: [big] });
    const p = pool(src, dst);
    const r = await copy(p, createCopyContext({ blobRetry: fastRetry }), `${src.host}/big/one:v1`, `${dst.host}/big/one:v1`);
    await p.close();
    assert.equal(r.digest, img.digest);
    assert.equal(r.counters.bytesUploaded, img.blobs.reduce((n, b) => n + b.size, 0));
    assert.ok(await blobExists(dst, 'big/one', big.digest));
    assert.equal((await getManifest(dst, 'big/one', 'v1'))?.digest, img.digest);
  });
});

describe('faulty sources', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let corrupt: ProxyHandle;
  let redirect: ProxyHandle;
  let schema1: ProxyHandle;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'token' }), startRegistry({ auth: 'basic' })]);
    [corrupt, redirect, schema1] = await Promise.all([
      startProxy(src, { corruptBlobs: true }),
      startProxy(src, { redirectBlobs: true }),
      startProxy(src, { schema1For: 'old/app' }),
    ]);
  });
  after(stopAll);

  test('corrupted bytes are never committed and the copy fails with a digest error', async () => {
    const img = await pushImage(src, 'bad/app', 'v1', { format: 'docker', layers: [randomLayer(300_000)] });
    const auth = writeAuthFile([{ ...src, host: corrupt.host }, dst]);
    await dst.settle();
    const mark = dst.mark();
    const r = await runCli(['copy', `${corrupt.host}/bad/app:v1`, `${dst.host}/bad/app:v1`, '--auth', auth]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sha256:[0-9a-f]{64} failed digest verification/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'stack trace printed');
    for (const b of img.blobs) assert.equal(await blobExists(dst, 'bad/app', b.digest), false, `${b.digest} was committed`);
    assert.equal(await getManifest(dst, 'bad/app', 'v1'), undefined);
    await dst.settle();
    const committed = dst.requestsSince(mark).filter((e) => e.method === 'PUT' && e.status === 201);
    assert.deepEqual(committed, []);
    const cancelled = dst.requestsSince(mark).filter((e) => e.method === 'DELETE' && e.path.includes('/blobs/uploads/'));
    assert.ok(cancelled.length >= 1, 'the failed upload sessions were left open');
  });

  test('a blob GET redirected to another origin does not carry Authorization there', async () => {
    const img = await pushImage(src, 'redir/app', 'v1', { format: 'oci', layers: [randomLayer(200_000)] });
    const auth = writeAuthFile([{ ...src, host: redirect.host }, dst]);
    const r = await runCli(['copy', `${redirect.host}/redir/app:v1`, `${dst.host}/redir/app:v1`, '--auth', auth]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await getManifest(dst, 'redir/app', 'v1'))?.digest, img.digest);
    const blobGets = redirect.requests.filter((q) => q.method === 'GET' && q.path.includes('/blobs/'));
    assert.ok(blobGets.some((q) => /^Bearer /.test(String(q.headers.authorization))), 'registry requests were not authenticated');
    assert.ok(redirect.offOrigin.length >= img.blobs.length, 'blobs were not fetched from the other origin');
    for (const q of redirect.offOrigin) assert.equal(q.headers.authorization, undefined);
  });

  test('schema1 manifests are refused with a clear message', async () => {
    await pushImage(src, 'old/app', 'v1', { format: 'docker', layers: [randomLayer(1000)] });
    const auth = writeAuthFile([{ ...src, host: schema1.host }, dst]);
    const r = await runCli(['copy', `${schema1.host}/old/app:v1`, `${dst.host}/old/app:v1`, '--auth', auth]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /schema 1/i);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  test('wrong or missing credentials: authentication failed, with the hint', async () => {
    await pushImage(src, 'auth/app', 'v1', { format: 'docker', layers: [randomLayer(1000)] });
    const noCreds = writeAuthFile([{ host: src.host }, { host: dst.host }]);
    const r = await runCli(['copy', `${src.host}/auth/app:v1`, `${dst.host}/auth/app:v1`, '--auth', noCreds]);
    assert.equal(r.code, 1);
    // Both sides refuse; whichever answers first is reported, and nothing is retried after it.
    assert.match(r.stderr, /^swr-migrate: authentication failed for 127\.0\.0\.1:\d+.*--auth\).* \[SWRM_AUTH_FAILED\]$/m);
    assert.doesNotMatch(r.stderr, /retrying/);
    const wrong = writeAuthFile([src, { host: dst.host, username: dst.username, password: 'wrong' }]);
    const w = await runCli(['copy', `${src.host}/auth/app:v1`, `${dst.host}/auth/app:v1`, '--auth', wrong]);
    assert.equal(w.code, 1);
    assert.match(w.stderr, new RegExp(`authentication failed for ${dst.host.replace(/\./g, '\\.')}`));
  });
});

describe('bad input', () => {
  test('an unparseable reference exits 2 and names it', async () => {
    const r = await runCli(['copy', 'Not//valid:', 'localhost:5000/x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Not\/\/valid:/);
  });
  test('an unreachable host exits 1 with "cannot reach", after retries', async () => {
    const auth = writeAuthFile([{ host: '127.0.0.1:1' }, { host: '127.0.0.1:2' }]);
    const r = await runCli(['copy', '127.0.0.1:1/a/b:c', '127.0.0.1:2/x/y', '--auth', auth, '--log-level', 'warn']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /swr-migrate: cannot reach 127\.0\.0\.1:[12]: connection refused/);
    assert.match(r.stderr, /retrying/, 'no retry happened');
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
  test('usage errors exit 2', async () => {
    assert.equal((await runCli(['copy', 'alpine'])).code, 2);
    assert.equal((await runCli(['frobnicate'])).code, 2);
    assert.equal((await runCli(['copy', 'a', 'b', '--nope'])).code, 2);
    const missing = await runCli(['copy', 'alpine', 'localhost:5000/x', '--auth', '/nonexistent/auth.json']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read \/nonexistent\/auth\.json/);
  });
});
