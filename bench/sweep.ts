// `--sweep transfers=8,16,32,64 --sweep connections=8,16,32,unlimited [--repeat N]`: the engine
// driver's cold copy of a workload at every combination of its limits, each into a fresh
// destination, so the library's defaults can be chosen from figures (issue 6: "measure both
// regimes before choosing"). Over the `wan` workload this shows whether a limit tuned on loopback
// (transfers = 8) becomes the bottleneck once each request costs a 40 ms round trip.
import { startRegistry } from '../test/helpers/registry.js';
import { engineCommand } from './commands.js';
import { type Endpoint, describeRun, measure, openEndpoint } from './measure.js';
import type { Measurement, RunContext, Workload } from './workloads.js';

/** transfers: the copy context's blob transfer limit; connections: the Agent's cap per origin (0 = none); proc: images at once. */
export const SWEEP_AXES = ['transfers', 'connections', 'proc'] as const;
export type SweepAxis = (typeof SWEEP_AXES)[number];
export type SweepPoint = Partial<Record<SweepAxis, number>>;

export interface SweepRun {
  point: SweepPoint;
  repeat: number;
  m: Measurement;
}

/** Every combination of the given axes; a problem is returned as a one-line message. */
export function parseSweep(specs: string[]): SweepPoint[] | string {
  const axes: [SweepAxis, number[]][] = [];
  for (const part of specs.flatMap((s) => s.split(/[\s;]+/)).filter(Boolean)) {
    const [name, list] = part.split('=');
    if (!SWEEP_AXES.includes(name as SweepAxis) || !list) return `--sweep ${part}: expected ${SWEEP_AXES.join('|')}=N[,N...]`;
    const values = list.split(',').map((v) => (v === 'unlimited' || v === 'none' ? 0 : Number(v)));
    const min = name === 'connections' ? 0 : 1;
    if (values.some((v) => !Number.isInteger(v) || v < min || v > 1024)) return `--sweep ${part}: values must be whole numbers from ${min} to 1024${min ? '' : ' (or "unlimited")'}`;
    if (axes.some(([n]) => n === name)) return `--sweep: ${name} given twice`;
    axes.push([name as SweepAxis, values]);
  }
  if (!axes.length) return '--sweep: nothing to sweep';
  return axes.reduce<SweepPoint[]>((points, [name, values]) => points.flatMap((p) => values.map((v) => ({ ...p, [name]: v }))), [{}]);
}

export const pointLabel = (p: SweepPoint): string =>
  SWEEP_AXES.filter((a) => p[a] !== undefined).map((a) => `${a}=${a === 'connections' && p[a] === 0 ? 'unlimited' : p[a]}`).join(' ');

/**
 * Runs every point `repeat` times, alternating the order between repeats so that a slow spell of
 * the (shared) machine does not land on the same points every time.
 */
export async function runSweep(wl: Workload, points: SweepPoint[], repeat: number, src: Endpoint, base: Omit<RunContext, 'dstHost'>): Promise<SweepRun[]> {
  const runs: SweepRun[] = [];
  console.log(`  sweep: ${points.length} points x ${repeat}, engine driver, cold, ${base.proc} images at once unless proc= says otherwise`);
  for (let r = 0; r < repeat; r++) {
    for (const point of r % 2 === 0 ? points : [...points].reverse()) {
      const dst: Endpoint = await openEndpoint(await startRegistry(), wl);
      try {
        const run: RunContext = { ...base, dstHost: dst.host, proc: point.proc ?? base.proc };
        const cmd = engineCommand(run, { transfers: point.transfers, connections: point.connections, concurrency: run.proc });
        const m = await measure(wl, 'ours-engine', 'cold', run, cmd, src, dst);
        runs.push({ point, repeat: r, m });
        console.log(describeRun(`sweep ${pointLabel(point)} #${r + 1}`, m));
      } finally {
        await dst.stop();
      }
    }
  }
  return runs;
}

const secs = (ms: number): string => (ms / 1000).toFixed(2);

export function formatSweep(workload: string, runs: SweepRun[]): string {
  const points = [...new Map(runs.map((r) => [pointLabel(r.point), r.point])).values()];
  const out = [`sweep (${workload}), engine driver, cold: wall s per repeat (copy s = wall minus Node start-up); best; connections opened`];
  for (const p of points) {
    const mine = runs.filter((r) => pointLabel(r.point) === pointLabel(p));
    const ok = mine.filter((r) => r.m.ok && r.m.verified !== false);
    const walls = mine.map((r) => (r.m.ok ? secs(r.m.wallMs) : 'FAILED')).join(' / ');
    const best = ok.length ? secs(Math.min(...ok.map((r) => r.m.wallMs))) : 'n/a';
    const copy = ok.length ? secs(Math.min(...ok.map((r) => r.m.ours?.copyMs ?? Infinity))) : 'n/a';
    const c = mine[0]?.m.connections;
    out.push(`  ${pointLabel(p).padEnd(42)} wall ${walls}  best ${best} (copy ${copy})` +
      `${c ? `  conns src ${c.src} dst ${c.dst}` : ''}  req src ${mine[0]?.m.srcRequests} dst ${mine[0]?.m.dstRequests}`);
  }
  return out.join('\n');
}
