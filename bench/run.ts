// `npm run bench [-- --only a,many-small] [-- --json FILE]`: ours vs skopeo on local registries.
//
// Per workload: one source registry is seeded, then each tool gets its own FRESH destination
// registry and runs the workload's phases against it (cold, then no-op). Both tools run as child
// processes timed from the outside (measure.ts). The `wan` workload puts a delay proxy in front of
// both registries; --sweep (sweep.ts) runs the engine driver over a grid of its limits.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { track } from '../test/helpers/cleanup.js';
import { startRegistry, stopAll } from '../test/helpers/registry.js';
import { available } from './child.js';
import { SKOPEO, SKOPEO_ARGS, toolCommand } from './commands.js';
import { benchEvents } from './events.js';
import { openFront } from './fronts.js';
import { type Endpoint, describeRun, measure, openEndpoint } from './measure.js';
import { type WorkloadResult, formatReport, jsonReport } from './report.js';
import { MiB, seedImageSet } from './seed.js';
import { SWEEP_AXES, type SweepPoint, parseSweep, runSweep } from './sweep.js';
import { type Measurement, type Phase, type RunContext, type Tool, type Workload, WORKLOADS } from './workloads.js';

const PREFIX = 'mirror';
// Where skopeo keeps its blob-info cache (known blob locations, used to pick mounts) when run as root.
const ROOT_CACHE = '/var/lib/containers';

interface Options {
  proc: number | undefined;
  /** --delay MS: put every workload behind the delay proxies (as `wan` is). */
  delayMs: number | undefined;
  sweep: SweepPoint[] | undefined;
  repeat: number;
}

