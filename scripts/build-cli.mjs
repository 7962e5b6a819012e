// The CLI as users run it (issue 15, item 8): one bundled entry file, dist/cli/swr-migrate.mjs (the
// package's `bin`), with what only some commands need in chunks beside it, loaded by the dynamic
// imports of lib/cli/main.ts. Start-up then reads one file for `--help` instead of resolving and
// compiling a few hundred modules, and the AWS SDK (queue commands) and @kubernetes/client-node
// (images-from-cluster, 5 MB) are parsed only by the commands that use them.
//
// The same esbuild settings as the Lambda bundles (serverless.yml custom.esbuild), plugins included:
// the undici Agent is loaded without undici's index.js (scripts/esbuild-plugins.cjs).
//
// Usage: node scripts/build-cli.mjs [OUTDIR]   (default dist/cli; tests build into a directory of their own)
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(process.argv[2] ?? join(root, 'dist', 'cli'));
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// Chunk names carry a hash: clear the old ones, or every build would leave its own behind.
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { 'swr-migrate': 'lib/cli/main.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The AWS SDK's ES module builds (dist-es): esbuild can drop what the CLI never calls.
  mainFields: ['module', 'main'],
  minify: true,
  keepNames: true,
  // `swr-migrate --version` without reading package.json (which is not beside the bundle).
  define: { SWRM_BUILD_VERSION: JSON.stringify(version) },
  plugins: require('./esbuild-plugins.cjs'),
  // Bundled CJS modules (undici, pino) call require() for Node built-ins; ESM has none. The entry
  // point's `#!/usr/bin/env node` stays its first line (esbuild puts a hashbang before the banner).
  banner: { js: "import { createRequire as __swrmCreateRequire } from 'node:module'; const require = __swrmCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
chmodSync(join(outdir, 'swr-migrate.mjs'), 0o755);
