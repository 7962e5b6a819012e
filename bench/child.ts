// Runs one tool as a child process and measures it from the outside, the same way for both tools:
// wall time from spawn to exit (process start-up included), and CPU time and peak RSS sampled from
// /proc/<pid> while it runs (Node offers no rusage for children; the last sample before exit is
// kept, so a figure can be short by one sampling period, ~20 ms of CPU).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { track } from '../test/helpers/cleanup.js';

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  /** user + system CPU of the child itself (not of the registries it talks to). */
  cpuMs: number;
  /** VmHWM of the child: its peak resident set, absolute. */
  peakRss: number;
  stdout: string;
  /** The tail only: skopeo logs a line per image, which is noise unless the run failed. */
  stderr: string;
}

const SAMPLE_MS = 20;
const TICKS_PER_S = 100; // USER_HZ: 100 on every Linux that Node supports

function sample(pid: number): { cpuMs: number; hwm: number } | undefined {
  try {
    // Fields after the `(comm)` field, which may itself contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = ((Number(rest[11]) + Number(rest[12])) * 1000) / TICKS_PER_S; // utime, stime
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuMs, hwm: m ? Number(m[1]) * 1024 : 0 };
  } catch {
    return undefined; // exited (or a zombie whose status is gone): keep the previous sample
  }
}

export function runMeasured(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let wallMs = 0;
    let cpuMs = 0;
    let peakRss = 0;
    let stdout = '';
    let stderr = '';
    const poll = (): void => {
      const s = child.pid === undefined ? undefined : sample(child.pid);
      if (!s) return;
      cpuMs = Math.max(cpuMs, s.cpuMs);
      peakRss = Math.max(peakRss, s.hwm);
    };
    const timer = setInterval(poll, SAMPLE_MS);
    // If the bench is interrupted, the harness's exit/signal handlers stop the registries; the
    // tool must go too, not be left retrying against dead ports.
    const untrack = track({ stopSync: () => void child.kill('SIGKILL') });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8192)));
    child.once('error', (err) => {
      clearInterval(timer);
      untrack();
      reject(err);
    });
    // 'exit' is the moment the process ended; 'close' comes once its pipes are drained too.
    child.once('exit', () => {
      wallMs = performance.now() - started;
      clearInterval(timer);
      untrack();
    });
    child.once('close', (code, signal) => resolve({ code, signal, wallMs, cpuMs, peakRss, stdout, stderr }));
  });
}

/** Whether an executable answers at all (skopeo may be absent on a developer's machine). */
export async function available(command: string, args: string[]): Promise<string | undefined> {
  try {
    const r = await runMeasured(command, args);
    return r.code === 0 ? r.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}
