// Issue 8, item 5-6, through the CLI: a sync of OCI images and indexes into the SWR Basic stand-in
// (a distribution registry behind test/helpers/swr-registry-proxy.ts, which refuses OCI manifests
// with SWR's exact 400) stores only Docker media types with the source's config and layer digests,
// keeps every platform, drops and reports the attestations; a re-run uploads nothing and GETs no
// source manifest; Docker sources keep their digests; `--format docker` gives the same to a plain
// registry; unconvertible images are refused with nothing pushed; verify understands conversions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { MT, type PushedManifest, blobExists, deleteManifest, getManifest, pushBlob, pushImage, pushIndex, pushManifest, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { startSwrRegistryProxy, type SwrRegistryProxyHandle } from '../helpers/swr-registry-proxy.js';
import { type SwrApiHandle, type SwrState, startSwrApi, swrState } from '../helpers/swr-api-server.js';

interface Report {
  summary: { copied: number; skipped: number; failed: number };
  images: { source: string; destination: string; status: string; digest: string; sourceDigest?: string; conversion?: string }[];
}
type Json = { mediaType: string; config: { mediaType: string; digest: string }; layers: { mediaType: string; digest: string }[] };

describe('sync into SWR Basic converts OCI to Docker media types', () => {
  let src: RegistryHandle;
  let back: RegistryHandle;
  let plain: RegistryHandle;
  let swr: SwrRegistryProxyHandle;
  let dir: string;
  let index: PushedManifest;
  let single: PushedManifest;
  let legacy: PushedManifest;
  let config: string;
  let dlq: string;
  let state: SwrState;
  let api: SwrApiHandle;

  before(async () => {
    [src, back, plain] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none', deleteEnabled: true }), startRegistry({ auth: 'none' })]);
    // The organization does not exist yet: the sync creates it through the management API stand-in.
    state = swrState();
    api = await startSwrApi({ ak: 'AKCONV', sk: 'SKCONV', projectId: 'p1', state });
    swr = await startSwrRegistryProxy(back, { state });
    dir = tempDir();
    const platforms = [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'arm', variant: 'v7' }];
    index = await pushIndex(src, 'apps/web', 'v1', { format: 'oci', platforms, attestation: true });
    single = await pushImage(src, 'apps/api', 'v1', { format: 'oci', layers: [randomLayer(3000), randomLayer(2000)] });
    legacy = await pushImage(src, 'apps/legacy', 'v1', { format: 'docker', layers: [randomLayer(1500)] });
    config = writeFile(dir, 'sync.yaml', `version: 1
defaults: { concurrency: 4 }
registries:
  "${src.host}": { insecure: true }
  "${swr.host}": { type: swr, insecure: true, accessKey: AKCONV, secretKey: SKCONV, project: cn-north-4, projectId: p1, managementEndpoint: "${api.url}" }
rules:
  - { source: "${src.host}/apps/web", tags: [v1], destination: "${swr.host}/team", mapping: path }
  - { source: "${src.host}/apps/api:v1", destination: "${swr.host}/team", template: "{namespace}-{name}" }
  - { source: "${src.host}/apps/legacy:v1", destination: "${swr.host}/team", mapping: path }
`);
    dlq = join(dir, 'state', 'dlq.jsonl');
  });
  after(stopAll);

  const sync = async (name: string, cfg = config, extra: string[] = []) => {
    const report = join(dir, `${name}.json`);
    const r = await runCli(['sync', '--config', cfg, '--dlq', dlq, '--report', report, ...extra]);
    return { ...r, report: JSON.parse(readFileSync(report, 'utf8')) as Report };
  };
  const manifestJson = async (reg: RegistryHandle, repo: string, ref: string) => {
    const m = await getManifest(reg, repo, ref);
    assert.ok(m, `${repo}:${ref} exists`);
    return { ...m, json: JSON.parse(m.bytes.toString()) as Json & { manifests?: { digest: string; mediaType: string; platform: { architecture: string; os: string; variant?: string } }[] } };
  };

  test('first sync: creates the organization; Docker types only, blob digests equal, every platform, attestations dropped and reported', async () => {
    const r = await sync('first');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(state.orgs.get('team')?.mine, true, 'the missing organization was created');
    assert.equal(api.requests.filter((q) => q.method === 'POST').length, 1, 'one create for the one organization');
    assert.equal(swr.refused.oci, 0, 'no OCI manifest reached SWR');
    assert.deepEqual(r.report.summary, { ...r.report.summary, copied: 3, failed: 0 });

    const list = await manifestJson(back, 'team/apps/web', 'v1');
    assert.equal(list.mediaType, MT.dockerList);
    const entries = list.json.manifests!;
    assert.deepEqual(entries.map((e) => `${e.platform.os}/${e.platform.architecture}${e.platform.variant ? `/${e.platform.variant}` : ''}`), ['linux/amd64', 'linux/arm64', 'linux/arm/v7']);
    const srcChildren = index.children!.filter((c) => c.platform?.os !== 'unknown');
    for (const [i, e] of entries.entries()) {
      const child = await manifestJson(back, 'team/apps/web', e.digest);
      const orig = JSON.parse(srcChildren[i]!.bytes.toString()) as Json;
      assert.equal(child.mediaType, MT.dockerManifest);
      assert.equal(child.json.config.mediaType, 'application/vnd.docker.container.image.v1+json');
      assert.equal(child.json.config.digest, orig.config.digest);
      assert.deepEqual(child.json.layers.map((l) => l.digest), orig.layers.map((l) => l.digest));
      assert.ok(child.json.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
    }
    const web = r.report.images.find((i) => i.destination.endsWith('team/apps/web:v1'))!;
    assert.equal(web.sourceDigest, index.digest, 'the report records the source digest');
    assert.equal(web.digest, list.digest, 'and the converted one');
    assert.match(web.conversion ?? '', /format=docker; dropped 3 unknown\/unknown attestation/);

    const apiImage = await manifestJson(back, 'team/apps-api', 'v1');
    assert.equal(apiImage.mediaType, MT.dockerManifest, 'the template mapped apps/api to team/apps-api');
    assert.deepEqual(apiImage.json.layers.map((l) => l.digest), single.blobs.slice(1).map((b) => b.digest));

    const old = await getManifest(back, 'team/apps/legacy', 'v1');
    assert.equal(old?.digest, legacy.digest, 'a Docker-typed source keeps its digest (pushed byte-exact)');
    const legacyLine = r.report.images.find((i) => i.destination.includes('legacy'))!;
    assert.equal(legacyLine.conversion, undefined);
  });

  test('re-run: nothing uploaded, no source manifest GET, every image skipped', async () => {
    const s = src.mark();
    const d = back.mark();
    const r = await sync('again');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.report.summary.skipped, 3);
    await Promise.all([src.settle(), back.settle()]);
    const srcGets = src.requestsSince(s).filter((e) => e.method === 'GET' && e.path.includes('/manifests/'));
    assert.deepEqual(srcGets, [], 'the digest memo answers: no source manifest GET (Docker Hub counts GETs)');
    const writes = back.requestsSince(d).filter((e) => e.method !== 'GET' && e.method !== 'HEAD');
    assert.deepEqual(writes, [], 'no upload and no manifest PUT');
    // Requests per image, for the closing note.
    const perImage = (src.requestsSince(s).length + back.requestsSince(d).length) / 3;
    assert.ok(perImage <= 3, `requests per image on a converted re-run: ${perImage}`);
  });

  test('verify passes after the converted sync and fails once a converted tag is deleted', async () => {
    const ok = await runCli(['verify', '--config', config, '--dlq', dlq]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    // Without the memo verify recomputes the conversion from the source bytes (deterministic).
    const fresh = await runCli(['verify', '--config', config, '--dlq', join(dir, 'nomemo', 'dlq.jsonl')]);
    assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr);
    const api = await getManifest(back, 'team/apps-api', 'v1');
    await deleteManifest(back, 'team/apps-api', api!.digest);
    const bad = await runCli(['verify', '--config', config, '--dlq', dlq]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout + bad.stderr, /apps-api:v1/);
  });

  test('--format docker to a plain registry gives the same bytes as SWR got', async () => {
    const cfg = writeFile(dir, 'plain.yaml', `version: 1
registries:
  "${src.host}": { insecure: true }
  "${plain.host}": { insecure: true }
rules:
  - { source: "${src.host}/apps/web", tags: [v1], destination: "${plain.host}/team", mapping: path }
`);
    const r = await sync('plain', cfg, ['--format', 'docker']);
    assert.equal(r.code, 0, r.stderr);
    const there = await getManifest(plain, 'team/apps/web', 'v1');
    const onSwr = await getManifest(back, 'team/apps/web', 'v1');
    assert.equal(there?.mediaType, MT.dockerList);
    assert.equal(there?.digest, onSwr?.digest, 'deterministic conversion: the same digest on both');
  });

  test('zstd, artifact and referrer images are each refused with their own message; nothing of them is pushed', async () => {
    const cfgBlob = await pushBlob(src, 'bad/zstd', Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'), MT.ociConfig);
    const layer = await pushBlob(src, 'bad/zstd', randomLayer(700));
    const oci = (extra: object, layers: object[]) => Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: cfgBlob.digest, size: cfgBlob.size }, layers, ...extra,
    }));
    await pushManifest(src, 'bad/zstd', 'v1', oci({}, [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: layer.digest, size: layer.size }]), MT.ociManifest);
    // distribution accepts a manifest only when its blobs are in that repository: push them there too.
    const layerBytes = randomLayer(900);
    const gz = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: '', size: 0 };
    for (const repo of ['bad/artifact', 'bad/referrer']) {
      await pushBlob(src, repo, Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'), MT.ociConfig);
      Object.assign(gz, await pushBlob(src, repo, layerBytes), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
    }
    const gz2 = { mediaType: gz.mediaType, digest: gz.digest, size: gz.size };
    await pushManifest(src, 'bad/artifact', 'v1', oci({ artifactType: 'application/vnd.example.sbom' }, [gz2]), MT.ociManifest);
    await pushManifest(src, 'bad/referrer', 'v1', oci({ subject: { mediaType: MT.ociManifest, digest: single.digest, size: single.bytes.length } }, [gz2]), MT.ociManifest);
    const cfg = writeFile(dir, 'bad.yaml', `version: 1
registries:
  "${src.host}": { insecure: true }
  "${swr.host}": { type: swr, insecure: true }
rules:
  - { source: "${src.host}/bad/zstd:v1", destination: "${swr.host}/team", mapping: path }
  - { source: "${src.host}/bad/artifact:v1", destination: "${swr.host}/team", mapping: path }
  - { source: "${src.host}/bad/referrer:v1", destination: "${swr.host}/team", mapping: path }
`);
    const mark = back.mark();
    const r = await sync('bad', cfg, ['--dlq', join(dir, 'bad', 'dlq.jsonl')]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.report.summary.failed, 3);
    const reasons = readFileSync(join(dir, 'bad', 'dlq.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { body: string; reason: { code: string; message: string } });
    const by = (repo: string) => reasons.find((x) => x.body.includes(repo))!.reason;
    assert.equal(by('bad/zstd').code, 'SWRM_UNCONVERTIBLE');
    assert.match(by('bad/zstd').message, /bad\/zstd:v1: .*zstd layer/);
    assert.match(by('bad/artifact').message, /bad\/artifact:v1: .*artifact \(artifactType application\/vnd\.example\.sbom\)/);
    assert.match(by('bad/referrer').message, /bad\/referrer:v1: .*subject \(an OCI 1\.1 referrer\)/);
    await back.settle();
    const writes = back.requestsSince(mark).filter((e) => e.method !== 'GET' && e.method !== 'HEAD');
    assert.deepEqual(writes, [], 'nothing of a refused image is pushed (not even its blobs)');
    assert.equal(await blobExists(back, 'team/bad/zstd', layer.digest), false);
  });
});
