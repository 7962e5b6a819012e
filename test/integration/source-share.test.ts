// The source-blob share inside the copy engine (copy/source-share.ts, blob-copy.ts): a spooled blob
// that turns out unreadable or corrupted is no failed copy, the transfer GETs the source instead;
// an intact one spares the source its second GET.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { copyImage } from '../../lib/copy/copy-image.js';
import { createCopyContext } from '../../lib/copy/context.js';
import { SourceBlobShare } from '../../lib/copy/source-share.js';
import { parseReference, parseRepositoryReference } from '../../lib/oci/reference.js';
import { ClientPool } from '../../lib/registry/pool.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getBlob, getManifest, pushImage, type PushedManifest, randomLayer } from '../helpers/push.js';

describe('source-blob share in the copy engine', () => {
  let src: RegistryHandle;
  let a: RegistryHandle;
  let b: RegistryHandle;
  let image: PushedManifest;
  before(async () => {
    [src, a, b] = await Promise.all([startRegistry(), startRegistry(), startRegistry()]);
    image = await pushImage(src, 'lib/app', 'v1', { format: 'oci', layers: [randomLayer(20_000), randomLayer(30_000)] });
  });
  after(stopAll);

  const pool = () => new ClientPool({ resolve: () => ({ insecure: true }), retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } });
  const copy = (p: ClientPool, ctx: ReturnType<typeof createCopyContext>, to: RegistryHandle, repo: string) => {
    const s = parseReference(`${src.host}/lib/app:v1`);
    const d = parseRepositoryReference(`${to.host}/${repo}`);
    return copyImage(ctx, { client: p.client(s.registry, s.repository, 'source'), ref: s }, { client: p.client(d.registry, d.repository, 'destination'), ref: d }, { fanOut: 2 });
  };
  const blobGets = (mark: number) => src.requestsSince(mark).filter((e) => e.method === 'GET' && e.path.includes('/blobs/')).length;

  for (const broken of [false, true]) {
    test(broken ? 'corrupted disk spools: the second destination GETs the source and gets the right bytes' : 'intact disk spools: the second destination GETs nothing', async () => {
      const p = pool();
      const ctx = createCopyContext();
      ctx.sourceBlobs = new SourceBlobShare({ memoryBlobBytes: 0 });
      const before = new Set(readdirSync(tmpdir()));
      const repo = broken ? 'broken/app' : 'intact/app';
      await src.settle();
      const mark = src.mark();
      assert.equal((await copy(p, ctx, a, repo)).status, 'copied');
      const [dir] = readdirSync(tmpdir()).filter((n) => n.startsWith('swrm-spool-') && !before.has(n));
      assert.ok(dir, 'blobs were spooled on disk');
      if (broken) for (const f of readdirSync(join(tmpdir(), dir))) writeFileSync(join(tmpdir(), dir, f), randomBytes(100));
      assert.equal((await copy(p, ctx, b, repo)).status, 'copied');
      ctx.sourceBlobs.close();
      await p.close();
      await src.settle();
      assert.equal(blobGets(mark), broken ? 2 * image.blobs.length : image.blobs.length);
      assert.equal((await getManifest(b, repo, 'v1'))?.digest, image.digest);
      for (const blob of image.blobs) assert.equal((await getBlob(b, repo, blob.digest))?.length, blob.size);
    });
  }
});
