// `node dist/bench/sqs-sync.js [--repeat N] [--proc N]`: the issue 7 target "`sync --queue-url` on
// workload (a) takes no more than 1.3x the embedded `sync` in the same run". Seeds workload (a)
// once, then, alternating, runs the real CLI cold into a fresh destination registry: the embedded
// `sync --config` (as `npm run bench` does) and `sync --config --queue-url` on a fresh queue pair in
// local-aws-sqs (127.0.0.1). Wall times include process start-up; every run must copy all 20.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRegistry, stopAll } from '../test/helpers/registry.js';
import { startSqsServer } from '../test/helpers/sqs-server.js';
import { syncCommand } from './commands.js';
import { seedImageSet } from './seed.js';
import { WORKLOADS } from './workloads.js';

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; ms: number; stderr: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, ms: performance.now() - started, stderr }));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { repeat: { type: 'string', default: '3' }, proc: { type: 'string' } } });
  const repeat = Number(values.repeat);
  const wl = WORKLOADS.find((w) => w.id === 'a')!;
  const tmp = mkdtempSync(join(tmpdir(), 'swrm-bench-sqs-'));
  const sqs = await startSqsServer();
  try {
    const src = await startRegistry();
    const seeded = await seedImageSet(src, wl.seed);
    const times: Record<'embedded' | 'sqs', number[]> = { embedded: [], sqs: [] };
    for (let i = 0; i < repeat; i++) {
      // Alternating order, so neither variant always runs on a warmer machine.
      for (const variant of i % 2 ? (['sqs', 'embedded'] as const) : (['embedded', 'sqs'] as const)) {
        const dst = await startRegistry();
        const ctx = { workload: `a${i}${variant}`, srcHost: src.host, dstHost: dst.host, prefix: 'mirror', images: seeded.images, tmp, ours: wl.ours, proc: Number(values.proc ?? wl.proc ?? 16) };
        const cmd = syncCommand(ctx, 'cold');
        const args = [...cmd.args];
        if (variant === 'sqs') args.push('--queue-url', (await sqs.createQueuePair(`bench-${i}`)).queueUrl);
        const env = { ...process.env, AWS_ENDPOINT_URL_SQS: sqs.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
        const r = await run(cmd.command, args, env);
        const summary = (JSON.parse(readFileSync(cmd.report!, 'utf8')) as { summary: { copied: number } }).summary;
        await dst.stop();
        if (r.code !== 0 || summary.copied !== seeded.images.length) {
          console.error(`${variant} run ${i} failed (exit ${r.code}, ${summary.copied} copied):\n${r.stderr}`);
          return 1;
        }
        times[variant].push(r.ms);
        console.log(`(a) cold ${variant.padEnd(8)} run ${i + 1}: ${(r.ms / 1000).toFixed(2)} s`);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(times.sqs) / median(times.embedded);
    console.log(`median: embedded ${(median(times.embedded) / 1000).toFixed(2)} s, --queue-url ${(median(times.sqs) / 1000).toFixed(2)} s: ratio ${ratio.toFixed(2)} (target <= 1.30) ${ratio <= 1.3 ? 'met' : 'MISSED'}`);
    return 0;
  } finally {
    await sqs.stop();
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  (code) => (process.exitCode = code),
  async (err: unknown) => {
    console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
    await stopAll();
    process.exitCode = 1;
  },
);
