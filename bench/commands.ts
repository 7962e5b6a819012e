// How each tool is invoked for one run (workload x tool x phase), and how its own account of the
// run is read back. Every tool gets the same work: all tags of every seeded repository, copied to
// DST/<prefix>/<basename>:<tag> (the only layout skopeo sync can produce from a host:port source).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { OursJob } from './ours-copy.js';
import { destinationRef } from './seed.js';
import type { Phase, RunContext, SyncSummary, Tool } from './workloads.js';

export interface ToolCommand {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** engine: the last stdout line is an OursReport; sync: `report` is the CLI's --report file. */
  output: 'engine' | 'sync' | 'none';
  report?: string;
  /**
   * The tool converts OCI manifests to Docker types (SWR Basic, or --format docker): the digests
   * differ from the source's by design, so "verified" means converted (measure.ts).
   */
  converts?: boolean;
}

const OURS_COPY = fileURLToPath(new URL('./ours-copy.js', import.meta.url));
// The bundle users run (package.json bin; `npm run bench` builds it), not tsc's module tree.
const CLI = fileURLToPath(new URL('../cli/swr-migrate.mjs', import.meta.url));

/** BENCH_SKOPEO: another skopeo build to compare with (or a missing path, to test the skip). */
export const SKOPEO = process.env.BENCH_SKOPEO ?? 'skopeo';
/** The skopeo invocation; `{yaml}` and `{dst}` are filled in per run. */
export const SKOPEO_ARGS = [
  'sync', '--all', '--preserve-digests', '--src', 'yaml', '--dest', 'docker',
  '--src-tls-verify=false', '--dest-tls-verify=false', '{yaml}', '{dst}/{prefix}',
];

/** BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile ours in place. */
const nodeArgs = (): string[] => (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

export const repositories = (run: RunContext): string[] => [...new Set(run.images.map((i) => i.repository))];

export function toolCommand(tool: Tool, run: RunContext, phase: Phase): ToolCommand {
  if (tool === 'skopeo') return skopeoCommand(run);
  // ours-swr: the same sync, told the destination is SWR Basic (which makes it convert to Docker types).
  // The push budget's default rate (20 requests/s, SWR's documented tenant limit) would pace both
  // SWR runs to ~90 s here (1,771 upload POSTs and PUTs) and hide the conversion's cost: lift it.
  if (tool === 'ours-swr') return { ...syncCommand(run, phase, tool, { type: 'swr', pushRate: 10_000 }), converts: true };
  // ours-swr-ee: the same stand-in accepting OCI, told it is SWR EE: no conversion, the same hop.
  if (tool === 'ours-swr-ee') return syncCommand(run, phase, tool, { type: 'swr', edition: 'enterprise', pushRate: 10_000 });
  // ours-docker: converted as well, into a plain registry: the conversion's cost without the stand-in's hop.
  if (tool === 'ours-docker') return { ...syncCommand(run, phase, tool, {}, ['--format', 'docker']), converts: true };
  return tool === 'ours' && run.ours === 'sync' ? syncCommand(run, phase, tool) : engineCommand(run);
}

/** The engine driver (ours-copy.js): every image at once through copyImage, no planner or queue. */
export function engineCommand(run: RunContext, extra: Partial<OursJob> = {}): ToolCommand {
  const job: OursJob = {
    pairs: run.images.map((img) => [`${run.srcHost}/${img.repository}:${img.tag}`, destinationRef(run.dstHost, run.prefix, img)]),
    insecure: [run.srcHost, run.dstHost],
    ...extra,
  };
  return { command: process.execPath, args: [...nodeArgs(), OURS_COPY, JSON.stringify(job)], output: 'engine' };
}

/**
 * What users run: `swr-migrate sync --config` with a native config of one rule per repository and
 * no tags (= all tags: one tag-list request per repository), --proc copiers, a fresh DLQ per run.
 * The state directory (the DLQ's, which also holds the digest memo) is one per workload and tool,
 * kept across its phases as a user's is across re-runs: the converted no-op relies on the memo.
 */
export function syncCommand(run: RunContext, phase: Phase, tool: Tool = 'ours', dstEntry: Record<string, unknown> = {}, extra: string[] = []): ToolCommand {
  const config = {
    version: 1,
    defaults: { concurrency: 16, retries: 2 },
    registries: { [run.srcHost]: { insecure: true }, [run.dstHost]: { ...dstEntry, insecure: true } },
    rules: repositories(run).map((repo) => ({ source: `${run.srcHost}/${repo}`, destination: `${run.dstHost}/${run.prefix}` })),
  };
  const state = join(run.tmp, `${run.workload}-${tool}`);
  mkdirSync(state, { recursive: true });
  const base = join(state, `sync-${phase}`);
  writeFileSync(`${base}.yaml`, stringify(config));
  const report = `${base}.report.json`;
  const args = [...nodeArgs(), CLI, 'sync', '--config', `${base}.yaml`, '--proc', String(run.proc), '--dlq', `${base}.dlq.jsonl`, '--report', report, ...extra];
  // BENCH_OURS_ARGS: more CLI flags, e.g. "--log-level debug" (stderr keeps only its tail).
  args.push(...(process.env.BENCH_OURS_ARGS ?? '').split(' ').filter(Boolean));
  return { command: process.execPath, args, output: 'sync', report };
}

export function skopeoCommand(run: RunContext): ToolCommand {
  // The YAML source: every repository with all its tags. The file's per-registry `tls-verify:
  // false` is how skopeo-sync(1) documents plain HTTP for a yaml source; --src-tls-verify=false
  // (accepted with --src yaml on 1.9.3) says the same, for symmetry with the destination.
  const images: Record<string, string[]> = {};
  for (const img of run.images) (images[img.repository] ??= []).push(img.tag);
  const file = join(run.tmp, `skopeo-${run.workload}.yaml`);
  writeFileSync(file, stringify({ [run.srcHost]: { 'tls-verify': false, images } }));
  const args = SKOPEO_ARGS.map((a) => a.replace('{yaml}', file).replace('{dst}', run.dstHost).replace('{prefix}', run.prefix));
  // A non-root skopeo keeps its blob-info cache under XDG_DATA_HOME: give it a throw-away one.
  return { command: SKOPEO, args, env: { ...process.env, XDG_DATA_HOME: join(run.tmp, 'xdg') }, output: 'none' };
}

interface ReportFile {
  summary: { images: number; copied: number; skipped: number; failed: number; bytes: number; durationMs: number };
  images: { source: string; destination: string; status: string; durationMs: number; digest?: string; error?: { message: string } }[];
}

/** destination ref -> the manifest digest the CLI's --report says it stored there (converted, when it converted). */
export function reportDigests(file: string): Map<string, string> {
  const r = JSON.parse(readFileSync(file, 'utf8')) as ReportFile;
  return new Map(r.images.flatMap((i) => (i.digest ? [[i.destination, i.digest] as [string, string]] : [])));
}

/** The CLI's --report file, boiled down; undefined when it was not written (the run crashed). */
export function readSyncReport(file: string): SyncSummary | undefined {
  let r: ReportFile;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as ReportFile;
  } catch {
    return undefined;
  }
  const times = r.images.filter((i) => i.status === 'copied' || i.status === 'skipped').map((i) => i.durationMs).sort((a, b) => a - b);
  const { images, copied, skipped, failed, bytes, durationMs } = r.summary;
  return {
    images, copied, skipped, failed, bytes, durationMs,
    imageP50Ms: times[Math.floor(times.length / 2)] ?? 0,
    imageMaxMs: times.at(-1) ?? 0,
    errors: r.images.filter((i) => i.error).slice(0, 5).map((i) => `${i.source}: ${i.error!.message}`),
  };
}
