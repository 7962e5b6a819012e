// Harbor 1.10 as a source through the CLI (issue 16, item 4): `type: harbor` with apiEndpoint at a
// stand-in of 1.10's v1 API (404 at /api/version) over a real registry. `HOST/**` lists 105 projects
// over two pages of 100 and copies every tag into a local registry; a multi-platform tag arrives
// whole (1.10's tag detail names only its linux/amd64 image: a lister trusting that digest would copy
// one platform); the re-run copies nothing and reads no manifest or blob at the source.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getManifest, pushImage, pushIndex, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { fromRegistry, startHarborV1Api } from '../helpers/harbor-v1-api.js';
import type { JsonApi } from '../helpers/json-api.js';

describe('Harbor 1.10 source: list across pages, copy, no-op', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let api: JsonApi;
  let config: string;
  let dir: string;
  const digests: Record<string, string> = {};

  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    digests['proj/app:v1'] = (await pushImage(src, 'proj/app', 'v1', { format: 'docker', layers: [randomLayer(300)] })).digest;
    digests['proj/app:v2'] = (await pushImage(src, 'proj/app', 'v2', { format: 'docker', layers: [randomLayer(300)] })).digest;
    digests['proj/multi:latest'] = (await pushIndex(src, 'proj/multi', 'latest', { format: 'docker', platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }] })).digest;
    digests['zz/tools/cli:1.0'] = (await pushImage(src, 'zz/tools/cli', '1.0', { format: 'oci', layers: [randomLayer(300)] })).digest;
    // 103 projects without repositories before the two that have some: the listing needs page 2.
    const projects = [...Array.from({ length: 103 }, (_, i) => `empty${String(i).padStart(3, '0')}`), 'proj', 'zz'];
    api = await startHarborV1Api({ source: fromRegistry(src), projects, username: 'admin', password: 'Harbor12345' });
    dir = tempDir();
    config = writeFile(dir, 'harbor1.yaml', `version: 1
defaults: { concurrency: 4 }
registries:
  "${src.host}": { insecure: true, username: admin, password: Harbor12345, type: harbor, apiEndpoint: "${api.url}" }
  "${dst.host}": { insecure: true }
rules:
  - { source: "${src.host}/**", destination: "${dst.host}/mirror" }
`);
  });
  after(stopAll);

  const run = () => runCli(['sync', '--config', config, '--dlq', join(dir, 'dlq.jsonl')]);

  test('the first run lists 105 projects over 2 pages and copies every tag as it is', async () => {
    const r = await run();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /4 copied/);
    assert.equal(api.requests.filter((q) => q.path === '/api/version').length, 1);
    assert.deepEqual(api.requests.filter((q) => q.path.startsWith('/api/projects')).map((q) => q.path), ['/api/projects?page=1&page_size=100', '/api/projects?page=2&page_size=100']);
    assert.equal(api.requests.filter((q) => q.path.startsWith('/api/repositories?')).length, 105, 'one page of repositories per project');
    for (const [ref, digest] of Object.entries(digests)) {
      const [repo, tag] = ref.split(':') as [string, string];
      assert.equal((await getManifest(dst, `mirror/${repo}`, tag))?.digest, digest, `${ref} arrives with its own digest`);
    }
  });

  test('the re-run copies nothing and reads no manifest or blob at the source', async () => {
    await src.settle();
    const mark = src.mark();
    const r = await run();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /0 copied/);
    await src.settle();
    const seen = src.requestsSince(mark);
    const reads = seen.filter((e) => e.method === 'GET' && (/\/manifests\//.test(e.path) || /\/blobs\//.test(e.path)));
    assert.deepEqual(reads, [], 'no manifest or blob GET at the source');
    // 1.10 gives no digests to trust: one HEAD per tag (and the pull-budget probe) is what a no-op costs.
    const heads = seen.filter((e) => e.method === 'HEAD');
    assert.ok(heads.length <= Object.keys(digests).length + 1, heads.map((e) => e.path).join(', '));
  });
});
