// The `events` workload of `npm run bench` (issue 16): how soon an image pushed to the source is at
// the destination. Ours: `serve` with a Harbor webhook per push (the time from the push's end to
// the image's manifest at the destination, polled every 20 ms). Side by side, what tools without
// events do at best when a run starts right after the push: our own one-shot `sync` of the
// repository, and `skopeo sync` of it (a scheduled peer waits for its schedule on top of this).
// Target: a push reaches the destination within 5 s of the event.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startRegistry } from '../test/helpers/registry.js';
import { getManifest, pushImage, randomLayer } from '../test/helpers/push.js';
import { runMeasured } from './child.js';
import { SKOPEO } from './commands.js';

const CLI = fileURLToPath(new URL('../cli/swr-migrate.mjs', import.meta.url));
const SECRET = 'bench-harbor-hook-secret-0123456789';
const EVENTS = 5;
const TARGET_MS = 5000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (ms: number) => (ms / 1000).toFixed(2);

async function until<T>(probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The report lines of the events workload; `skopeo`: its path when available. */
export async function benchEvents(tmp: string, skopeo: string | undefined): Promise<string[]> {
  const [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
  const port = await freePort();
  const config = join(tmp, 'events.yaml');
  writeFileSync(
    config,
    `version: 1\nevents: { harbor: { secret: "${SECRET}" }, windowSeconds: 0.2 }\nregistries:\n  "${src.host}": { insecure: true }\n  "${dst.host}": { insecure: true }\n` +
      `rules:\n  - source: ${src.host}/events/app\n    destination: ${dst.host}/serve\n`,
  );
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--listen', `127.0.0.1:${port}`, '--state-dir', join(tmp, 'events-state'), '--no-initial-sync', '--log-level', 'warn'], { stdio: 'ignore' });
  const out: string[] = [];
  try {
    await until(async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200 ? true : undefined), 30_000);
    const ours: number[] = [];
    const oneShot: number[] = [];
    const peer: number[] = [];
    for (let i = 1; i <= EVENTS; i++) {
      const tag = `e${i}`;
      await pushImage(src, 'events/app', tag, { format: 'docker', layers: [randomLayer(200_000), randomLayer(20_000)] });
      const pushed = performance.now();
      const hook = JSON.stringify({ type: 'PUSH_ARTIFACT', occur_at: 1, operator: 'bench', event_data: { resources: [{ tag, resource_url: `${src.host}/events/app:${tag}` }], repository: { repo_full_name: 'events/app' } } });
      const res = await fetch(`http://127.0.0.1:${port}/hooks/harbor`, { method: 'POST', body: hook, headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' } });
      if (res.status !== 202) throw new Error(`the webhook was answered ${res.status}`);
      // The rule maps by basename: events/app -> serve/app.
      await until(() => getManifest(dst, 'serve/app', tag), 30_000);
      ours.push(performance.now() - pushed);

      // A run started right after the push: our one-shot sync of the repository, into its own prefix.
      const syncConfig = join(tmp, 'events-sync.yaml');
      writeFileSync(syncConfig, `version: 1\nregistries:\n  "${src.host}": { insecure: true }\n  "${dst.host}": { insecure: true }\nrules:\n  - source: ${src.host}/events/app\n    destination: ${dst.host}/sync\n`);
      const r = await runMeasured(process.execPath, [CLI, 'sync', '--config', syncConfig, '--dlq', join(tmp, 'events-sync.jsonl')]);
      if (r.code !== 0) throw new Error(`sync exited ${r.code}: ${r.stderr}`);
      oneShot.push(r.wallMs);
      if (skopeo) {
        const p = await runMeasured(SKOPEO, ['sync', '--all', '--preserve-digests', '--src', 'docker', '--dest', 'docker', '--src-tls-verify=false', '--dest-tls-verify=false', `${src.host}/events/app`, `${dst.host}/skopeo`]);
        if (p.code !== 0) throw new Error(`skopeo exited ${p.code}: ${p.stderr}`);
        peer.push(p.wallMs);
      }
    }
    out.push(`(events) ${EVENTS} pushes of a 2-layer image to one repository, each followed by a Harbor webhook to serve (burst window 0.2 s)`);
    out.push(`  ours, serve + webhook: push -> image at the destination, median ${secs(median(ours))} s (max ${secs(Math.max(...ours))} s)`);
    out.push(`  ours, a one-shot sync of the repository started right after the push: median ${secs(median(oneShot))} s`);
    out.push(skopeo ? `  skopeo sync of the repository started right after the push: median ${secs(median(peer))} s (a scheduled peer adds its schedule's wait)` : '  skopeo: not installed, skipped');
    out.push(`  [${Math.max(...ours) <= TARGET_MS ? 'PASS' : 'FAIL'}] (events) push -> destination within ${TARGET_MS / 1000} s of the event: max ${secs(Math.max(...ours))} s`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
  return out;
}
