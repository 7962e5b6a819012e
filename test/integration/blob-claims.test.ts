// Blob claims in the copy engine (issue 15, item 5), against real registries: two copy contexts
// (two workers: separate ledgers) sharing one state store. A claim is a hint, never the truth: a
// done claim naming a repository that lacks the blob gets a declined mount, and the blob is then
// uploaded (and the claim names the new holder); an upload that fails releases its claim, so the
// next worker claims the blob at once instead of waiting out the lease.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobClaims, claimKey } from '../../lib/copy/blob-claims.js';
import { copyImage } from '../../lib/copy/copy-image.js';
import { type CopyContext, createCopyContext } from '../../lib/copy/context.js';
import { parseReference, parseRepositoryReference } from '../../lib/oci/reference.js';
import { ClientPool } from '../../lib/registry/pool.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { blobExists, getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';

const fastRetry = { attempts: 1, baseDelayMs: 10, maxDelayMs: 50 };

function pool(): ClientPool {
  return new ClientPool({ resolve: () => ({ insecure: true }), retry: fastRetry });
}

function worker(store: MemoryStateStore): { ctx: CopyContext; claims: BlobClaims } {
  const claims = new BlobClaims(store, { pollMs: 10, maxWaitMs: () => 5000 });
  return { ctx: { ...createCopyContext({ blobRetry: fastRetry }), claims }, claims };
}

async function copy(p: ClientPool, ctx: CopyContext, src: string, dst: string) {
  const s = parseReference(src);
  const d = parseRepositoryReference(dst);
  return copyImage(ctx, { client: p.client(s.registry, s.repository, 'source'), ref: s }, { client: p.client(d.registry, d.repository, 'destination'), ref: d });
}

describe('blob claims in the copy engine', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  const layer = randomLayer(300 * 1024);
  let digest: string;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    const pushed = await pushImage(src, 'apps/a', 'v1', { format: 'oci', layers: [layer] });
    await pushImage(src, 'apps/b', 'v1', { format: 'oci', layers: [layer] });
    digest = pushed.blobs[1]!.digest;
  });
  after(stopAll);

  test('a done claim naming a repository without the blob: the mount is declined, the blob uploaded, the claim moves', async () => {
    const store = new MemoryStateStore();
    await store.put(claimKey(dst.host, digest), { state: 'done', repository: 'nowhere/gone' });
    const { ctx, claims } = worker(store);
    const p = pool();
    await dst.settle();
    const mark = dst.mark();
    const r = await copy(p, ctx, `${src.host}/apps/a:v1`, `${dst.host}/t1/a`);
    await p.close();
    await dst.settle();
    const log = dst.requestsSince(mark);
    const enc = encodeURIComponent(digest);
    assert.equal(r.status, 'copied');
    assert.deepEqual(log.filter((e) => e.path.includes(`mount=${enc}`)).map((e) => e.status), [202], 'the mount the claim suggested');
    assert.equal(log.filter((e) => e.method === 'PUT' && e.path.includes(`digest=${enc}`)).length, 1, 'then uploaded');
    assert.ok(log.some((e) => e.method === 'DELETE' && e.path.includes('/blobs/uploads/')), "the declined mount's session is cancelled");
    assert.ok(await blobExists(dst, 't1/a', digest));
    assert.equal(r.counters.blobsUploaded, 2, 'the layer and the config');
    assert.equal(claims.stats.won, 1, 'taken over');
    assert.deepEqual((await store.get(claimKey(dst.host, digest)))?.data, { state: 'done', repository: 't1/a' });
    // The next worker mounts from where the blob really is.
    const next = worker(store);
    const r2 = await copy(pool(), next.ctx, `${src.host}/apps/b:v1`, `${dst.host}/t1/b`);
    assert.equal(r2.counters.blobsMounted, 1);
    assert.equal(next.claims.stats.mounted, 1);
    assert.ok(await getManifest(dst, 't1/b', 'v1'));
  });

  test('an upload that fails releases its claim: the next worker claims the blob at once', async () => {
    const store = new MemoryStateStore();
    // The first worker's source fails the layer's GET (503, and this pool does not retry).
    const proxy: ProxyHandle = await startProxy(src, { always503: new RegExp(`^GET /v2/apps/a/blobs/${digest}`) });
    const first = worker(store);
    const p1 = new ClientPool({ resolve: () => ({ insecure: true }), retry: fastRetry });
    const s = parseReference(`${proxy.host}/apps/a:v1`);
    const d = parseRepositoryReference(`${dst.host}/t2/a`);
    await assert.rejects(copyImage(first.ctx, { client: p1.client(s.registry, s.repository, 'source'), ref: s }, { client: p1.client(d.registry, d.repository, 'destination'), ref: d }));
    await p1.close();
    await proxy.stop();
    assert.equal(first.claims.stats.won, 1);
    assert.equal(await store.get(claimKey(dst.host, digest)), undefined, 'released');
    const second = worker(store);
    const t0 = Date.now();
    const r = await copy(pool(), second.ctx, `${src.host}/apps/b:v1`, `${dst.host}/t2/b`);
    assert.equal(r.status, 'copied');
    assert.deepEqual(second.claims.stats, { won: 1, waited: 0, mounted: 0, fellBack: 0 });
    assert.ok(Date.now() - t0 < 5000);
  });
});
