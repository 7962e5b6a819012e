// A throw-away CNCF distribution registry (Debian's `docker-registry`) on a free loopback port, for
// the demo. Storage lives in a temporary directory that is removed on stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MigrateError, UsageError } from '../errors.js';

export interface LocalRegistry {
  host: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export async function startLocalRegistry(): Promise<LocalRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'swrm-demo-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: {level: error, accesslog: {disabled: true}}',
      `storage: {filesystem: {rootdirectory: ${join(dir, 'data')}}, delete: {enabled: true}}`,
      `http: {addr: 127.0.0.1:${port}, secret: demo-${port}}`,
      '',
    ].join('\n'),
  );
  let child: ChildProcess;
  try {
    child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    throw new UsageError('the demo needs the docker-registry program (Debian: apt-get install -y docker-registry)');
  }
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new UsageError('the demo needs the docker-registry program (Debian: apt-get install -y docker-registry)')
          : err,
      ),
    );
    child.once('exit', (code) => reject(new MigrateError('SWRM_REGISTRY', `docker-registry exited with ${code}: ${stderr.trim()}`)));
  });
  failed.catch(() => undefined);
  const stop = async () => {
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(2000)]);
    rmSync(dir, { recursive: true, force: true });
  };
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = await Promise.race([
      fetch(`http://${host}/v2/`).then(
        (r) => r.ok,
        () => false,
      ),
      failed,
    ]).catch(async (err: unknown) => {
      await stop();
      throw err;
    });
    if (ok) return { host, stop };
    await sleep(50);
  }
  await stop();
  throw new MigrateError('SWRM_REGISTRY', `docker-registry did not start on ${host}`);
}
