// `swr-migrate copy` end to end against real distribution registries of all three auth kinds.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type AuthKind, type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type PushedManifest, blobExists, getManifest, pushImage, pushIndex, randomLayer } from '../helpers/push.js';
import { runCli, writeAuthFile } from '../helpers/run-cli.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH']);

/** Every manifest (children included) and blob of `m` is at the destination with the same digest. */
async function assertCopied(dst: RegistryHandle, repo: string, ref: string, m: PushedManifest): Promise<void> {
  const got = await getManifest(dst, repo, ref);
  assert.ok(got, `${repo}:${ref} missing at the destination`);
  assert.equal(got.digest, m.digest);
  assert.ok(got.bytes.equals(m.bytes), 'manifest bytes differ');
  for (const b of m.blobs) assert.ok(await blobExists(dst, repo, b.digest), `blob ${b.digest} missing in ${repo}`);
  for (const c of m.children ?? []) await assertCopied(dst, repo, c.digest, c);
}

for (const kind of ['none', 'basic', 'token'] as AuthKind[]) {
  describe(`copy with ${kind} auth`, () => {
    let src: RegistryHandle;
    let dst: RegistryHandle;
    let auth: string;
    const images: Record<string, PushedManifest> = {};

    before(async () => {
      [src, dst] = await Promise.all([startRegistry({ auth: kind }), startRegistry({ auth: kind })]);
      auth = writeAuthFile([src, dst], kind === 'basic' ? 'yaml' : 'json');
      const base = randomLayer(256 * 1024);
      images.docker = await pushImage(src, 'app/docker', 'v1', { format: 'docker', layers: [base, randomLayer(100_000)] });
      images.oci = await pushImage(src, 'app/oci', 'v1', { format: 'oci', layers: [base, randomLayer(50_000)] });
      const platforms = [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ];
      images.list = await pushIndex(src, 'app/list', 'multi', { format: 'docker', platforms, layers: [base] });
      images.index = await pushIndex(src, 'app/index', 'multi', { format: 'oci', platforms, layers: [base], attestation: true });
    });
    after(stopAll);

    const cases: [string, string, string][] = [
      ['Docker v2 image', 'app/docker', 'v1'],
      ['OCI image', 'app/oci', 'v1'],
      ['Docker manifest list', 'app/list', 'multi'],
      ['OCI index with an attestation', 'app/index', 'multi'],
    ];
    const keys = ['docker', 'oci', 'list', 'index'];
    cases.forEach(([name, repo, tag], i) => {
      test(`${name}: digests identical, and a second copy uploads nothing`, async () => {
        const m = images[keys[i]!]!;
        const r = await runCli(['copy', `${src.host}/${repo}:${tag}`, `${dst.host}/mirror/${repo}`, '--auth', auth]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^copied /);
        await assertCopied(dst, `mirror/${repo}`, tag, m);

        await dst.settle();
        const mark = dst.mark();
        const again = await runCli(['copy', `${src.host}/${repo}:${tag}`, `${dst.host}/mirror/${repo}:${tag}`, '--auth', auth]);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /^up to date/);
        await dst.settle();
        const writes = dst.requestsSince(mark).filter((e) => WRITES.has(e.method));
        assert.deepEqual(writes, [], 'the no-op copy wrote to the destination');
      });
    });

    test('copy by digest to a new tag', async () => {
      const m = images.oci!;
      const r = await runCli(['copy', `${src.host}/app/oci@${m.digest}`, `${dst.host}/pinned/oci:stable`, '--auth', auth]);
      assert.equal(r.code, 0, r.stderr);
      await assertCopied(dst, 'pinned/oci', 'stable', m);
    });
  });
}
