// Runs the built CLI as a user would (a child process), and writes image-syncer auth files for it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './cleanup.js';

export const CLI = fileURLToPath(new URL('../../lib/cli/main.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface AuthTarget {
  host: string;
  username?: string;
  password?: string;
}

/** An image-syncer auth file marking every given registry insecure (plain HTTP on loopback). */
export function writeAuthFile(targets: AuthTarget[], ext: 'json' | 'yaml' = 'json'): string {
  const dir = mkdtempSync(join(tmpdir(), 'swrm-auth-'));
  track({ stopSync: () => rmSync(dir, { recursive: true, force: true }) });
  const file = join(dir, `auth.${ext}`);
  const body: Record<string, { username?: string; password?: string; insecure: boolean }> = {};
  for (const t of targets) body[t.host] = { username: t.username, password: t.password, insecure: true };
  if (ext === 'json') writeFileSync(file, JSON.stringify(body, null, 2));
  else
    writeFileSync(
      file,
      Object.entries(body)
        .map(([h, e]) => `"${h}":\n  insecure: true\n${e.username ? `  username: ${e.username}\n  password: ${e.password}\n` : ''}`)
        .join(''),
    );
  return file;
}
