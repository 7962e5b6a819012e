// The Docker-format transform against real registries: OCI index and children stored as Docker types
// with the source's config and layer digests, attestations dropped and reported, Docker sources
// pushed byte-exact, zstd refused with nothing pushed, and a re-run skipped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyImage, type CopyOptions } from '../../lib/copy/copy-image.js';
import { createCopyContext } from '../../lib/copy/context.js';
import { parseReference, parseRepositoryReference } from '../../lib/oci/reference.js';
import { ClientPool } from '../../lib/registry/pool.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { runCli, writeAuthFile } from '../helpers/run-cli.js';
import { MT, getManifest, listTags, pushBlob, pushIndex, pushImage, pushManifest, randomLayer, sha256 } from '../helpers/push.js';

const fastRetry = { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 };

describe('copy --format docker', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let p: ClientPool;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    p = new ClientPool({ resolve: () => ({ insecure: true }), retry: fastRetry });
  });
  after(async () => {
    await p.close();
    await stopAll();
  });
  const copy = (s: string, d: string, opts: CopyOptions = { format: 'docker' }) => {
    const sr = parseReference(s);
    const dr = parseRepositoryReference(d);
    return copyImage(
      createCopyContext({ blobRetry: fastRetry }),
      { client: p.client(sr.registry, sr.repository, 'source'), ref: sr },
      { client: p.client(dr.registry, dr.repository, 'destination'), ref: dr },
      opts,
    );
  };

  test('an OCI index becomes a Docker list of Docker manifests; digests of blobs kept; attestations dropped', async () => {
    const pushed = await pushIndex(src, 'conv/app', 'v1', {
      format: 'oci', platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }], attestation: true,
    });
    const r = await copy(`${src.host}/conv/app:v1`, `${dst.host}/conv/app`);
    assert.equal(r.status, 'copied');
    assert.equal(r.sourceDigest, pushed.digest);
    assert.match(r.conversion ?? '', /format=docker; dropped 2 unknown\/unknown/);
    const list = await getManifest(dst, 'conv/app', 'v1');
    assert.equal(list?.mediaType, MT.dockerList);
    assert.equal(list?.digest, r.digest);
    const entries = JSON.parse(list!.bytes.toString()).manifests as { digest: string; mediaType: string; platform: { architecture: string } }[];
    assert.deepEqual(entries.map((e) => e.platform.architecture), ['amd64', 'arm64']);
    const srcChildren = pushed.children!.filter((c) => c.platform?.os !== 'unknown');
    for (const [i, e] of entries.entries()) {
      assert.equal(e.mediaType, MT.dockerManifest);
      const child = await getManifest(dst, 'conv/app', e.digest);
      assert.equal(child?.mediaType, MT.dockerManifest);
      const cj = JSON.parse(child!.bytes.toString());
      const sj = JSON.parse(srcChildren[i]!.bytes.toString());
      assert.equal(cj.config.mediaType, 'application/vnd.docker.container.image.v1+json');
      assert.equal(cj.config.digest, sj.config.digest);
      assert.deepEqual(cj.layers.map((l: { digest: string }) => l.digest), sj.layers.map((l: { digest: string }) => l.digest));
      assert.ok(cj.layers.every((l: { mediaType: string }) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
    }
    const again = await copy(`${src.host}/conv/app:v1`, `${dst.host}/conv/app`);
    assert.equal(again.status, 'skipped', 'a re-run recognises the converted image');
    assert.equal(again.digest, r.digest, 'deterministic: same converted digest');
  });

  test('a Docker-typed source is pushed byte-exact', async () => {
    const pushed = await pushImage(src, 'conv/docker', 'v1', { format: 'docker', layers: [randomLayer(1000)] });
    const r = await copy(`${src.host}/conv/docker:v1`, `${dst.host}/conv/docker`);
    assert.equal(r.digest, pushed.digest);
    assert.equal(r.conversion, undefined);
    assert.equal((await getManifest(dst, 'conv/docker', 'v1'))?.digest, pushed.digest);
  });

  test('a zstd layer is refused naming the image, and nothing is pushed', async () => {
    const layer = await pushBlob(src, 'conv/zstd', randomLayer(500));
    const cfg = await pushBlob(src, 'conv/zstd', Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'));
    const bytes = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: cfg.digest, size: cfg.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: layer.digest, size: layer.size }],
    }));
    await pushManifest(src, 'conv/zstd', 'v1', bytes, MT.ociManifest);
    await assert.rejects(copy(`${src.host}/conv/zstd:v1`, `${dst.host}/conv/zstd`), (e: Error & { code?: string }) =>
      e.code === 'SWRM_UNCONVERTIBLE' && e.message.includes('conv/zstd:v1') && /zstd layer/.test(e.message));
    assert.deepEqual(await listTags(dst, 'conv/zstd').catch(() => []), []);
    assert.ok(sha256(bytes));
  });

  test('a nested index (an index whose child is an index) is refused as unconvertible, nothing pushed', async () => {
    const inner = await pushIndex(src, 'conv/nested', undefined, { format: 'oci', platforms: [{ os: 'linux', architecture: 'amd64' }] });
    const bytes = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MT.ociIndex,
      manifests: [{ mediaType: MT.ociIndex, digest: inner.digest, size: inner.bytes.length }],
    }));
    await pushManifest(src, 'conv/nested', 'v1', bytes, MT.ociIndex);
    await assert.rejects(copy(`${src.host}/conv/nested:v1`, `${dst.host}/conv/nested`), (e: Error & { code?: string }) =>
      e.code === 'SWRM_UNCONVERTIBLE' && e.message.includes('conv/nested:v1') && /nested indexes have no Docker form/.test(e.message));
    assert.deepEqual(await listTags(dst, 'conv/nested').catch(() => []), []);
  });

  test('the CLI: copy --format docker stores a Docker manifest; a bad --format is a usage error', async () => {
    const pushed = await pushImage(src, 'conv/cli', 'v1', { format: 'oci', layers: [randomLayer(800)] });
    const auth = writeAuthFile([src, dst]);
    const r = await runCli(['copy', `${src.host}/conv/cli:v1`, `${dst.host}/conv/cli`, '--auth', auth, '--format', 'docker']);
    assert.equal(r.code, 0, r.stderr);
    const stored = await getManifest(dst, 'conv/cli', 'v1');
    assert.equal(stored?.mediaType, MT.dockerManifest);
    assert.notEqual(stored?.digest, pushed.digest);
    const bad = await runCli(['copy', `${src.host}/conv/cli:v1`, `${dst.host}/conv/cli2`, '--auth', auth, '--format', 'oci']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format must be docker .*or keep/);
  });
});
