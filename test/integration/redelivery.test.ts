// A delivery again after a failure (issue 13, items 4 and 8): what the first one fetched and pushed
// is not asked for again. The index and its children come from the run's manifest cache (no source
// GET: fewer requests to fail on a flaky registry, fewer GETs against a pull budget) and children it
// pushed need no HEAD. And a delivery that committed something counts as progress.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyImage } from '../../lib/copy/copy-image.js';
import { createCopyContext, emptyCounters } from '../../lib/copy/context.js';
import { madeProgress } from '../../lib/pipeline/attempts.js';
import { parseReference, parseRepositoryReference } from '../../lib/oci/reference.js';
import { ClientPool } from '../../lib/registry/pool.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { getManifest, pushIndex } from '../helpers/push.js';

let src: RegistryHandle;
let dst: RegistryHandle;
let srcProxy: ProxyHandle;
let dstProxy: ProxyHandle;

before(async () => {
  [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
  [srcProxy, dstProxy] = await Promise.all([startProxy(src), startProxy(dst)]);
});
after(async () => {
  await srcProxy.stop();
  await dstProxy.stop();
  await stopAll();
});

test('the second delivery of an index GETs nothing from the source and HEADs no child it pushed', async () => {
  await pushIndex(src, 'multi/app', 'v1', { format: 'oci', platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }] });
  // The index itself cannot be pushed the first time: its children and blobs can.
  dstProxy.options.always503 = /^PUT \/v2\/multi\/app\/manifests\/v1$/;
  const pool = new ClientPool({ resolve: () => ({ insecure: true }), retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
  const ctx = createCopyContext();
  const s = parseReference(`${srcProxy.host}/multi/app:v1`);
  const d = parseRepositoryReference(`${dstProxy.host}/multi/app`);
  const copy = (counters = emptyCounters()) =>
    copyImage(ctx, { client: pool.client(s.registry, s.repository, 'source'), ref: s }, { client: pool.client(d.registry, d.repository, 'destination'), ref: d }, { counters });
  try {
    const first = emptyCounters();
    await assert.rejects(copy(first));
    assert.equal(madeProgress(first), true, 'blobs and child manifests were committed: that is progress');
    assert.equal(first.manifestsPut, 2);

    dstProxy.options.always503 = undefined;
    const [srcMark, dstMark] = [srcProxy.requests.length, dstProxy.requests.length];
    const result = await copy();
    assert.equal(result.status, 'copied');
    const srcGets = srcProxy.requests.slice(srcMark).filter((r) => r.method === 'GET' && r.path.includes('/manifests/'));
    assert.deepEqual(srcGets.map((r) => r.path), [], 'the source manifests were fetched again');
    const childHeads = dstProxy.requests.slice(dstMark).filter((r) => r.method === 'HEAD' && /\/manifests\/sha256:/.test(r.path));
    assert.deepEqual(childHeads.map((r) => r.path), [], 'children this run pushed were asked for again');
    assert.ok(await getManifest(dst, 'multi/app', 'v1'));
  } finally {
    await pool.close();
  }
});
