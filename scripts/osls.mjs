// `npm run package` / `npm run deploy`: osls with a temporary directory of its own, removed when it
// exits, whatever the outcome (issue 14, item 5).
//
// serverless-esbuild 1.57 zips each function through a copy in os.tmpdir() (`copier-<pid>-<time>-<hex>`,
// about 9 MB each with the source maps) and never removes it: its scoped release calls remove()
// without `recursive` on a directory that is not empty and swallows the error. So every packaging
// left ~27 MB behind. Here TMPDIR points osls (and all it runs) at a fresh directory, deleted
// afterwards; the system's temporary directory is left as it was found.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const bin = join(dirname(require.resolve('osls/package.json')), require('osls/package.json').bin.osls);
const tmp = mkdtempSync(join(tmpdir(), 'swr-migrate-osls-'));
const cleanup = () => rmSync(tmp, { recursive: true, force: true });

const child = spawn(process.execPath, [bin, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, TMPDIR: tmp } });
// Ctrl-C reaches osls from the terminal as well; a supervisor's SIGTERM only reaches this process.
// Either way osls is let finish its own cleanup, then the directory goes.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('error', (err) => {
  cleanup();
  process.stderr.write(`cannot run osls: ${err.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  cleanup();
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
