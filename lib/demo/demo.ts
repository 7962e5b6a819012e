// `swr-migrate demo`: the whole job on the embedded default, on one machine. It starts two local
// registries, seeds sample images into one, writes a config, and runs sync (cold), sync again (a
// no-op), and verify, printing what each did. Nothing outside a temporary directory is touched.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../cli/errors.js';
import { type CommandEnv, syncCommand, verifyCommand } from '../cli/pipeline-commands.js';
import { ClientPool } from '../registry/pool.js';
import { startLocalRegistry } from './local-registry.js';
import { seedDemo } from './seed.js';

export async function demoCommand(env: CommandEnv): Promise<number> {
  const out = (s: string) => env.stdout.write(`${s}\n`);
  const work = mkdtempSync(join(tmpdir(), 'swrm-demo-run-'));
  const registries = await Promise.all([startLocalRegistry(), startLocalRegistry()]);
  try {
    const [src, dst] = registries as [{ host: string }, { host: string }];
    out(`demo: source registry ${src.host}, destination registry ${dst.host}`);
    const pool = new ClientPool({ resolve: () => ({ insecure: true }) });
    const images = await seedDemo(pool.client(src.host, 'demo/web', 'destination'));
    await pool.close();
    out(`demo: seeded ${images} images (a shared base layer, one two-platform index)`);
    const config = join(work, 'sync.yaml');
    const yaml = `version: 1
defaults: { concurrency: 4, retries: 2 }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${src.host}/demo/web            # every tag
    destination: ${dst.host}/mirror
  - source: ${src.host}/demo/api            # tags filtered: no release candidates
    destination: ${dst.host}/mirror
    tags: { exclude: ["-rc"] }
  - source: ${src.host}/demo/multiarch:latest
    destination: ${dst.host}/mirror
`;
    writeFileSync(config, yaml);
    out(`demo: sync.yaml\n${yaml.replace(/^/gm, '  ')}`);
    const flags = { config, dlq: join(work, 'dlq.jsonl') };
    out('$ swr-migrate sync --config sync.yaml');
    const first = await syncCommand(flags, env);
    out('\n$ swr-migrate sync --config sync.yaml      # again: nothing to upload');
    const second = await syncCommand(flags, env);
    out('\n$ swr-migrate verify --config sync.yaml');
    const verified = await verifyCommand(flags, env);
    out('\ndemo: done. Next: write your own config (docs/config.md) and run swr-migrate sync --config FILE');
    return first || second || verified ? ExitCode.FAILED : ExitCode.OK;
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
    rmSync(work, { recursive: true, force: true });
  }
}
