// verify --deep and sync --deep (issue 13, item 6). The default check is one HEAD of the top
// manifest, which a registry that lost a child manifest or a blob still answers: verify said "match"
// and sync "already present", and only --force repaired it. --deep walks what the top manifest names
// at the destination; sync --deep copies only what is missing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { blobExists, deleteManifest, pushImage, pushIndex, randomLayer } from '../helpers/push.js';
import { registryRequest } from '../helpers/client.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

describe('--deep', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  const dir = tempDir();
  let config: string;
  let childDigest: string;
  let layerDigest: string;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    const index = await pushIndex(src, 'team/multi', 'v1', { format: 'oci', platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }] });
    childDigest = index.children![1]!.digest;
    const single = await pushImage(src, 'team/single', 'v1', { format: 'docker', layers: [randomLayer(3_000)] });
    layerDigest = single.blobs[1]!.digest;
    config = writeFile(
      dir,
      'deep.yaml',
      `version: 1
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${src.host}/team/multi:v1
    destination: ${dst.host}/mirror
  - source: ${src.host}/team/single:v1
    destination: ${dst.host}/mirror
`,
    );
  });
  after(stopAll);

  test('a lost child manifest and a lost blob: verify --deep finds them, sync --deep repairs only them', async () => {
    const dlq = join(dir, 'dlq.jsonl');
    const first = await runCli(['sync', '--config', config, '--dlq', dlq]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    // The registry loses the arm64 child and a layer of the single image (a GC, a manual delete).
    await deleteManifest(dst, 'mirror/multi', childDigest);
    const del = await registryRequest(dst, 'DELETE', `/v2/mirror/single/blobs/${layerDigest}`, { repo: 'mirror/single' });
    assert.equal(del.statusCode, 202);
    await del.body.dump();
    assert.equal(await blobExists(dst, 'mirror/single', layerDigest), false);

    const shallow = await runCli(['verify', '--config', config, '--dlq', dlq]);
    assert.equal(shallow.code, 0, 'the cheap check only asks for the top manifests');
    const deep = await runCli(['verify', '--config', config, '--dlq', dlq, '--deep']);
    assert.equal(deep.code, 1, deep.stdout + deep.stderr);
    assert.match(deep.stdout, /incomplete +\S+mirror\/multi:v1 +child manifest sha256:[0-9a-f]{64} \(linux\/arm64\) missing/);
    assert.match(deep.stdout, new RegExp(`incomplete +\\S+mirror/single:v1 +blob ${layerDigest} missing`));
    assert.match(deep.stdout, /verify: 2 image\(s\): 0 match, 0 missing, 0 different, 2 incomplete/);

    const plain = await runCli(['sync', '--config', config, '--dlq', dlq]);
    assert.match(plain.stdout, /2 image\(s\): 0 copied, 2 already present/, 'without --deep nothing is repaired (the cheap check)');
    const mark = dst.mark();
    const repair = await runCli(['sync', '--config', config, '--dlq', dlq, '--deep']);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr);
    assert.match(repair.stdout, /2 image\(s\): 2 copied/);
    await dst.settle();
    const writes = dst.requestsSince(mark).filter((e) => e.method === 'PUT');
    // The lost child, the lost layer, then each top manifest again: nothing else is sent.
    const manifestPuts = writes.filter((e) => e.path.includes('/manifests/'));
    const blobPuts = writes.filter((e) => e.path.includes('/blobs/uploads/'));
    assert.equal(blobPuts.length, 1, `blob uploads: ${blobPuts.map((e) => e.path).join(', ')}`);
    assert.ok(blobPuts[0]!.path.includes(encodeURIComponent(layerDigest)));
    assert.deepEqual(manifestPuts.map((e) => e.path.replace(/.*\/manifests\//, '')).sort(), [childDigest, 'v1', 'v1'].sort());
    const after = await runCli(['verify', '--config', config, '--dlq', dlq, '--deep']);
    assert.equal(after.code, 0, after.stdout);
    assert.match(after.stdout, /verify: 2 image\(s\): 2 match/);
  });
});
