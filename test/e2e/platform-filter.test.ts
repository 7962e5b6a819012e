// Issue 13 items 2-4, through the CLI against real registries: `--os/--arch` mean what they say,
// with image-syncer's rules. A single-platform image whose config names another platform, and an
// index with no wanted entry, are `filtered` (not copied, not failed, exit 0), on the first sync
// and on re-runs, and a no-op re-run GETs nothing at the source (the digest memo remembers the
// verdict). An index whose entries name no platform (an artifact index) is copied whole. `verify`
// reports filtered images as filtered, and --output-success-images leaves them out.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { MT, type PushedManifest, getManifest, pushBlob, pushImage, pushIndex, pushManifest, randomLayer, sha256 } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

interface Report {
  summary: { copied: number; skipped: number; filtered: number; failed: number };
  images: { source: string; destination: string; status: string; digest?: string; conversion?: string }[];
}

/** An OCI 1.1 artifact (a signature-like manifest: empty config, one layer) and an index of two, with no platform. */
async function pushArtifactIndex(reg: RegistryHandle, repo: string, tag: string): Promise<PushedManifest> {
  const empty = await pushBlob(reg, repo, Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
  const entries = [];
  for (const kind of ['sig', 'sbom']) {
    const layer = await pushBlob(reg, repo, Buffer.from(JSON.stringify({ kind, at: Date.now() })), 'application/vnd.example.payload+json');
    const bytes = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MT.ociManifest, artifactType: `application/vnd.example.${kind}`,
      config: { mediaType: empty.mediaType, digest: empty.digest, size: empty.size },
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    }));
    const digest = await pushManifest(reg, repo, sha256(bytes), bytes, MT.ociManifest);
    entries.push({ mediaType: MT.ociManifest, digest, size: bytes.length, artifactType: `application/vnd.example.${kind}` });
  }
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: entries }));
  return { digest: await pushManifest(reg, repo, tag, bytes, MT.ociIndex), mediaType: MT.ociIndex, bytes, blobs: [] };
}

