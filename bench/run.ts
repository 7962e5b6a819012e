// `npm run bench [-- --only a,many-small] [-- --json FILE]`: ours vs skopeo on local registries.
//
// Per workload: one source registry is seeded, then each tool gets its own FRESH destination
// registry and runs the workload's phases against it (cold, then no-op). Both tools run as child
// processes timed from the outside, and the requests they cause are counted from the registries'
// access logs, so neither tool's own bookkeeping is trusted for the comparison.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { track } from '../test/helpers/cleanup.js';
import { getManifest } from '../test/helpers/push.js';
import { type AccessLogEntry, type RegistryHandle, startRegistry, stopAll } from '../test/helpers/registry.js';
import { available, runMeasured } from './child.js';
import { SKOPEO, SKOPEO_ARGS, readSyncReport, toolCommand } from './commands.js';
import type { OursReport } from './ours-copy.js';
import { type WorkloadResult, formatReport, jsonReport } from './report.js';
import { MiB, destinationPath, pool, seedImageSet } from './seed.js';
import { type Measurement, type Phase, type RunContext, type Tool, type Workload, WORKLOADS } from './workloads.js';

const PREFIX = 'mirror';
const WRITES = new Set(['POST', 'PUT', 'PATCH']);
// Where skopeo keeps its blob-info cache (known blob locations, used to pick mounts) when run as root.
const ROOT_CACHE = '/var/lib/containers';

/** Does the destination hold every image under the source's manifest digest? */
async function verify(dst: RegistryHandle, run: RunContext): Promise<boolean> {
  const same = await pool(run.images, 8, async (img) => {
    const d = destinationPath(run.prefix, img);
    return (await getManifest(dst, d.repository, d.tag))?.digest === img.digest;
  });
  return same.every(Boolean);
}

function countBy(log: AccessLogEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of log) out[e.method] = (out[e.method] ?? 0) + 1;
  return out;
}

