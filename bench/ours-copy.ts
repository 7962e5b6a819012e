// The "ours" side of the benchmark, run as a child process so that its wall time includes Node's
// start-up and module loading exactly as skopeo's includes its own, and so that its memory is
// measured alone (the parent holds the registries' access logs and the seeder's buffers).
//
// argv[2] is JSON (see OursJob); prints one JSON line (OursReport) on stdout, exit 0 when every
// copy succeeded. Nothing else is written to stdout, so the parent can parse the last line.
import { readFileSync } from 'node:fs';
import { copyImage } from '../lib/copy/copy-image.js';
import { addCounters, createCopyContext, emptyCounters } from '../lib/copy/context.js';
import { enableStreamGc } from '../lib/copy/memory.js';
import { mapLimit } from '../lib/copy/limiter.js';
import { parseReference, parseRepositoryReference } from '../lib/oci/reference.js';
import { ClientPool } from '../lib/registry/pool.js';
import { Agent } from '../lib/registry/http/undici-agent.js';
import type { RegistryStats } from '../lib/registry/types.js';

export interface OursJob {
  /** [source ref, destination ref] pairs, both with a tag. */
  pairs: [string, string][];
  /** Images copied at once; default all of them (the context still bounds blob transfers). */
  concurrency?: number;
  /** Blob transfers at once across the run; default the library's (8). */
  transfers?: number;
  /**
   * Connections per origin in the bench's own undici Agent (0: no cap); default: the pool's own
   * Agent, with whatever cap the library chose.
   */
  connections?: number;
  /** Registries to reach over plain HTTP (the loopback registries of the bench). */
  insecure: string[];
}

export interface OursReport {
  ok: number;
  failed: number;
  skipped: number;
  errors: string[];
  /** ms from process start to the end of the imports: Node's boot plus loading the library. */
  startupMs: number;
  baselineRss: number;
  peakRss: number;
  /** process.memoryUsage() at the sample with the highest RSS: what the peak was made of. */
  atPeak: NodeJS.MemoryUsage;
  vmHwm: number;
  bytesUploaded: number;
  blobsUploaded: number;
  blobsMounted: number;
  blobsPresent: number;
  manifestsPut: number;
  requests: Record<string, RegistryStats>;
  /** From the first statement after the imports to the last copy settled. */
  copyMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
}

// The CLI entry turns on the streaming scavenges (copy/memory.ts); so does this one, to measure the same engine.
enableStreamGc();
// Imports are evaluated before this line, so this is the idle process: Node + the library loaded.
const startupMs = performance.now();
let atPeak = process.memoryUsage();
const baselineRss = atPeak.rss;
// 20 ms is well below the time one 16 MiB layer takes, so a buffering bug cannot hide between samples.
// rss() alone is cheap; the full breakdown (heap statistics) is only taken at a new peak.
const sampler = setInterval(() => {
  if (process.memoryUsage.rss() > atPeak.rss) atPeak = process.memoryUsage();
}, 20);

/** The kernel's own high-water mark: catches a peak that fell between two samples. */
function vmHwm(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function main(): Promise<number> {
  const job = JSON.parse(process.argv[2] ?? '') as OursJob;
  const started = performance.now();
  const insecure = new Set(job.insecure);
  // Same timeouts as the pool's default Agent; only the per-origin cap differs.
  const dispatcher = job.connections === undefined ? undefined : new Agent({
    ...(job.connections > 0 ? { connections: job.connections } : {}),
    keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, connectTimeout: 15_000, headersTimeout: 120_000, bodyTimeout: 120_000,
  });
  const pool = new ClientPool({ resolve: (registry) => ({ insecure: insecure.has(registry) }), dispatcher });
  const ctx = createCopyContext(job.transfers ? { transfers: job.transfers } : {});
  const totals = emptyCounters();
  let ok = 0;
  let skipped = 0;
  const errors: string[] = [];
  try {
    // Each copy catches its own failure, so one bad image neither aborts the others nor hides them.
    await mapLimit(job.pairs, job.concurrency ?? job.pairs.length, async ([from, to]) => {
      const s = parseReference(from);
      const d = parseRepositoryReference(to);
      try {
        const r = await copyImage(
          ctx,
          { client: pool.client(s.registry, s.repository, 'source'), ref: s },
          { client: pool.client(d.registry, d.repository, 'destination'), ref: d },
        );
        addCounters(totals, r.counters);
        ok++;
        if (r.status === 'skipped') skipped++;
      } catch (err) {
        errors.push(`${from}: ${(err as Error).message}`);
      }
    });
  } finally {
    await pool.close();
    await dispatcher?.close();
  }
  const copyMs = performance.now() - started;
  clearInterval(sampler);
  const rss = process.memoryUsage.rss();
  const cpu = process.cpuUsage();
  const report: OursReport = {
    ok,
    failed: errors.length,
    skipped,
    errors: errors.slice(0, 5),
    startupMs,
    baselineRss,
    peakRss: Math.max(atPeak.rss, rss),
    atPeak,
    vmHwm: vmHwm(),
    ...totals,
    requests: pool.stats(),
    copyMs,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return errors.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    clearInterval(sampler);
    process.stderr.write(`ours-copy: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 2;
  },
);