describe('--os/--arch filter single-platform images and indexes as image-syncer does', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  let auth: string;
  let images: string;
  const p: Record<string, PushedManifest> = {};

  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    dir = tempDir();
    p.amd = await pushImage(src, 'single/amd', '1', { format: 'docker', layers: [randomLayer(20_000)] });
    p.arm = await pushImage(src, 'single/arm', '1', { format: 'oci', layers: [randomLayer(20_000)], platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    p.multi = await pushIndex(src, 'multi/app', '1', {
      format: 'oci',
      platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
      attestation: true,
    });
    p.amdList = await pushIndex(src, 'multi/amd-only', '1', { format: 'docker', platforms: [{ os: 'linux', architecture: 'amd64' }] });
    p.artifacts = await pushArtifactIndex(src, 'artifact/idx', '1');
    auth = writeFile(dir, 'auth.json', { [src.host]: { insecure: true }, [dst.host]: { insecure: true } });
    images = writeFile(
      dir,
      'images.yaml',
      ['single/amd', 'single/arm', 'multi/app', 'multi/amd-only', 'artifact/idx'].map((r) => `"${src.host}/${r}:1": "${dst.host}/${r}"`).join('\n') + '\n',
    );
  });
  after(stopAll);

  const sync = async (name: string, arch: string, more: string[] = []) => {
    const report = join(dir, `${name}.json`);
    const r = await runCli(['sync', '--auth', auth, '--images', images, '--arch', arch, '--dlq', join(dir, 'state', 'dlq.jsonl'), '--report', report, ...more]);
    return { r, report: JSON.parse(readFileSync(report, 'utf8')) as Report };
  };
  const statusOf = (rep: Report, repo: string) => rep.images.find((i) => i.source.includes(`/${repo}:`))?.status;
  const sourceGets = async (mark: number) => {
    await src.settle();
    return src.requestsSince(mark).filter((e) => e.method === 'GET');
  };

  test('first sync: amd64-only images are filtered (exit 0, nothing pushed), the rest copied', async () => {
    const success = join(dir, 'success.yaml');
    const mark = src.mark();
    const { r, report } = await sync('first', 'arm64', ['--output-success-images', success]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /sync: 5 image\(s\): 3 copied, 0 already present, 2 filtered, 0 failed/);
    assert.deepEqual(report.summary, { ...report.summary, copied: 3, filtered: 2, failed: 0 });
    assert.equal(statusOf(report, 'single/amd'), 'filtered');
    assert.equal(statusOf(report, 'multi/amd-only'), 'filtered');
    assert.equal(statusOf(report, 'single/arm'), 'copied');
    assert.equal(statusOf(report, 'multi/app'), 'copied');
    assert.equal(statusOf(report, 'artifact/idx'), 'copied');
    assert.match(r.stderr, /filtered: \S+single\/amd:1 -> \S+single\/amd:1 not copied: the image is linux\/amd64, not one of the platforms linux\/arm64/);
    assert.match(r.stderr, /filtered: \S+multi\/amd-only:1 -> .* none of the platforms linux\/arm64 is in this image \(it has linux\/amd64\)/);
    assert.equal(await getManifest(dst, 'single/amd', '1'), undefined, 'a filtered image is not pushed');
    // Judged by its config: one manifest GET and one (small) blob GET, never a layer.
    const amdGets = (await sourceGets(mark)).filter((e) => e.path.startsWith('/v2/single/amd/'));
    assert.deepEqual(amdGets.map((e) => e.path.split('/')[4]).sort(), ['blobs', 'manifests']);
    assert.ok(amdGets.some((e) => e.path.endsWith(p.amd!.blobs[0]!.digest)), 'the blob read is the config');
    assert.equal(await getManifest(dst, 'multi/amd-only', '1'), undefined);
    assert.equal((await getManifest(dst, 'single/arm', '1'))?.digest, p.arm!.digest);
    const multi = await getManifest(dst, 'multi/app', '1');
    const kept = (JSON.parse(multi!.bytes.toString()) as { manifests: { platform: { architecture: string } }[] }).manifests.map((m) => m.platform.architecture);
    assert.deepEqual(kept, ['arm64', 'unknown'], 'arm64 and its attestation');
    assert.equal((await getManifest(dst, 'artifact/idx', '1'))?.digest, p.artifacts!.digest, 'an index with no platforms is copied whole');
    // Nothing to replay: a filtered image is no failure.
    assert.ok(!existsSync(join(dir, 'state', 'dlq.jsonl')) || readFileSync(join(dir, 'state', 'dlq.jsonl'), 'utf8').trim() === '');
    // Only what reached its destination, as image-syncer lists only what it pushed.
    assert.deepEqual(Object.keys(parseYaml(readFileSync(success, 'utf8')) as object).sort(), [
      `${src.host}/artifact/idx:1`, `${src.host}/multi/app:1`, `${src.host}/single/arm:1`,
    ]);
  });

  test('a re-run filters again without a single GET at the source (the memo remembers the verdict)', async () => {
    const mark = src.mark();
    const { r, report } = await sync('second', 'arm64');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /5 image\(s\): 0 copied, 3 already present, 2 filtered, 0 failed/);
    assert.equal(statusOf(report, 'single/amd'), 'filtered');
    assert.match(report.images.find((i) => i.source.includes('/single/amd:'))?.conversion ?? '', /the image is linux\/amd64/);
    assert.deepEqual(await sourceGets(mark), [], 'no manifest or config GET on a no-op re-run');
  });

  test('--arch s390x: every image is filtered (exit 0), images already at the destination included', async () => {
    const { r, report } = await sync('s390x', 's390x');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /SWRM_UNSUPPORTED/);
    // The artifact index names no platform: copied whole (here: already present).
    assert.match(r.stdout, /5 image\(s\): 0 copied, 1 already present, 4 filtered, 0 failed/);
    for (const repo of ['single/amd', 'single/arm', 'multi/app', 'multi/amd-only']) assert.equal(statusOf(report, repo), 'filtered', repo);
    const mark = src.mark();
    const again = await sync('s390x-again', 's390x');
    assert.match(again.r.stdout, /4 filtered/);
    assert.deepEqual(await sourceGets(mark), [], 'remembered per filter: no GET the second time');
  });

  test('an image copied before by the old filter (its memo said "kept") is filtered now, not "already present"', async () => {
    // What swr-migrate before issue 13 left behind: the amd64 image pushed under --arch arm64, and a
    // memo line saying the filter keeps it unchanged.
    const legacyDir = join(dir, 'legacy');
    const legacyImages = writeFile(dir, 'legacy.yaml', `"${src.host}/single/amd:1": "${dst.host}/legacy/amd"\n`);
    const plain = await runCli(['sync', '--auth', auth, '--images', legacyImages, '--dlq', join(legacyDir, 'dlq.jsonl')]);
    assert.equal(plain.code, 0, plain.stderr);
    mkdirSync(legacyDir, { recursive: true });
    writeFile(legacyDir, 'digests.jsonl', `${JSON.stringify({ source: p.amd!.digest, transform: 'platforms=linux/arm64', digest: p.amd!.digest })}\n`);
    const r = await runCli(['sync', '--auth', auth, '--images', legacyImages, '--arch', 'arm64', '--dlq', join(legacyDir, 'dlq.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 image\(s\): 0 copied, 0 already present, 1 filtered, 0 failed/);
  });

  test('verify reports filtered images as filtered, not missing, and exits 0', async () => {
    const v = await runCli(['verify', '--auth', auth, '--images', images, '--arch', 'arm64', '--dlq', join(dir, 'state', 'dlq.jsonl')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /verify: 5 image\(s\): 3 match, 0 missing, 0 different, 2 filtered/);
    assert.match(v.stdout, /filtered\s+\S+single\/amd:1 {2}the image is linux\/amd64/);
  });

  test('without the memo, verify works it out (one GET each) and says the same', async () => {
    const v = await runCli(['verify', '--auth', auth, '--images', images, '--arch', 'arm64', '--dlq', join(dir, 'fresh', 'dlq.jsonl')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /3 match, 0 missing, 0 different, 2 filtered/);
  });
});
