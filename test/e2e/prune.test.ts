// Issue 16, items 6 and 8 through the CLI against real registries: a rule's `prune` deletes at the
// destination exactly the tags this tool pushed from that source which the source no longer has;
// a tag someone else pushed, a protected tag and a tag whose digest another tag shares survive; more
// than prune.max leaves everything and says why (exit 0); an empty listing deletes nothing; SWR
// deletes through its management API; sync --queue-url prunes too. `overwrite: false` keeps a
// destination tag that holds another image (0 writes, reported kept, exit 0), on sync and on SQS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { MT, deleteManifest, getManifest, listTags, pushImage, pushManifest, randomLayer } from '../helpers/push.js';
import { type CliResult, runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';
import { type DynamoServerHandle, startDynamoServer } from '../helpers/dynamo-server.js';
import { startSwrRegistryProxy, type SwrRegistryProxyHandle } from '../helpers/swr-registry-proxy.js';
import { type SwrApiHandle, startSwrApi, swrState } from '../helpers/swr-api-server.js';

interface ReportEntry { source: string; destination: string; status: string; kind?: string; conversion?: string }

describe('prune and overwrite: false through the CLI', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  const digests = new Map<string, string>();

  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    dir = tempDir('swrm-prune-');
  });
  after(() => stopAll());

  /** One small distinct image per tag at the source. */
  const seed = async (reg: RegistryHandle, repo: string, tags: string[]) => {
    for (const t of tags) digests.set(`${repo}:${t}`, (await pushImage(reg, repo, t, { format: 'docker', layers: [randomLayer(64)] })).digest);
  };
  const dropAtSource = async (repo: string, tags: string[]) => {
    for (const t of tags) await deleteManifest(src, repo, digests.get(`${repo}:${t}`)!);
  };
  const config = (name: string, rule: string, target: RegistryHandle = dst, extra = '') =>
    writeFile(dir, name, `version: 1
defaults: { concurrency: 2, retries: 0 }
registries:
  "${src.host}": { insecure: true }
  "${target.host}": { insecure: true }
${extra}rules:
${rule}`);
  const sync = async (cfg: string, state: string, expectCode = 0, env: Record<string, string> = {}, more: string[] = []): Promise<{ r: CliResult; report: ReportEntry[]; summary: Record<string, unknown> }> => {
    const report = join(dir, `${state}-${Math.random().toString(36).slice(2)}.json`);
    const where = more.includes('--queue-url') ? [] : ['--dlq', join(dir, state, 'dlq.jsonl')];
    const r = await runCli(['sync', '--config', cfg, ...where, '--report', report, ...more], env);
    assert.equal(r.code, expectCode, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const parsed = JSON.parse(readFileSync(report, 'utf8')) as { images: ReportEntry[]; summary: Record<string, unknown> };
    return { r, report: parsed.images, summary: parsed.summary };
  };
  const pruned = (entries: ReportEntry[]) => entries.filter((e) => e.kind === 'prune' && e.status === 'pruned').map((e) => e.destination.split(':').pop()).sort();

  test('deletes exactly the tags gone at the source; a foreign, a protected and a digest-sharing tag survive', async () => {
    await seed(src, 'app/p1', ['a', 'b', 'c', 'd', 'v-keep']);
    const cfg = config('p1.yaml', `  - source: ${src.host}/app/p1
    destination: ${dst.host}/mirror
    prune: { max: 5, protect: ["v-*"] }
`);
    await sync(cfg, 'p1');
    assert.deepEqual((await listTags(dst, 'mirror/p1')).sort(), ['a', 'b', 'c', 'd', 'v-keep']);
    // Someone else's tag, and someone else's second name for c's image.
    await pushImage(dst, 'mirror/p1', 'foreign', { format: 'docker', layers: [randomLayer(64)] });
    const c = await getManifest(dst, 'mirror/p1', 'c');
    await pushManifest(dst, 'mirror/p1', 'alias', c!.bytes, c!.mediaType);
    await dropAtSource('app/p1', ['a', 'b', 'c', 'v-keep']);

    const { r, report, summary } = await sync(cfg, 'p1');
    assert.deepEqual((await listTags(dst, 'mirror/p1')).sort(), ['alias', 'c', 'd', 'foreign', 'v-keep']);
    assert.deepEqual(pruned(report), ['a', 'b']);
    const keptC = report.find((e) => e.kind === 'prune' && e.destination.endsWith(':c'));
    assert.equal(keptC?.status, 'kept');
    assert.match(keptC?.conversion ?? '', /shares its digest with tag alias/);
    assert.match(r.stdout, /2 pruned \(1 kept by prune\)/);
    assert.deepEqual(summary.prune, { pruned: 2, kept: 1, held: 0 });
    assert.match(r.stderr, /^pruned: .*mirror\/p1:a \(gone at the source\)$/m);
  });

  test('above prune.max nothing is deleted and the run says why (exit 0); prune: true warns about its default max', async () => {
    const tags = Array.from({ length: 13 }, (_, i) => `t${i}`);
    await seed(src, 'app/p2', tags);
    const cfg = config('p2.yaml', `  - source: ${src.host}/app/p2
    destination: ${dst.host}/mirror
    prune: true
`);
    await sync(cfg, 'p2');
    await dropAtSource('app/p2', tags.slice(1));
    const { r, report } = await sync(cfg, 'p2');
    assert.equal((await listTags(dst, 'mirror/p2')).length, 13);
    assert.match(r.stderr, /prune deletes at most 10 tags per run; set prune\.max/);
    assert.match(r.stderr, /warning: .*prune held: 12 tag\(s\) .* more than prune\.max 10; nothing deleted/);
    assert.match(r.stdout, /0 pruned, 1 rule\(s\) not pruned: above prune\.max/);
    assert.equal(report.filter((e) => e.kind === 'prune' && e.status === 'held').length, 1);
    // plan shows the same decision without deleting anything.
    const plan = await runCli(['plan', '--config', cfg, '--dlq', join(dir, 'p2', 'dlq.jsonl'), '--json']);
    const lines = plan.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind?: string; action?: string });
    assert.equal(lines.filter((l) => l.kind === 'prune' && l.action === 'held').length, 12, plan.stdout + plan.stderr);
  });

  test('an empty source listing deletes nothing', async () => {
    await seed(src, 'app/p3', ['x', 'y']);
    const cfg = config('p3.yaml', `  - source: ${src.host}/app/p3
    destination: ${dst.host}/mirror
    prune: { max: 5 }
`);
    await sync(cfg, 'p3');
    await dropAtSource('app/p3', ['x', 'y']);
    const r = await runCli(['sync', '--config', cfg, '--dlq', join(dir, 'p3', 'dlq.jsonl')]);
    assert.deepEqual((await listTags(dst, 'mirror/p3')).sort(), ['x', 'y'], r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /[1-9] pruned/);
    assert.match(r.stderr, /prune skipped: the source .*app\/p3 listed no tags/);
  });

  test('plan lists what prune would delete, and a protect glob matching nothing is warned about', async () => {
    await seed(src, 'app/p4', ['m', 'n']);
    const cfg = config('p4.yaml', `  - source: ${src.host}/app/p4
    destination: ${dst.host}/mirror
    prune: { max: 5, protect: ["nothing-*"] }
`);
    await sync(cfg, 'p4');
    await dropAtSource('app/p4', ['m']);
    const plan = await runCli(['plan', '--config', cfg, '--dlq', join(dir, 'p4', 'dlq.jsonl')]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /^prune .*mirror\/p4:m {2}would be deleted: gone at the source$/m);
    assert.match(plan.stdout, /1 tag\(s\) to prune/);
    assert.match(plan.stderr, /warning: .*prune\.protect "nothing-\*" matches no tag/);
    assert.deepEqual((await listTags(dst, 'mirror/p4')).sort(), ['m', 'n']);
  });

  test('a registry that refuses DELETE is reported, not a failure', async () => {
    const locked = await startRegistry({ auth: 'none', deleteEnabled: false });
    await seed(src, 'app/p5', ['k', 'l']);
    const cfg = config('p5.yaml', `  - source: ${src.host}/app/p5
    destination: ${locked.host}/mirror
    prune: { max: 5 }
`, locked);
    await sync(cfg, 'p5');
    await dropAtSource('app/p5', ['k']);
    const { r, report } = await sync(cfg, 'p5');
    assert.deepEqual((await listTags(locked, 'mirror/p5')).sort(), ['k', 'l']);
    const k = report.find((e) => e.kind === 'prune');
    assert.equal(k?.status, 'kept');
    assert.match(k?.conversion ?? '', /refuses DELETE \(405/);
    assert.match(r.stderr, /warning: prune: .* refuses DELETE/);
  });

  test('overwrite: false keeps a destination tag holding another image: 0 writes, reported kept, exit 0', async () => {
    await seed(src, 'app/p6', ['same', 'new']);
    const theirs = await pushImage(dst, 'mirror/p6', 'same', { format: 'docker', layers: [randomLayer(64)] });
    const cfg = config('p6.yaml', `  - source: ${src.host}/app/p6
    destination: ${dst.host}/mirror
    overwrite: false
`);
    await dst.settle();
    const mark = dst.mark();
    const { r, report, summary } = await sync(cfg, 'p6');
    await dst.settle();
    assert.equal((await getManifest(dst, 'mirror/p6', 'same'))?.digest, theirs.digest);
    assert.equal((await getManifest(dst, 'mirror/p6', 'new'))?.digest, digests.get('app/p6:new'));
    const same = report.find((e) => e.destination.endsWith(':same'));
    assert.equal(same?.status, 'kept');
    assert.equal(summary.kept, 1);
    assert.match(r.stdout, /1 copied, 0 already present, 1 kept \(overwrite: false\), 0 failed/);
    // The kept tag cost no write: every write of the run is the new tag's.
    const writes = dst.requestsSince(mark).filter((e) => e.method !== 'GET' && e.method !== 'HEAD');
    assert.ok(writes.every((w) => !w.path.endsWith('/manifests/same')), JSON.stringify(writes));
  });

  describe('SWR and the queue path', () => {
    let back: RegistryHandle;
    let swr: SwrRegistryProxyHandle;
    let api: SwrApiHandle;
    let sqs: SqsServerHandle;
    let dynamo: DynamoServerHandle;
    before(async () => {
      back = await startRegistry({ auth: 'none' });
      const state = swrState();
      state.orgs.set('team', { auth: 7, mine: true });
      api = await startSwrApi({ ak: 'AKP', sk: 'SKP', projectId: 'p1', state, backing: back });
      swr = await startSwrRegistryProxy(back, { state });
      [sqs, dynamo] = await Promise.all([startSqsServer(), startDynamoServer()]);
      await dynamo.createStateTable('prune-state');
    });
    after(async () => {
      await Promise.all([api?.stop(), swr?.stop(), sqs?.stop(), dynamo?.stop()]);
    });

    test('SWR: the tag is deleted through the management API', async () => {
      await seed(src, 'app/p7', ['s1', 's2', 's3']);
      const swrEntry = `  "${swr.host}": { type: swr, insecure: true, accessKey: AKP, secretKey: SKP, project: cn-north-4, projectId: p1, managementEndpoint: "${api.url}" }\n`;
      const cfg = writeFile(dir, 'p7.yaml', `version: 1
defaults: { concurrency: 2, retries: 0 }
registries:
  "${src.host}": { insecure: true }
${swrEntry}rules:
  - source: ${src.host}/app/p7
    destination: ${swr.host}/team
    prune: { max: 5 }
`);
      await sync(cfg, 'p7');
      await dropAtSource('app/p7', ['s2']);
      const { report } = await sync(cfg, 'p7');
      assert.deepEqual(pruned(report), ['s2']);
      assert.deepEqual((await listTags(back, 'team/p7')).sort(), ['s1', 's3']);
      assert.ok(api.requests.some((q) => q.method === 'DELETE' && q.path === '/v2/manage/namespaces/team/repos/p7/tags/s2'), JSON.stringify(api.requests));
    });

    test('sync --queue-url prunes, and keeps with overwrite: false', async () => {
      await seed(src, 'app/p8', ['q1', 'q2', 'q3']);
      const theirs = await pushImage(dst, 'mirror2/p8', 'q1', { format: 'docker', layers: [randomLayer(64)] });
      const cfg = config('p8.yaml', `  - source: ${src.host}/app/p8
    destination: ${dst.host}/mirror
    prune: { max: 5 }
  - source: ${src.host}/app/p8
    destination: ${dst.host}/mirror2
    overwrite: false
`);
      const env = {
        AWS_ENDPOINT_URL_SQS: sqs.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ACCESS_KEY_ID: 'test-access-key',
        AWS_SECRET_ACCESS_KEY: 'test-secret-key',
        AWS_REGION: 'us-east-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        SWRM_STATE_TABLE: 'prune-state',
      };
      const q = await sqs.createQueuePair('prune-q', { maxReceiveCount: 5 });
      const first = await sync(cfg, 'p8', 0, env, ['--queue-url', q.queueUrl]);
      assert.equal(first.report.find((e) => e.destination.endsWith('mirror2/p8:q1'))?.status, 'kept');
      assert.equal((await getManifest(dst, 'mirror2/p8', 'q1'))?.digest, theirs.digest);
      await dropAtSource('app/p8', ['q2']);
      const { r, report } = await sync(cfg, 'p8', 0, env, ['--queue-url', q.queueUrl]);
      assert.deepEqual(pruned(report), ['q2'], r.stdout + r.stderr);
      assert.deepEqual((await listTags(dst, 'mirror/p8')).sort(), ['q1', 'q3']);
      assert.match(r.stdout, /1 pruned/);
    });
  });
});
