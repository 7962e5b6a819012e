// The CLI as installed (issue 15, item 8): `npm run build` bundles it into dist/cli/swr-migrate.mjs,
// package.json's `bin`, with per-command chunks beside it. Built here into a directory of its own by
// the same script, so the test checks the bundle of this source whatever dist/cli holds, and run as
// a user runs it: executed directly (shebang, mode), not through `node` or npx.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { pushImage, randomLayer } from '../helpers/push.js';
import { tempDir, writeFile } from '../helpers/files.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

/** Exit code, stdout and stderr of the bundle run directly as a program. */
async function bundle(entry: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(entry, args, { cwd: tempDir(), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Bytes of a chunk and of every chunk it imports statically (what loading it reads and compiles). */
function staticClosure(dir: string, file: string, seen = new Set<string>()): number {
  if (seen.has(file)) return 0;
  seen.add(file);
  const text = readFileSync(join(dir, file), 'utf8');
  let bytes = Buffer.byteLength(text);
  // Static imports only; `import("./chunks/...")` is a command's lazy load and not followed.
  for (const m of text.matchAll(/(?:^|[;}\s])import\s*(?:[^"'()]*?from\s*)?"(\.\/[^"]+)"/g)) {
    const target = join(file, '..', m[1]!);
    bytes += staticClosure(dir, target, seen);
  }
  return bytes;
}

describe('the bundled CLI', () => {
  let out: string;
  let entry: string;
  let src: RegistryHandle;
  let dst: RegistryHandle;

  before(async () => {
    out = tempDir();
    await run(process.execPath, [join(root, 'scripts', 'build-cli.mjs'), out], { cwd: root });
    entry = join(out, 'swr-migrate.mjs');
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    await pushImage(src, 'bundle/app', 'v1', { format: 'oci', layers: [randomLayer(30_000)] });
  });
  after(stopAll);

  test('package.json bin is the bundle that `npm run build` writes, and the build makes it', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    assert.equal(pkg.bin['swr-migrate'], 'dist/cli/swr-migrate.mjs');
    assert.match(pkg.scripts.build!, /node scripts\/build-cli\.mjs$/);
    assert.match(pkg.scripts.prepare!, /node scripts\/build-cli\.mjs$/, '`npm ci` leaves a runnable CLI');
    assert.ok(statSync(entry).mode & 0o111, 'the entry is executable');
    assert.match(readFileSync(entry, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });

  test('--version and --help answer from the bundle, loading only the small entry', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const v = await bundle(entry, ['--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `${pkg.version}\n`);
    const h = await bundle(entry, ['--help']);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /^swr-migrate: /);
    // The engine, the logger, zod, the AWS SDK and client-node are chunks of their own: start-up
    // reads tens of KB, not the 11 MB a bundle without chunks would parse on every run.
    const bytes = staticClosure(out, 'swr-migrate.mjs');
    assert.ok(bytes < 64 * 1024, `the entry and its static imports are ${bytes} bytes`);
    assert.ok(readdirSync(join(out, 'chunks')).some((f) => f.startsWith('images-from-cluster-command-')), 'client-node is a lazy chunk');
  });

  test('a bad flag is one line with its code, as from the tsc build', async () => {
    const r = await bundle(entry, ['sync', '--proc', 'many', '--images', '/nonexistent.yaml']);
    assert.equal(r.code, 2);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.match(r.stderr, /--proc must be a whole number/);
  });

  test('sync copies an image through the bundle, and the second run is a no-op', async () => {
    const dir = tempDir();
    const config = writeFile(dir, 'sync.yaml', {
      version: 1,
      registries: { [src.host]: { insecure: true }, [dst.host]: { insecure: true } },
      rules: [{ source: `${src.host}/bundle/app`, destination: `${dst.host}/mirror` }],
    });
    const dlq = join(dir, 'dlq.jsonl');
    const first = await bundle(entry, ['sync', '--config', config, '--dlq', dlq]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /1 image\(s\): 1 copied/);
    const again = await bundle(entry, ['sync', '--config', config, '--dlq', dlq]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /1 image\(s\): 0 copied, 1 already present/);
  });
});
