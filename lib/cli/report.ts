// The `--report FILE` JSON and the end-of-run summary. The report is written to a temporary file
// and renamed into place, so an interrupted run never leaves a half-written report.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ImageOutcome } from '../pipeline/copier.js';
import type { PipelineRun } from '../pipeline/sync.js';
import { formatBytes, formatDuration } from './format.js';

export interface Summary {
  images: number;
  copied: number;
  skipped: number;
  failed: number;
  bytes: number;
  durationMs: number;
  interrupted: boolean;
  leftOver: number;
}

export function summarise(run: PipelineRun, durationMs: number): Summary {
  const images = run.outcomes.filter((o) => o.kind !== 'expand-repository' || o.status === 'failed');
  return {
    images: images.length,
    copied: images.filter((o) => o.status === 'copied').length,
    skipped: images.filter((o) => o.status === 'skipped').length,
    failed: images.filter((o) => o.status === 'failed').length,
    bytes: run.outcomes.reduce((n, o) => n + o.bytes, 0),
    durationMs,
    interrupted: run.interrupted,
    leftOver: run.leftOver,
  };
}

export function summaryLine(s: Summary, dlqPath: string): string {
  let line =
    `${s.images} image(s): ${s.copied} copied, ${s.skipped} already present, ${s.failed} failed; ` +
    `${formatBytes(s.bytes)} moved in ${formatDuration(s.durationMs)}`;
  if (s.interrupted) line += `\ninterrupted: ${s.leftOver} unfinished image(s) kept in ${dlqPath} for 'swr-migrate replay'`;
  if (s.failed > 0) line += `\nfailed images are in ${dlqPath}; fix the cause, then run 'swr-migrate replay'`;
  return line;
}

export interface ReportEntry {
  source: string;
  destination: string;
  digest?: string;
  sourceDigest?: string;
  conversion?: string;
  status: ImageOutcome['status'];
  bytes: number;
  durationMs: number;
  attempts: number;
  error?: { code: string; message: string };
}

export async function writeReport(file: string, summary: Summary, outcomes: ImageOutcome[], startedAt: Date): Promise<void> {
  const images: ReportEntry[] = outcomes.map((o) => ({
    source: o.source,
    destination: o.destination,
    ...(o.digest ? { digest: o.digest } : {}),
    ...(o.conversion ? { sourceDigest: o.sourceDigest, conversion: o.conversion } : {}),
    status: o.status,
    bytes: o.bytes,
    durationMs: Math.round(o.durationMs),
    attempts: o.attempt,
    ...(o.error ? { error: o.error } : {}),
  }));
  const body = JSON.stringify({ version: 1, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), summary, images }, null, 2);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${body}\n`);
  await rename(tmp, file);
}
