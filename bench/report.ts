// Turns measurements into the compact table and target list that go into the closing note, and
// into the --json document. Formatting only: every figure is computed in run.ts / workloads.ts.
import type { SeededSet } from './seed.js';
import { MiB } from './seed.js';
import { type SweepRun, formatSweep, pointLabel } from './sweep.js';
import { type Measurement, type TargetCheck, type Workload, rssGrowth } from './workloads.js';

export interface WorkloadResult {
  workload: Workload;
  seeded: SeededSet;
  seedMs: number;
  measurements: Measurement[];
  targets: TargetCheck[];
  /** --sweep: the engine driver's cold runs over a grid of limits. */
  sweep?: SweepRun[];
}

const mib = (n: number): string => `${(n / MiB).toFixed(1)}`;
const secs = (ms: number): string => (ms / 1000).toFixed(2);

function ratio(m: Measurement, all: Measurement[]): string {
  if (m.tool === 'skopeo') return '-';
  const s = all.find((x) => x.workload === m.workload && x.phase === m.phase && x.tool === 'skopeo');
  return s?.ok && m.ok ? `${(m.wallMs / s.wallMs).toFixed(2)}x` : 'n/a';
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // Text columns left-aligned, figures right-aligned.
  const fmt = (r: string[]): string => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

export function formatReport(results: WorkloadResult[], skopeo: string | undefined): string {
  const all = results.flatMap((r) => r.measurements);
  const header = ['workload', 'tool', 'phase', 'wall s', 'ours/skopeo', 'src req', 'dst req', 'dst writes', 'cpu s', 'peak RSS MiB', 'RSS growth MiB'];
  const rows = all.map((m) => [
    m.workload,
    m.tool,
    m.phase + (m.ok ? '' : ' FAILED') + (m.verified === false ? ' WRONG-DIGEST' : ''),
    secs(m.wallMs),
    ratio(m, all),
    String(m.srcRequests),
    String(m.dstRequests),
    String(m.dstWrites),
    secs(m.cpuMs),
    mib(m.peakRss),
    m.ours ? mib(rssGrowth(m)!) : '-',
  ]);
  const out: string[] = ['', '=== swr-migrate benchmark ===', ''];
  for (const r of results) {
    const indexes = r.seeded.images.filter((i) => i.children).length;
    out.push(`(${r.workload.id}) ${r.workload.title}: ${r.seeded.images.length} images${indexes ? ` (${indexes} multi-platform)` : ''}, ${r.seeded.blobs} blobs, ` +
      `${mib(r.seeded.bytes)} MiB at the source (seeded in ${secs(r.seedMs)} s)`);
  }
  if (!skopeo && all.length) out.push('skopeo: not installed, skipped (ratios and skopeo targets are n/a)');
  if (rows.length) out.push('', table(header, rows), '');
  for (const m of all) {
    const who = `${m.workload}/${m.tool}/${m.phase}`;
    if (m.sync) {
      const y = m.sync;
      out.push(`  ${who}: sync ${y.images} images: ${y.copied} copied, ${y.skipped} up to date, ${y.failed} failed; ${mib(y.bytes)} MiB uploaded; ` +
        `wall ${secs(m.wallMs)} s = in-process ${secs(y.durationMs)} s + ${secs(m.wallMs - y.durationMs)} s start-up/config/exit; ` +
        `per image p50 ${secs(y.imageP50Ms)} s, max ${secs(y.imageMaxMs)} s`);
    }
    if (m.ours) {
      const o = m.ours;
      const reqs = Object.entries(o.requests).map(([h, s]) => `${h}=${s.requests}`).join(' ');
      out.push(`  ${who}: ${o.ok} ok (${o.skipped} up to date), ${o.failed} failed; blobs ${o.blobsUploaded} uploaded ` +
        `(${mib(o.bytesUploaded)} MiB) / ${o.blobsMounted} mounted / ${o.blobsPresent} present, ${o.manifestsPut} manifests; ` +
        `client-counted requests ${reqs}`);
      const p = o.atPeak;
      out.push(`    wall ${secs(m.wallMs)} s = start-up ${secs(o.startupMs)} s + copy ${secs(o.copyMs)} s + exit; ` +
        `at peak RSS: heap ${mib(p.heapUsed)}/${mib(p.heapTotal)} MiB, external ${mib(p.external)} MiB (array buffers ${mib(p.arrayBuffers)} MiB)`);
    }
    const methods = (c: Record<string, number>): string => Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ');
    const conns = m.connections ? `; TCP connections opened: src ${m.connections.src}, dst ${m.connections.dst}` : '';
    const refused = m.refusedOci === undefined ? '' : `; OCI manifest PUTs refused by the SWR stand-in: ${m.refusedOci}, its CPU ${secs(m.frontCpuMs ?? 0)} s`;
    out.push(`  ${who} requests: src ${methods(m.byMethod.src) || 'none'} (manifest GETs ${m.srcManifestGets}); dst ${methods(m.byMethod.dst) || 'none'}${conns}${refused}`);
    out.push(`    by kind and status: src ${methods(m.byKind.src) || 'none'}; dst ${methods(m.byKind.dst) || 'none'}`);
    if (m.error) out.push(`  ${who} error: ${m.error}`);
  }
  for (const r of results) if (r.sweep?.length) out.push('', formatSweep(r.workload.id, r.sweep));
  // A sweep-only run measured none of the targets: do not list them all as n/a.
  if (all.length) out.push('', 'targets:');
  for (const r of results) {
    if (r.measurements.length) for (const t of r.targets) out.push(`  [${t.ok === undefined ? 'n/a ' : t.ok ? 'PASS' : 'MISS'}] ${t.label}: ${t.value}`);
  }
  return out.join('\n');
}

export function jsonReport(results: WorkloadResult[], meta: Record<string, unknown>): unknown {
  return {
    ...meta,
    workloads: results.map((r) => ({
      id: r.workload.id,
      title: r.workload.title,
      seed: { ...r.workload.seed, images: r.seeded.images.length, blobs: r.seeded.blobs, bytes: r.seeded.bytes, ms: r.seedMs },
      measurements: r.measurements.map((m) => ({ ...m, rssGrowth: rssGrowth(m) })),
      targets: r.targets,
      sweep: r.sweep?.map((x) => ({ point: x.point, label: pointLabel(x.point), repeat: x.repeat, ...x.m, rssGrowth: rssGrowth(x.m) })),
    })),
  };
}