async function runWorkload(workload: Workload, tools: Tool[], tmp: string, opts: Options): Promise<WorkloadResult> {
  const wl = opts.delayMs === undefined ? workload : { ...workload, wanDelayMs: opts.delayMs };
  const behind = wl.wanDelayMs && wl.wanDelayMs !== workload.wanDelayMs ? ` [behind ${wl.wanDelayMs} ms each-way delay proxies]` : '';
  console.log(`\n(${wl.id}) ${wl.title}${behind}`);
  const registry = await startRegistry();
  let src: Endpoint | undefined;
  try {
    // Seeded directly: behind the WAN proxy only the measured runs pay the latency.
    const t0 = performance.now();
    const seeded = await seedImageSet(registry, wl.seed);
    const seedMs = performance.now() - t0;
    console.log(`  seeded ${seeded.images.length} images, ${(seeded.bytes / MiB).toFixed(0)} MiB in ${(seedMs / 1000).toFixed(1)} s`);
    src = await openEndpoint(registry, wl);
    const base = { workload: wl.id, srcHost: src.host, prefix: PREFIX, images: seeded.images, tmp, ours: wl.ours, proc: opts.proc ?? wl.proc ?? 16 };
    const measurements: Measurement[] = [];
    for (const tool of wl.tools.filter((t) => tools.includes(t))) {
      // Fresh per tool: all start from the same empty registry (some behind a stand-in, fronts.ts).
      const fresh = await startRegistry();
      const dst = await openEndpoint(fresh, wl, await openFront(tool, fresh, PREFIX));
      try {
        const run: RunContext = { ...base, dstHost: dst.host };
        for (const phase of wl.phases) {
          const m = await measure(wl, tool, phase, run, toolCommand(tool, run, phase), src, dst);
          measurements.push(m);
          console.log(describeRun(`${tool} ${phase}`, m));
          if (!m.ok) break; // a no-op after a failed cold run measures nothing meaningful
        }
      } finally {
        await dst.stop(); // frees its disk (up to 1 GiB) before the next tool
      }
    }
    const sweep = opts.sweep ? await runSweep(wl, opts.sweep, opts.repeat, src, base) : undefined;
    const get = (tool: Tool, phase: Phase) => measurements.find((m) => m.tool === tool && m.phase === phase);
    return { workload: wl, seeded, seedMs, measurements, targets: wl.targets(get), sweep };
  } finally {
    await (src ?? registry).stop();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' }, json: { type: 'string' }, proc: { type: 'string' }, tools: { type: 'string' }, help: { type: 'boolean' },
      sweep: { type: 'string', multiple: true }, repeat: { type: 'string' }, delay: { type: 'string' },
    },
  });
  // `events` (events.ts) is not a copy workload: serve's push-to-destination latency, beside one-shot runs.
  const ids = [...WORKLOADS.map((w) => w.id), 'events'];
  const allTools: Tool[] = ['ours', 'ours-engine', 'ours-swr', 'ours-swr-ee', 'ours-docker', 'skopeo'];
  if (values.help) {
    console.log(`usage: npm run bench -- [--only ${ids.join('|')}[,...]] [--tools ${allTools.join('|')}[,...]] [--proc N] [--json FILE]\n` +
      '         [--sweep AXIS=N,N... [--sweep ...]] [--repeat N]\n' +
      '--proc N: sync --proc for every workload (default: each workload\'s own)\n' +
      `--sweep: the engine driver, cold, at every combination of ${SWEEP_AXES.join(', ')} (connections: per origin, "unlimited" = no cap;\n` +
      '         proc: images at once); with --sweep, the tools run only when --tools is given\n' +
      '--repeat N: runs of each sweep point (default 1)\n' +
      '--delay MS: put every selected workload behind delay proxies adding MS each way (wan: 20)\n' +
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
  const delayMs = values.delay === undefined ? undefined : Number(values.delay);
  if (delayMs !== undefined && !(Number.isInteger(delayMs) && delayMs >= 0 && delayMs <= 1000)) {
    console.error(`--delay must be whole milliseconds from 0 to 1000, got "${values.delay}"`);
    return 2;
  }
  const sweep = values.sweep ? parseSweep(values.sweep) : undefined;
  if (typeof sweep === 'string') {
    console.error(sweep);
    return 2;
  }
  const repeat = values.repeat === undefined ? 1 : Number(values.repeat);
  if (!(Number.isInteger(repeat) && repeat >= 1 && repeat <= 20)) {
    console.error(`--repeat must be a whole number from 1 to 20, got "${values.repeat}"`);
    return 2;
  }
  // A sweep alone is the usual ask (it is long); the tools join it only when named.
  const wantTools = (values.tools?.split(',').map((s) => s.trim()) ?? (sweep ? [] : allTools)) as Tool[];
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
  if (wantTools.includes('skopeo')) console.log(skopeo ? `${skopeo}: skopeo ${SKOPEO_ARGS.join(' ')}` : 'skopeo not found: skipping it, ours only');

  const tmp = mkdtempSync(join(tmpdir(), 'swrm-bench-'));
  // Registered with the harness so that stopAll() and its exit/signal handlers remove it too. As
  // root, skopeo writes its cache to /var/lib/containers: remove it only if this run created it.
  const rootCacheExisted = existsSync(ROOT_CACHE);
  track({ stopSync: () => {
    rmSync(tmp, { recursive: true, force: true });
    if (!rootCacheExisted && skopeo && process.getuid?.() === 0) rmSync(ROOT_CACHE, { recursive: true, force: true });
  } });

  const results: WorkloadResult[] = [];
  let events: string[] = [];
  try {
    for (const wl of selected) results.push(await runWorkload(wl, tools, tmp, { proc, delayMs, sweep, repeat }));
    if (!sweep && (!only || only.includes('events'))) events = await benchEvents(tmp, skopeo);
  } finally {
    await stopAll();
  }

  console.log(formatReport(results, skopeo));
  if (events.length) console.log(`\n${events.join('\n')}`);
  if (values.json) {
    const meta = {
      date: new Date().toISOString(), node: process.version, cpus: cpus().length, memBytes: totalmem(),
      skopeo: skopeo ?? null, skopeoArgs: skopeo ? SKOPEO_ARGS : null, procOverride: proc ?? null, delayMs: delayMs ?? null, repeat: sweep ? repeat : null,
    };
    writeFileSync(values.json, `${JSON.stringify(jsonReport(results, meta), null, 2)}\n`);
    console.log(`\nfigures written to ${values.json}`);
  }
  // A missed target is a finding, not a crash; a failed or wrong copy is.
  const broken = results.flatMap((r) => [...r.measurements, ...(r.sweep ?? []).map((x) => x.m)]).some((m) => !m.ok || m.verified === false);
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
