// Chaos through the CLI (issue 13 item 8): two distribution registries, each behind a fault proxy
// (test/helpers/fault-proxy.ts) that faults FAULT_RATE of the requests with a fixed SEED: 503s, 429s
// (plain with Retry-After 1, and Docker Hub's throttle on the source, whose pull budget is far larger
// than the plan), connection resets and bodies cut mid-way. The source redirects blob GETs to a "CDN"
// origin that faults too and refuses Authorization (the source takes Basic credentials, so that
// refusal means something). Every run must end with every image at the destination, digest-exact,
// checked straight at the registries, bypassing the proxies.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { blobExists, deleteManifest, getManifest, pushImage, pushIndex, randomLayer } from '../helpers/push.js';
import { CLI, type CliResult, runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { type FaultProxyHandle, startFaultProxy } from '../helpers/fault-proxy.js';
import { type LogMark, commitKey } from '../helpers/fault-proxy-log.js';
import { type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';

const SEED = Number(process.env.CHAOS_SEED ?? 13);
const FAULT_RATE = 0.25;
const IMAGES = 20;
const REPOS = ['alpha', 'beta', 'gamma', 'delta'];
/** Every INDEX_EVERY-th image is a two-platform index (2 of 20). */
const INDEX_EVERY = 10;
/** The SIGKILL case kills the first sync once this many blobs were committed at the destination. */
const KILL_AFTER_COMMITS = 8;
/** Docker Hub's budget on the source, large enough that no image need be left for later. */
const BUDGET = { limit: 500, windowS: 60 };
const RUN_TIMEOUT_MS = 120_000;

interface Seeded { repo: string; tag: string; digest: string; manifests: string[]; blobs: string[] }
interface ReportEntry { status: string; kind?: string; source: string; attempts: number; error?: { code: string; message: string } }

describe('chaos: faults on both sides, through the CLI', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let srcProxy: FaultProxyHandle;
  let dstProxy: FaultProxyHandle;
  let sqs: SqsServerHandle;
  let dir: string;
  const images: Seeded[] = [];
  /** Requests per image of the run without faults, for the figures. */
  let baseline: number | undefined;

  before(async () => {
    // The source wants Basic credentials, so that the CDN's refusal of Authorization means something.
    [src, dst, sqs] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry(), startSqsServer()]);
    dir = tempDir('swrm-chaos-');
    const base = randomLayer(4_096);
    const shared = randomLayer(3_072);
    const byRepo = REPOS.map((_, r) => Array.from({ length: IMAGES }, (_, i) => i).filter((i) => i % REPOS.length === r));
    await Promise.all(byRepo.map(async (indices) => {
      for (const i of indices) {
        const repo = `src/${REPOS[i % REPOS.length]}`;
        const tag = `v${Math.floor(i / REPOS.length) + 1}`;
        const format = i % 2 ? 'oci' : 'docker';
        if (i % INDEX_EVERY === INDEX_EVERY - 1) {
          // One Docker manifest list and one OCI index.
          const index = await pushIndex(src, repo, tag, {
            format: Math.floor(i / INDEX_EVERY) % 2 ? 'oci' : 'docker', platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }], layers: [base, randomLayer(2_048)],
          });
          images.push({ repo, tag, digest: index.digest, manifests: index.children!.map((c) => c.digest), blobs: index.blobs.map((b) => b.digest) });
        } else {
          const layers = i % 2 ? [base, randomLayer(2_000 + 300 * (i % 5))] : [base, i % 3 ? randomLayer(1_500) : shared, randomLayer(2_500)];
          const img = await pushImage(src, repo, tag, { format, layers });
          images.push({ repo, tag, digest: img.digest, manifests: [], blobs: img.blobs.map((b) => b.digest) });
        }
      }
    }));
    const opts = { seed: SEED, faultRate: FAULT_RATE };
    [srcProxy, dstProxy] = await Promise.all([startFaultProxy(src, { ...opts, cdn: true, budget: BUDGET }), startFaultProxy(dst, opts)]);
  });
  after(async () => {
    await sqs?.stop();
    await stopAll();
  });

  const config = (dest: string): string =>
    writeFile(dir, `${dest}.yaml`, `version: 1
registries:
  "${srcProxy.host}": { insecure: true, username: ${src.username}, password: ${src.password} }
  "${dstProxy.host}": { insecure: true }
rules:
${REPOS.map((r) => `  - source: ${srcProxy.host}/src/${r}\n    destination: ${dstProxy.host}/${dest}\n`).join('')}`);

  const awsEnv = (): Record<string, string> => ({
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_ACCESS_KEY_ID: 'test-access-key',
    AWS_SECRET_ACCESS_KEY: 'test-secret-key',
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });

  /** Images not at `dest` digest-exact (manifest, children and blobs), asked of the registry itself. */
  const notCopied = async (dest: string): Promise<string[]> => {
    const out: string[] = [];
    for (const img of images) {
      const repo = `${dest}/${img.repo.split('/')[1]}`;
      const m = await getManifest(dst, repo, img.tag);
      if (m?.digest !== img.digest) {
        out.push(`${repo}:${img.tag} ${m ? `is ${m.digest}` : 'missing'}`);
        continue;
      }
      for (const d of img.manifests) if (!(await getManifest(dst, repo, d))) out.push(`${repo}@${d} (child) missing`);
      for (const d of img.blobs) if (!(await blobExists(dst, repo, d))) out.push(`${repo} blob ${d} missing`);
    }
    return out;
  };

  /** The summary line's counts, checked against the report's entries; returns the report's images. */
  const summaryMatchesReport = (stdout: string, reportFile: string): ReportEntry[] => {
    const m = /^(?:sync|work): (\d+) image\(s\): (\d+) copied, (\d+) already present, (\d+) failed(?:, (\d+) left for later)?/m.exec(stdout);
    assert.ok(m, `no summary line in:\n${stdout}`);
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { images: ReportEntry[] };
    const entries = report.images.filter((e) => e.kind !== 'rule');
    const count = (status: string) => entries.filter((e) => e.status === status).length;
    assert.deepEqual(
      { images: Number(m[1]), copied: Number(m[2]), skipped: Number(m[3]), failed: Number(m[4]), deferred: Number(m[5] ?? 0) },
      { images: entries.length, copied: count('copied'), skipped: count('skipped'), failed: count('failed'), deferred: count('deferred') },
      'the summary and the report disagree',
    );
    return entries;
  };

  /** Requests made and faults injected on both proxies since the marks, per image, for t.diagnostic. */
  const figures = (t: TestContext, label: string, marks: [LogMark, LogMark]) => {
    const s = srcProxy.log.stats(marks[0]);
    const d = dstProxy.log.stats(marks[1]);
    const requests = s.requests + d.requests;
    const faults = s.faults + d.faults;
    const per = (n: number) => (n / IMAGES).toFixed(1);
    const kinds = (f: Record<string, number>) => Object.entries(f).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
    t.diagnostic(`${label}: ${requests} requests (${per(requests)} per image${baseline ? `, ${(requests / IMAGES / baseline).toFixed(2)}x the run without faults` : ''}), `
      + `${faults} faults injected (${per(faults)} per image)`);
    t.diagnostic(`  source registry: ${s.registry.requests} requests, faults: ${kinds(s.registry.byFault)}; budget 429s ${s.registry.refused.budget}`);
    t.diagnostic(`  source CDN: ${s.cdn.requests} requests, faults: ${kinds(s.cdn.byFault)}; Authorization refused ${s.cdn.refused.authorization}`);
    t.diagnostic(`  destination: ${d.registry.requests} requests, faults: ${kinds(d.registry.byFault)}; ${dstProxy.log.commitsSince(marks[1]).length} blob commits`);
    return { perImage: requests / IMAGES, sourceFaults: s.faults, destinationFaults: d.faults };
  };
  /** The CDN (like S3) refuses Authorization: a refusal means the registry's credentials left home. */
  const assertCredentialsStayedHome = (m: [LogMark, LogMark]): void =>
    assert.equal(srcProxy.log.stats(m[0]).cdn.refused.authorization, 0, 'Authorization was sent to the CDN');
  /** A chaos run that met no fault proves nothing. */
  const assertFaulted = (f: ReturnType<typeof figures>): void =>
    assert.ok(f.sourceFaults > 0 && f.destinationFaults > 0, `faults injected: source ${f.sourceFaults}, destination ${f.destinationFaults}`);

  /** The CLI's own words, then one diagnostic line per (status, code, deliveries) the report shows left behind. */
  const explain = (t: TestContext, r: CliResult, entries: ReportEntry[] | undefined): void => {
    if (process.env.CHAOS_DEBUG) for (const l of r.stderr.split('\n').filter((x) => /will retry|DLQ|failed/.test(x))) t.diagnostic(l.slice(0, 400));
    t.diagnostic(`exit ${r.code}; ${r.stdout.trim().split('\n').join(' | ')}`);
    const codes = new Map<string, number>();
    for (const e of entries ?? []) {
      if (e.status === 'copied' || e.status === 'skipped') continue;
      const what = `${e.status} ${e.error?.code ?? ''} after ${e.attempts} deliver${e.attempts === 1 ? 'y' : 'ies'}`;
      codes.set(what, (codes.get(what) ?? 0) + 1);
    }
    for (const [what, n] of codes) t.diagnostic(`  ${n} x ${what}`);
  };

  const marks = (): [LogMark, LogMark] => [srcProxy.log.mark(), dstProxy.log.mark()];
  const reseed = (): void => [srcProxy, dstProxy].forEach((p) => p.setSeed(SEED));

  test('without faults: every image copied (the baseline the chaos runs are compared with)', { timeout: RUN_TIMEOUT_MS }, async (t) => {
    srcProxy.setFaultRate(0);
    dstProxy.setFaultRate(0);
    try {
      const m = marks();
      const report = join(dir, 'base.json');
      const r = await runCli(['sync', '--config', config('base'), '--report', report, '--dlq', join(dir, 'base.jsonl')]);
      explain(t, r, undefined);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(await notCopied('base'), []);
      summaryMatchesReport(r.stdout, report);
      baseline = figures(t, 'without faults', m).perImage;
      assertCredentialsStayedHome(m);
    } finally {
      srcProxy.setFaultRate(FAULT_RATE);
      dstProxy.setFaultRate(FAULT_RATE);
    }
  });

  test(`sync with default settings, ${FAULT_RATE * 100}% faults: exit 0, every image digest-exact, summary = report`, { timeout: RUN_TIMEOUT_MS }, async (t) => {
    reseed();
    const m = marks();
    const report = join(dir, 'chaos.json');
    const r = await runCli(['sync', '--config', config('chaos'), '--report', report, '--dlq', join(dir, 'chaos.jsonl'), ...(process.env.CHAOS_DEBUG ? ['--log-level', 'warn'] : [])]);
    const f = figures(t, 'sync with faults', m);
    let entries: ReportEntry[] | undefined;
    try {
      entries = summaryMatchesReport(r.stdout, report);
    } finally {
      explain(t, r, entries);
    }
    assertCredentialsStayedHome(m);
    const missing = await notCopied('chaos');
    t.diagnostic(`${missing.length} problem(s) at the destination: ${missing.slice(0, 5).join('; ')}`);
    assert.deepEqual(missing, [], 'images not at the destination after one sync');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assertFaulted(f);
  });

  test('sync killed with SIGKILL mid-run, then one sync: every image, and no blob committed before the kill is uploaded again', { timeout: RUN_TIMEOUT_MS }, async (t) => {
    reseed();
    const m = marks();
    const file = config('killed');
    const dlq = join(dir, 'killed.jsonl');
    const child = spawn(process.execPath, [CLI, 'sync', '--config', file, '--dlq', dlq], { stdio: ['ignore', 'ignore', 'ignore'] });
    let exited = false;
    const closed = new Promise<void>((resolve) => child.once('close', () => ((exited = true), resolve())));
    try {
      const deadline = Date.now() + 60_000;
      while (!exited && dstProxy.log.commitsSince(m[1]).length < KILL_AFTER_COMMITS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(!exited, `the sync ended before ${KILL_AFTER_COMMITS} blobs were committed (${dstProxy.log.commitsSince(m[1]).length})`);
      assert.ok(dstProxy.log.commitsSince(m[1]).length >= KILL_AFTER_COMMITS, 'no blob committed within 60 s');
    } finally {
      child.kill('SIGKILL');
      await closed;
    }
    // Requests the killed process had already sent may still commit: wait for them, they count as before.
    await Promise.all([srcProxy.idle(), dstProxy.idle()]);
    const before = dstProxy.log.commitsSince(m[1]);
    const committed = new Set(before.map(commitKey));
    assertFaulted(figures(t, `killed sync (${before.length} blob commits before SIGKILL)`, m));

    const m2 = marks();
    const report = join(dir, 'killed.json');
    const r = await runCli(['sync', '--config', file, '--report', report, '--dlq', dlq]);
    const f = figures(t, 'the sync after the kill', m2);
    let entries: ReportEntry[] | undefined;
    try {
      entries = summaryMatchesReport(r.stdout, report);
    } finally {
      explain(t, r, entries);
    }
    // Uploaded again = the bytes sent twice. A mount moves no bytes: counted, not held against the run.
    const repeated = dstProxy.log.commitsSince(m2[1]).filter((c) => committed.has(commitKey(c)));
    const again = repeated.filter((c) => c.via === 'put');
    t.diagnostic(`${again.length} blob(s) committed before the kill were uploaded again, ${repeated.length - again.length} mounted again`);
    assertCredentialsStayedHome(m);
    const missing = await notCopied('killed');
    t.diagnostic(`${missing.length} problem(s) at the destination: ${missing.slice(0, 5).join('; ')}`);
    assert.deepEqual(missing, [], 'images not at the destination after the second sync');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(again.map(commitKey), [], 'blobs committed before the kill were uploaded again');
    assertFaulted(f);
  });

  test(`sync --queue-url (SQS), ${FAULT_RATE * 100}% faults: every image after one run`, { timeout: RUN_TIMEOUT_MS }, async (t) => {
    reseed();
    const q = await sqs.createQueuePair('chaos', { maxReceiveCount: 10 });
    const m = marks();
    const report = join(dir, 'sqs.json');
    const r = await runCli(['sync', '--config', config('sqs'), '--queue-url', q.queueUrl, '--report', report, ...(process.env.CHAOS_DEBUG ? ['--log-level', 'warn'] : [])], awsEnv());
    const f = figures(t, 'sync --queue-url with faults', m);
    let entries: ReportEntry[] | undefined;
    try {
      entries = summaryMatchesReport(r.stdout, report);
    } finally {
      explain(t, r, entries);
    }
    assertCredentialsStayedHome(m);
    const missing = await notCopied('sqs');
    t.diagnostic(`${missing.length} problem(s) at the destination: ${missing.slice(0, 5).join('; ')}`);
    assert.deepEqual(missing, [], 'images not at the destination after one sync --queue-url');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assertFaulted(f);
  });
  test(`prune under ${FAULT_RATE * 100}% faults: only what the source deleted goes, a faulted delete waits for the next run`, { timeout: RUN_TIMEOUT_MS * 2 }, async (t) => {
    reseed();
    const tags = ['e1', 'e2', 'e3', 'e4'];
    const digests = new Map<string, string>();
    for (const tag of tags) digests.set(tag, (await pushImage(src, 'src/epsilon', tag, { format: 'docker', layers: [randomLayer(1_200)] })).digest);
    const file = writeFile(dir, 'prune.yaml', `version: 1
registries:
  "${srcProxy.host}": { insecure: true, username: ${src.username}, password: ${src.password} }
  "${dstProxy.host}": { insecure: true }
rules:
  - source: ${srcProxy.host}/src/epsilon
    destination: ${dstProxy.host}/prune
    prune: { max: 5 }
`);
    const sync = () => runCli(['sync', '--config', file, '--dlq', join(dir, 'prune.jsonl')]);
    const present = async () => (await Promise.all(tags.map(async (tag) => ((await getManifest(dst, 'prune/epsilon', tag))?.digest === digests.get(tag) ? tag : '')))).filter(Boolean);
    // Copied first (a faulted run may leave an image for the next one).
    for (let i = 0; i < 3 && (await present()).length < tags.length; i++) await sync();
    assert.deepEqual(await present(), tags);
    await deleteManifest(src, 'src/epsilon', digests.get('e4')!);
    const runs: string[] = [];
    for (let i = 0; i < 4 && (await present()).includes('e4'); i++) {
      const r = await sync();
      runs.push(`exit ${r.code}: ${r.stdout.trim().split('\n').slice(-2).join(' | ')}`);
      // What the source still has is never deleted, whatever the faults did to its listing.
      assert.deepEqual((await present()).filter((x) => x !== 'e4'), ['e1', 'e2', 'e3'], runs.join('\n'));
    }
    for (const line of runs) t.diagnostic(line);
    assert.deepEqual(await present(), ['e1', 'e2', 'e3'], `e4 still at the destination after ${runs.length} runs:\n${runs.join('\n')}`);
  });
});
