// Issue 13, item 2 through the CLI: `plan` over a registry that pages strictly (exactly n entries, no
// Link, `last=` honoured, as the OCI spec allows). Before, `latest: 3` chose among the first 1,000 of
// 1,205 tags (t0997..t0999), and `HOST/**` saw 1,000 of 1,006 repositories, both without a word.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stopAllTracked } from '../helpers/cleanup.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { runCli } from '../helpers/run-cli.js';
import { type StrictPagingHandle, numberedNames, startStrictPaging } from '../helpers/strict-paging.js';

describe('plan over a registry that pages with last= and no Link', () => {
  let src: RegistryHandle;
  let pager: StrictPagingHandle;
  let dir: string;
  const SYNTHETIC = numberedNames('synthetic/r', 1005);
  before(async () => {
    src = await startRegistry({ auth: 'none' });
    // Only the newest three are real images: plan lists and filters, it does not read manifests.
    for (const tag of ['t1202', 't1203', 't1204']) await pushImage(src, 'big/app', tag, { format: 'oci', layers: [randomLayer(500)] });
    pager = await startStrictPaging(src, {
      mode: 'strict',
      extraTags: (repo) => (repo === 'big/app' ? numberedNames('t', 1205) : ['v1']),
      extraRepositories: SYNTHETIC,
    });
    dir = tempDir();
  });
  after(async () => {
    await stopAllTracked();
    await stopAll();
  });

  const config = (name: string, rule: string) =>
    writeFile(dir, `${name}.yaml`, `version: 1
defaults: { concurrency: 4, retries: 0 }
registries:
  "${pager.host}": { insecure: true }
  "dst.example": { insecure: true }
rules:
${rule}`);

  test('latest: 3 over 1,205 tags names t1202, t1203, t1204', async () => {
    const file = config('latest', `  - source: ${pager.host}/big/app\n    destination: dst.example/mirror/app\n    tags: { latest: 3 }\n`);
    const r = await runCli(['plan', '--config', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const sources = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { source: string }).source).sort();
    assert.deepEqual(sources, ['t1202', 't1203', 't1204'].map((t) => `${pager.host}/big/app:${t}`));
    assert.equal(pager.listings.filter((l) => l.path.includes('/tags/list')).length, 2, 'two pages of n=1000');
  });

  test('HOST/** lists all 1,006 repositories', async () => {
    const file = config('all', `  - source: ${pager.host}/**\n    destination: dst.example/all\n`);
    const r = await runCli(['plan', '--config', file, '--json', '--explain']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1005 + 1205, 'one task per synthetic repository, one per tag of big/app');
    const repos = new Set(lines.map((l) => (JSON.parse(l) as { source: string }).source.replace(/:[^:/]+$/, '')));
    assert.equal(repos.size, 1006);
    assert.ok(repos.has(`${pager.host}/synthetic/r1004`) && repos.has(`${pager.host}/big/app`));
    assert.match(r.stderr, /repositories: 1006 listed, 1006 kept/);
  });
});
