// A cross-repository mount the registry declines (202: it opened an upload session instead, as
// Docker Hub does across origins) says nothing about the destination repository itself (issue 13,
// item 7): it may already hold the blob. The copy asks with a HEAD before sending it again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyImage } from '../../lib/copy/copy-image.js';
import { createCopyContext } from '../../lib/copy/context.js';
import { parseReference, parseRepositoryReference } from '../../lib/oci/reference.js';
import { ClientPool } from '../../lib/registry/pool.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { pushImage, randomLayer } from '../helpers/push.js';

let src: RegistryHandle;
let dst: RegistryHandle;
let proxy: ProxyHandle;

before(async () => {
  [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
  proxy = await startProxy(dst, { declineMounts: true });
});
after(async () => {
  await proxy.stop();
  await stopAll();
});

test('a declined mount is followed by a HEAD: a blob the destination repository holds is not uploaded again', async () => {
  const base = randomLayer(64 * 1024);
  const [a] = await Promise.all([
    pushImage(src, 'team/a', 'v1', { format: 'docker', layers: [base, randomLayer(2_000)] }),
    pushImage(src, 'team/b', 'v1', { format: 'docker', layers: [base, randomLayer(2_000)] }),
  ]);
  const baseDigest = a.blobs[1]!.digest;
  // team/b at the destination already has the shared layer (another tool pushed it).
  await pushImage(dst, 'team/b', 'pre', { format: 'docker', layers: [base] });

  const pool = new ClientPool({ resolve: () => ({ insecure: true }) });
  const ctx = createCopyContext();
  const copy = (repo: string) => {
    const s = parseReference(`${src.host}/${repo}:v1`);
    const d = parseRepositoryReference(`${proxy.host}/${repo}`);
    return copyImage(ctx, { client: pool.client(s.registry, s.repository, 'source'), ref: s }, { client: pool.client(d.registry, d.repository, 'destination'), ref: d });
  };
  try {
    await copy('team/a');
    const mark = proxy.requests.length;
    const b = await copy('team/b');
    const seen = proxy.requests.slice(mark);
    const enc = encodeURIComponent(baseDigest);
    assert.ok(seen.some((r) => r.method === 'POST' && r.path.includes(`mount=${enc}`)), 'the shared layer was not offered as a mount');
    const puts = seen.filter((r) => r.method === 'PUT' && r.path.includes(`digest=${enc}`));
    assert.equal(puts.length, 0, 'the shared layer was uploaded again although team/b held it');
    assert.ok(seen.some((r) => r.method === 'HEAD' && r.path === `/v2/team/b/blobs/${baseDigest}`), 'no HEAD after the declined mount');
    assert.equal(b.counters.blobsPresent, 1);
    assert.equal(b.counters.blobsUploaded, 2, 'the image\'s own layer and config are still uploaded');
  } finally {
    await pool.close();
  }
});
