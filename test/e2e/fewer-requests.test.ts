// Issue 15, items 1 and 2, counted from the destination registry's own access log:
// - a cold sync into an empty destination sends no HEAD that is answered 404, at most 2 requests
//   per uploaded blob (POST + PUT) and 1 per mounted blob, plus 1 tag list per repository;
// - a no-op sync sends one tag list per repository on each side and one source HEAD per tag,
//   nothing else (no destination HEAD: the state beside the DLQ remembers what was pushed);
// - a tag deleted behind the tool's back is caught on the next run by the tag list; one overwritten
//   behind its back is caught by --full-check and by the periodic full check (fullCheckEvery);
// - a run killed after its first blobs leaves a repository without tags that is not taken for fresh.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type AccessLogEntry, type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { deleteManifest, getManifest, pushImage, pushIndex, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { startProxy } from '../helpers/proxy.js';
import { tempDir, writeFile } from '../helpers/files.js';

const REPOS = 4;
const TAGS = 4;
/** HEADs that probe a source's pull budget before its first copy (one per source). */
const PROBES = 1;

describe('fewer requests: fresh destinations and a no-op in O(repositories)', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  const base = randomLayer(2048);

  const config = (name: string, extra = '') =>
    writeFile(
      dir,
      `${name}.yaml`,
      `version: 1
defaults: { concurrency: 4${extra} }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${src.host}/team/**
    destination: ${dst.host}/mirror
`,
    );

  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none', deleteEnabled: true })]);
    dir = tempDir();
    // Every repository: 3 single images sharing one base layer, and one 2-platform index.
    for (let r = 0; r < REPOS; r++) {
      for (let t = 0; t < TAGS - 1; t++) await pushImage(src, `team/app${r}`, `v${t}`, { format: 'oci', layers: [base, randomLayer(1024)] });
      await pushIndex(src, `team/app${r}`, 'multi', { format: 'oci', platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }] });
    }
  });
  after(stopAll);

  const since = async (reg: RegistryHandle, mark: number): Promise<AccessLogEntry[]> => {
    await reg.settle();
    return reg.requestsSince(mark).filter((e) => e.path !== '/v2/');
  };
  const count = (log: AccessLogEntry[], method: string, re: RegExp, status?: number) => log.filter((e) => e.method === method && re.test(e.path) && (status === undefined || e.status === status)).length;
  const sync = async (file: string, dlq: string, ...flags: string[]) => {
    const marks = [src.mark(), dst.mark()] as const;
    const r = await runCli(['sync', '--config', file, '--dlq', dlq, ...flags]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return { r, src: await since(src, marks[0]), dst: await since(dst, marks[1]) };
  };
  const images = REPOS * TAGS;

  test('cold: 0 HEADs answered 404, 2 requests per uploaded blob, 1 per mounted blob; no-op: tag lists and source HEADs only', async (t) => {
    const dlq = join(dir, 'a', 'dlq.jsonl');
    const file = config('a');
    const cold = await sync(file, dlq);
    const notFound = cold.dst.filter((e) => e.method === 'HEAD' && e.status === 404);
    assert.deepEqual(notFound, [], 'HEADs answered 404 at the destination');
    const posts = count(cold.dst, 'POST', /\/blobs\/uploads\/(\?(?!.*mount=).*)?$/);
    const puts = count(cold.dst, 'PUT', /\/blobs\/uploads\//);
    const mounts = count(cold.dst, 'POST', /\/blobs\/uploads\/\?.*mount=/);
    const lists = count(cold.dst, 'GET', /\/tags\/list/);
    const manifests = count(cold.dst, 'PUT', /\/manifests\//);
    t.diagnostic(`cold: ${cold.dst.length} destination requests for ${images} images: ${lists} tag lists, ${posts} upload POSTs, ${puts} PUTs, ${mounts} mounts, ${manifests} manifest PUTs, ${cold.dst.length - lists - posts - puts - mounts - manifests} other`);
    assert.equal(posts, puts, 'one POST and one PUT per uploaded blob');
    assert.equal(lists, REPOS, 'one tag list per destination repository');
    assert.equal(cold.dst.length, lists + posts + puts + mounts + manifests, 'nothing but tag lists, uploads, mounts and manifest PUTs');
    assert.ok(mounts >= REPOS - 1, 'the shared base layer is mounted into the other repositories');
    for (let r = 0; r < REPOS; r++) assert.ok(await getManifest(dst, `mirror/team/app${r}`, 'multi'), `mirror/team/app${r}:multi copied`);

    const noop = await sync(file, dlq);
    t.diagnostic(`no-op: ${noop.src.length} source + ${noop.dst.length} destination requests for ${images} images (${((noop.src.length + noop.dst.length) / images).toFixed(2)} per image)`);
    assert.equal(count(noop.dst, 'GET', /\/tags\/list/), REPOS, 'one destination tag list per repository');
    assert.equal(noop.dst.length, REPOS, 'nothing else at the destination');
    // One source HEAD per tag, and one more per source while its pull budget is probed (pull-gate.ts).
    assert.equal(count(noop.src, 'HEAD', /\/manifests\//), images + PROBES, 'one source HEAD per tag');
    assert.equal(count(noop.src, 'GET', /\/tags\/list/), REPOS, 'one source tag list per repository');
    assert.equal(noop.src.length, images + PROBES + REPOS + count(noop.src, 'GET', /_catalog/), 'and the catalog, nothing else');
  });

  test('a tag deleted behind the tool is restored by the next run; one overwritten is caught by --full-check and by fullCheckEvery', async () => {
    const dlq = join(dir, 'b', 'dlq.jsonl');
    const file = config('b');
    const other = config('b2', ', fullCheckEvery: 1s');
    await sync(file, dlq);
    // Deleted: the manifest goes, so the tag list no longer names the tag.
    const gone = await getManifest(dst, 'mirror/team/app1', 'v0');
    await deleteManifest(dst, 'mirror/team/app1', gone!.digest);
    const afterDelete = await sync(file, dlq);
    assert.match(afterDelete.r.stderr + afterDelete.r.stdout, /1 copied/);
    assert.equal((await getManifest(dst, 'mirror/team/app1', 'v0'))?.digest, gone!.digest, 'the deleted tag is back');

    // Overwritten: the tag names another image; within fullCheckEvery the record stands...
    const intruder = await pushImage(dst, 'mirror/team/app2', 'v1', { format: 'oci', layers: [randomLayer(512)] });
    const trusting = await sync(file, dlq);
    assert.match(trusting.r.stderr + trusting.r.stdout, /0 copied/);
    assert.equal((await getManifest(dst, 'mirror/team/app2', 'v1'))?.digest, intruder.digest, 'the record stood for the HEAD');
    // ...--full-check HEADs every tag and puts it right.
    const full = await sync(file, dlq, '--full-check');
    assert.match(full.r.stderr + full.r.stdout, /1 copied/);
    assert.equal(count(full.dst, 'HEAD', /\/manifests\/v\d|\/manifests\/multi/), images, '--full-check HEADs every destination tag');
    assert.notEqual((await getManifest(dst, 'mirror/team/app2', 'v1'))?.digest, intruder.digest, 'restored by --full-check');

    // The periodic check: records older than fullCheckEvery are checked by HEAD again.
    const again = await pushImage(dst, 'mirror/team/app3', 'v2', { format: 'oci', layers: [randomLayer(512)] });
    await new Promise((r) => setTimeout(r, 1100));
    const periodic = await sync(other, dlq);
    assert.match(periodic.r.stderr + periodic.r.stdout, /1 copied/);
    assert.notEqual((await getManifest(dst, 'mirror/team/app3', 'v2'))?.digest, again.digest, 'restored by the periodic full check');
  });

  test('a repository a failed run left with blobs and no tag is checked by HEAD, not taken for fresh', async () => {
    const dlq = join(dir, 'c', 'dlq.jsonl');
    // Manifest PUTs refused: the run uploads the blobs into the fresh repository, then fails, as a
    // run killed after its first blobs would leave it (blobs there, no tag: the tag list says 404).
    const proxy = await startProxy(dst, { always503: /^PUT .*\/manifests\// });
    const file = writeFile(
      dir,
      'c.yaml',
      `version: 1
defaults: { retries: 0 }
registries:
  "${src.host}": { insecure: true }
  "${proxy.host}": { insecure: true }
rules:
  - source: ${src.host}/team/app0:v0
    destination: ${proxy.host}/killed
`,
    );
    const marks = [dst.mark()];
    const first = await runCli(['sync', '--config', file, '--dlq', dlq]);
    assert.equal(first.code, 1, first.stdout + first.stderr);
    const firstLog = await since(dst, marks[0]!);
    assert.equal(count(firstLog, 'PUT', /\/blobs\/uploads\//), 3, 'config and layers uploaded into the fresh repository');
    assert.equal(firstLog.filter((e) => e.method === 'HEAD' && e.status === 404).length, 0);

    proxy.options.always503 = undefined;
    const mark = dst.mark();
    const second = await runCli(['sync', '--config', file, '--dlq', dlq]);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const log = await since(dst, mark);
    assert.equal(count(log, 'PUT', /\/blobs\/uploads\//), 0, 'no blob sent again');
    assert.equal(count(log, 'HEAD', /\/blobs\//, 200), 3, 'the blobs were found by HEAD');
    assert.ok(await getManifest(dst, 'killed/app0', 'v0'), 'the image is there');
  });
});
