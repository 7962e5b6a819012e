// The table of workloads. A workload is: what to seed at the source, which phases to run against
// a fresh destination (per tool), how "ours" is invoked, and which targets its figures must meet.
// Adding one (200 small images, the sync command, ...) is adding an entry here; run.ts is generic.
import { fileURLToPath } from 'node:url';
import type { OursJob, OursReport } from './ours-copy.js';
import { GiB, type ImageSetSpec, MiB, type SourceImage, destinationRef } from './seed.js';

export type Tool = 'ours' | 'skopeo';
/** cold: into an empty destination; noop: the same copy again, everything already there. */
export type Phase = 'cold' | 'noop';

export interface Measurement {
  workload: string;
  tool: Tool;
  phase: Phase;
  ok: boolean;
  error?: string;
  wallMs: number;
  cpuMs: number;
  /** Peak resident set of the tool's process (absolute, from /proc VmHWM). */
  peakRss: number;
  /** Requests in the registries' access logs during the run. */
  srcRequests: number;
  dstRequests: number;
  /** POST + PUT + PATCH at the destination: anything that writes. */
  dstWrites: number;
  /** Requests by method, e.g. { HEAD: 20, GET: 20 }, per side. */
  byMethod: { src: Record<string, number>; dst: Record<string, number> };
  /** Cold runs: every destination manifest has the source's digest. */
  verified?: boolean;
  /** Ours only: what the child reported about itself (RSS over its idle baseline, counters). */
  ours?: OursReport;
}

export interface TargetCheck {
  label: string;
  value: string;
  /** undefined: not measurable in this run (skopeo missing, or the run failed). */
  ok: boolean | undefined;
}

export interface RunContext {
  srcHost: string;
  dstHost: string;
  /** Destination namespace, the same for both tools. */
  prefix: string;
  images: SourceImage[];
}

export interface Workload {
  id: string;
  title: string;
  seed: ImageSetSpec;
  phases: Phase[];
  /** Command line of "ours" for a run; default: the engine driver ours-copy.js, all images at once. */
  ours?: (run: RunContext) => { command: string; args: string[] };
  targets(get: (tool: Tool, phase: Phase) => Measurement | undefined): TargetCheck[];
}

const OURS_COPY = fileURLToPath(new URL('./ours-copy.js', import.meta.url));

export function engineCommand(run: RunContext, extra: Partial<OursJob> = {}): { command: string; args: string[] } {
  const job: OursJob = {
    pairs: run.images.map((img) => [`${run.srcHost}/${img.repository}:${img.tag}`, destinationRef(run.dstHost, run.prefix, img)]),
    insecure: [run.srcHost, run.dstHost],
    ...extra,
  };
  // BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile the engine in place.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return { command: process.execPath, args: [...nodeArgs, OURS_COPY, JSON.stringify(job)] };
}

export const rssGrowth = (m: Measurement | undefined): number | undefined =>
  m?.ours ? Math.max(m.ours.peakRss, m.ours.vmHwm) - m.ours.baselineRss : undefined;

const usable = (m: Measurement | undefined): m is Measurement => m !== undefined && m.ok;

/** `value <= limit`, or `value < limit` when strict. */
function check(label: string, m: Measurement | undefined, value: (m: Measurement) => number, limit: number, strict = false, unit = ''): TargetCheck {
  if (!usable(m)) return { label, value: 'n/a', ok: undefined };
  const v = value(m);
  return { label, value: `${Number.isInteger(v) ? v : v.toFixed(1)}${unit}`, ok: strict ? v < limit : v <= limit };
}

function ratioCheck(label: string, ours: Measurement | undefined, skopeo: Measurement | undefined, limit: number): TargetCheck {
  if (!usable(ours) || !usable(skopeo)) return { label, value: skopeo ? 'n/a' : 'skopeo skipped', ok: undefined };
  const r = ours.wallMs / skopeo.wallMs;
  return { label, value: `${r.toFixed(2)}x`, ok: r <= limit };
}

const range = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i));

export const WORKLOADS: Workload[] = [
  {
    id: 'a',
    title: '20 images (10 repos x 2 tags), 3 x 16 MiB layers each, one base layer shared by all',
    seed: {
      repos: range(10, (i) => `bench/r${i}`),
      tags: ['t0', 't1'],
      uniqueLayers: 2,
      sharedBase: true,
      layerSize: 16 * MiB,
    },
    phases: ['cold', 'noop'],
    targets: (get) => [
      ratioCheck('(a) cold: ours wall <= 0.9x skopeo', get('ours', 'cold'), get('skopeo', 'cold'), 0.9),
      check('(a) cold: ours dst requests <= 250', get('ours', 'cold'), (m) => m.dstRequests, 250),
      check('(a) no-op: ours uploads nothing (dst POST/PUT/PATCH = 0)', get('ours', 'noop'), (m) => m.dstWrites, 0),
    ],
  },
  {
    id: 'b',
    title: 'one image with a single 1 GiB layer',
    seed: { repos: ['bench/big'], tags: ['v1'], uniqueLayers: 1, sharedBase: false, layerSize: GiB },
    phases: ['cold'],
    targets: (get) => [
      check('(b) cold: ours peak RSS growth < 64 MiB', get('ours', 'cold'), (m) => (rssGrowth(m) ?? Infinity) / MiB, 64, true, ' MiB'),
    ],
  },
];
