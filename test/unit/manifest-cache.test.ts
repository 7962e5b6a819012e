// The run's source manifest cache (copy/manifest-cache.ts): copies of one image to several
// destinations start at once, and their GETs of one digest must be one GET.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManifestCache } from '../../lib/copy/manifest-cache.js';
import type { ManifestData } from '../../lib/registry/types.js';

const manifest = (digest: string): ManifestData => ({ digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes: Buffer.from(`{"d":"${digest}"}`) }) as ManifestData;

test('concurrent fetches of one digest make one GET; later ones are served from the cache', async () => {
  const cache = new ManifestCache();
  let gets = 0;
  const get = async () => {
    gets++;
    await new Promise((r) => setTimeout(r, 20));
    return manifest('sha256:a');
  };
  const all = await Promise.all([cache.fetch('sha256:a', get), cache.fetch('sha256:a', get), cache.fetch('sha256:a', get)]);
  assert.equal(gets, 1);
  assert.ok(all.every((m) => m.digest === 'sha256:a'));
  await cache.fetch('sha256:a', get);
  assert.equal(gets, 1);
});

test('a joined GET that fails is no verdict on the joiner: it makes its own', async () => {
  const cache = new ManifestCache();
  const failing = async (): Promise<ManifestData> => {
    await new Promise((r) => setTimeout(r, 20));
    throw new Error('aborted by its own image');
  };
  const first = cache.fetch('sha256:b', failing);
  const second = cache.fetch('sha256:b', async () => manifest('sha256:b'));
  await assert.rejects(first, /aborted/);
  assert.equal((await second).digest, 'sha256:b');
});
