// Issue 6, item 2: a digest-pinned source with a platform filter reaches a steady state. The first
// sync pushes the filtered index; the second copies nothing and GETs no source manifest (Docker Hub
// counts GETs as pulls), because the digest memo next to the DLQ says what was pushed; `verify`
// agrees; a lost, corrupt or stale memo only costs one GET, after which the memo is whole again.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type PushedManifest, getManifest, pushIndex } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

interface Report {
  summary: { copied: number; skipped: number; failed: number };
  images: { destination: string; status: string; digest: string; sourceDigest?: string; conversion?: string }[];
}

describe('platform filter on a digest-pinned source', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  let index: PushedManifest;
  let config: string;
  let dlq: string;
  let memo: string;

  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    dir = tempDir();
    index = await pushIndex(src, 'team/app', 'v1', {
      format: 'oci',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      attestation: true,
    });
    // Both forms of a pin: with a tag (pushed under the tag) and bare (pushed by digest); and a plain
    // tag, which HEADs the source but must not GET it either.
    config = writeFile(
      dir,
      'sync.yaml',
      `version: 1
defaults: { concurrency: 2, platforms: [linux/amd64] }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${src.host}/team/app:v1@${index.digest}
    destination: ${dst.host}/tagged
  - source: ${src.host}/team/app@${index.digest}
    destination: ${dst.host}/bydigest
  - source: ${src.host}/team/app:v1
    destination: ${dst.host}/bytag
`,
    );
    dlq = join(dir, 'state', 'dlq.jsonl');
    memo = join(dir, 'state', 'digests.jsonl');
  });
  after(stopAll);

  const sourceManifestGets = async (mark: number) => {
    await src.settle();
    return src.requestsSince(mark).filter((e) => e.method === 'GET' && e.path.includes('/manifests/'));
  };
  const sync = async (name: string) => {
    const report = join(dir, `${name}.json`);
    const r = await runCli(['sync', '--config', config, '--dlq', dlq, '--report', report]);
    assert.equal(r.code, 0, r.stderr);
    return { r, report: JSON.parse(readFileSync(report, 'utf8')) as Report };
  };

  test('first sync pushes the filtered index; the second copies nothing and GETs no source manifest; verify passes', async () => {
    const first = await sync('first');
    assert.equal(first.report.summary.copied, 3);
    const filtered = first.report.images[0]!.digest;
    assert.notEqual(filtered, index.digest, 'the filter is a conversion');
    for (const i of first.report.images) {
      assert.equal(i.digest, filtered);
      assert.equal(i.sourceDigest, index.digest);
    }
    assert.equal((await getManifest(dst, 'tagged/app', 'v1'))?.digest, filtered);
    assert.equal((await getManifest(dst, 'bydigest/app', filtered))?.digest, filtered);
    assert.ok(existsSync(memo), 'the memo sits next to the DLQ');

    const mark = src.mark();
    const second = await sync('second');
    assert.deepEqual(second.report.summary, { ...second.report.summary, copied: 0, skipped: 3, failed: 0 });
    assert.deepEqual(await sourceManifestGets(mark), [], 'no source manifest GET on a no-op re-sync');
    for (const i of second.report.images) {
      assert.equal(i.digest, filtered, `${i.destination}: the skipped re-run reports the pushed digest`);
      assert.equal(i.sourceDigest, index.digest);
      assert.match(i.conversion ?? '', /kept: linux\/amd64; dropped: linux\/arm64/);
    }
    assert.ok(second.report.images.some((i) => i.destination === `${dst.host}/bydigest/app@${filtered}`));

    const vmark = src.mark();
    const v = await runCli(['verify', '--config', config, '--dlq', dlq]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /verify: 3 image\(s\): 3 match, 0 missing, 0 different/);
    assert.deepEqual(await sourceManifestGets(vmark), [], 'verify reads the memo too');
  });

  test('a missing, corrupt or wrong memo falls back to one GET, still copies nothing, and is rebuilt', async () => {
    const wrong = JSON.stringify({ source: index.digest, transform: 'platforms.v2=linux/amd64', digest: `sha256:${'e'.repeat(64)}` });
    for (const damage of ['missing', 'corrupt', 'wrong'] as const) {
      if (damage === 'missing') rmSync(memo);
      else if (damage === 'corrupt') writeFileSync(memo, '{"source": "sha256:nope", "transform"\nnot json at all\n');
      else {
        // verify never reports a difference on a memo entry's word alone: it recomputes first.
        writeFileSync(memo, `${wrong}\n`);
        const v = await runCli(['verify', '--config', config, '--dlq', dlq]);
        assert.equal(v.code, 0, v.stdout + v.stderr);
        writeFileSync(memo, `${wrong}\n`);
      }
      const mark = src.mark();
      const again = await sync(`after-${damage}`);
      assert.equal(again.report.summary.copied, 0, `${damage}: nothing copied`);
      assert.equal(again.report.summary.skipped, 3);
      assert.ok((await sourceManifestGets(mark)).length > 0, `${damage}: recomputed by GET`);
      const quiet = src.mark();
      await sync(`rebuilt-${damage}`);
      assert.deepEqual(await sourceManifestGets(quiet), [], `${damage}: the memo is whole again`);
    }
  });
});