async function measure(wl: Workload, tool: Tool, phase: Phase, run: RunContext, src: RegistryHandle, dst: RegistryHandle): Promise<Measurement> {
  // Flush dirty pages first: otherwise the kernel writes back the seed (or the previous run's
  // copy) while this run goes, and whichever tool runs first after seeding pays for it (about
  // 1 s of 7 on workload a). Then quiet logs, so the marks separate the runs' requests.
  await runMeasured('sync', []).catch(() => undefined);
  await Promise.all([src.settle(), dst.settle()]);
  const marks = [src.mark(), dst.mark()] as const;
  const cmd = toolCommand(tool, run, phase);
  const r = await runMeasured(cmd.command, cmd.args, cmd.env);
  await Promise.all([src.settle(), dst.settle()]);
  const srcLog = src.requestsSince(marks[0]);
  const dstLog = dst.requestsSince(marks[1]);
  const m: Measurement = {
    workload: wl.id, tool, phase, ok: r.code === 0, wallMs: r.wallMs, cpuMs: r.cpuMs, peakRss: r.peakRss,
    srcRequests: srcLog.length,
    dstRequests: dstLog.length,
    dstWrites: dstLog.filter((e) => WRITES.has(e.method)).length,
    byMethod: { src: countBy(srcLog), dst: countBy(dstLog) },
  };
  if (cmd.output === 'engine') {
    try {
      m.ours = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as OursReport;
      if (m.ours.errors.length) m.error = m.ours.errors.join('; ');
    } catch {
      m.ok = false;
    }
  } else if (cmd.output === 'sync') {
    m.sync = readSyncReport(cmd.report!);
    if (!m.sync) m.ok = false;
    else if (m.sync.errors.length) m.error = m.sync.errors.join('; ');
  }
  if (!m.ok) m.error ??= `exit ${r.code ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  // After the logs were read: the verification's own GETs are not counted against the tool.
  if (phase === 'cold' && m.ok) m.verified = await verify(dst, run);
  return m;
}

async function runWorkload(wl: Workload, tools: Tool[], tmp: string, proc: number | undefined): Promise<WorkloadResult> {
  console.log(`\n(${wl.id}) ${wl.title}`);
  const src = await startRegistry();
  try {
    const t0 = performance.now();
    const seeded = await seedImageSet(src, wl.seed);
    const seedMs = performance.now() - t0;
    console.log(`  seeded ${seeded.images.length} images, ${(seeded.bytes / MiB).toFixed(0)} MiB in ${(seedMs / 1000).toFixed(1)} s`);
    const measurements: Measurement[] = [];
    for (const tool of wl.tools.filter((t) => tools.includes(t))) {
      const dst = await startRegistry(); // fresh per tool: both start from the same empty registry
      try {
        const run: RunContext = {
          workload: wl.id, srcHost: src.host, dstHost: dst.host, prefix: PREFIX, images: seeded.images, tmp,
          ours: wl.ours, proc: proc ?? wl.proc ?? 16,
        };
        for (const phase of wl.phases) {
          const m = await measure(wl, tool, phase, run, src, dst);
          measurements.push(m);
          console.log(`  ${tool} ${phase}: ${(m.wallMs / 1000).toFixed(2)} s, src ${m.srcRequests} req, dst ${m.dstRequests} req ` +
            `(${m.dstWrites} writes)${m.ok ? '' : ` FAILED: ${m.error}`}${m.verified === false ? ' DIGESTS DIFFER' : ''}`);
          if (!m.ok) break; // a no-op after a failed cold run measures nothing meaningful
        }
      } finally {
        await dst.stop(); // frees its disk (up to 1 GiB) before the next tool
      }
    }
    const get = (tool: Tool, phase: Phase) => measurements.find((m) => m.tool === tool && m.phase === phase);
    return { workload: wl, seeded, seedMs, measurements, targets: wl.targets(get) };
  } finally {
    await src.stop();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { only: { type: 'string' }, json: { type: 'string' }, proc: { type: 'string' }, tools: { type: 'string' }, help: { type: 'boolean' } },
  });
  const ids = WORKLOADS.map((w) => w.id);
  const allTools: Tool[] = ['ours', 'ours-engine', 'skopeo'];
  if (values.help) {
    console.log(`usage: npm run bench -- [--only ${ids.join('|')}[,...]] [--tools ${allTools.join('|')}[,...]] [--proc N] [--json FILE]\n` +
      '--proc N: sync --proc for every workload (default: each workload\'s own)\n' +
      'env BENCH_NODE_ARGS: node flags for the ours child (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof");\n' +
      'env BENCH_OURS_ARGS: more flags for `swr-migrate sync` (e.g. "--log-level debug");\n' +
      'env BENCH_SKOPEO: the skopeo binary (default: skopeo on PATH; skipped when it does not run)');
    return 0;
  }
  const proc = values.proc === undefined ? undefined : Number(values.proc);
  if (proc !== undefined && !(Number.isInteger(proc) && proc >= 1 && proc <= 256)) {
    console.error(`--proc must be a whole number from 1 to 256, got "${values.proc}"`);
    return 2;
  }
  const wantTools = (values.tools?.split(',').map((s) => s.trim()) ?? allTools) as Tool[];
  const badTools = wantTools.filter((t) => !allTools.includes(t));
  if (badTools.length) {
    console.error(`unknown tool ${badTools.join(', ')}; known: ${allTools.join(', ')}`);
    return 2;
  }
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((id) => !ids.includes(id)) ?? [];
  if (unknown.length) {
    console.error(`unknown workload ${unknown.join(', ')}; known: ${ids.join(', ')}`);
    return 2;
  }
  const selected = WORKLOADS.filter((w) => !only || only.includes(w.id));

  const skopeo = wantTools.includes('skopeo') ? await available(SKOPEO, ['--version']) : undefined;
  const tools = wantTools.filter((t) => t !== 'skopeo' || skopeo);
  console.log(skopeo ? `${skopeo}: skopeo ${SKOPEO_ARGS.join(' ')}` : 'skopeo not found: skipping it, ours only');

  const tmp = mkdtempSync(join(tmpdir(), 'swrm-bench-'));
  // Registered with the harness so that stopAll() and its exit/signal handlers remove it too. As
  // root, skopeo writes its cache to /var/lib/containers: remove it only if this run created it.
  const rootCacheExisted = existsSync(ROOT_CACHE);
  track({ stopSync: () => {
    rmSync(tmp, { recursive: true, force: true });
    if (!rootCacheExisted && skopeo && process.getuid?.() === 0) rmSync(ROOT_CACHE, { recursive: true, force: true });
  } });

  const results: WorkloadResult[] = [];
  try {
    for (const wl of selected) results.push(await runWorkload(wl, tools, tmp, proc));
  } finally {
    await stopAll();
  }

  console.log(formatReport(results, skopeo));
  if (values.json) {
    const meta = {
      date: new Date().toISOString(), node: process.version, cpus: cpus().length, memBytes: totalmem(),
      skopeo: skopeo ?? null, skopeoArgs: skopeo ? SKOPEO_ARGS : null, procOverride: proc ?? null,
    };
    writeFileSync(values.json, `${JSON.stringify(jsonReport(results, meta), null, 2)}\n`);
    console.log(`\nfigures written to ${values.json}`);
  }
  // A missed target is a finding, not a crash; a failed or wrong copy is.
  const broken = results.flatMap((r) => r.measurements).some((m) => !m.ok || m.verified === false);
  return broken ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (err: unknown) => {
    console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
    await stopAll();
    process.exitCode = 1;
  },
);
