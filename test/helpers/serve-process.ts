// `swr-migrate serve` as a child process of the built CLI, and what its tests read from it: the
// output, /healthz, /metrics parsed as Prometheus text (a parser, not a regex).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { CLI } from './run-cli.js';

export interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}
// A CommonJS package without types: loaded as one.
export const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Running {
  child: ChildProcess;
  exited: Promise<number>;
  out: () => string;
}

/** Every child started, so a suite's `after` can kill what a failed test left running. */
export const serveChildren: ChildProcess[] = [];

export function startServe(args: string[]): Running {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  serveChildren.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { child, exited, out: () => out };
}

export function killServes(): void {
  for (const c of serveChildren) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/** Polls `probe` every 100 ms until it gives a value (a rejection counts as not yet). */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export async function httpGet(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
}

/** The sum of a metric's samples whose labels include `labels`. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const family = parsePrometheus(text).find((f) => f.name === name);
  assert.ok(family, `${name} is exported`);
  return family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).reduce((n, m) => n + Number(m.value), 0);
}
