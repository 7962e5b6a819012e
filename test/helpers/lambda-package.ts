// The Lambda packaging under test (issue 7, items 5 and 6): runs `npm run package` once, with no
// AWS credentials (and with no network at all when user namespaces allow `unshare -rn`), reads the
// CloudFormation template it wrote, and runs a packaged handler in a fresh Node process the way
// the nodejs22.x runtime does: the unzipped artifact is the working directory and the handler
// module is imported from the path the template names.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { withFileLock } from '../../lib/queue/file-lock.js';
import { CHILD_RECORDER_JS } from './iam-recorder.js';

const run = promisify(execFile);

/**
 * Two packagings of this directory at once would share .serverless/ and .esbuild/ (osls empties the
 * one, serverless-esbuild removes the other): test files that package take turns through this lock.
 */
export function packagingTurn<T>(op: () => Promise<T>): Promise<T> {
  return withFileLock(join(projectRoot, 'dist', 'packaging'), op, { waitMs: 600_000, staleMs: 600_000 });
}

/** The project directory (dist/test/helpers -> ../../..). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');


export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Packaged {
  dir: string;
  template: Json;
  offline: 'no network (unshare -rn)' | 'no credentials only';
  ms: number;
  /** What packaging printed (its notes, e.g. ECR sources in another account, are on stderr). */
  stdout: string;
  stderr: string;
}

/** An environment with no AWS credentials or profile of any kind, and a dummy region. */
export function credentialFreeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  return { ...env, AWS_REGION: 'us-east-1', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', ...extra };
}

async function unshareWorks(): Promise<boolean> {
  try {
    await run('unshare', ['-rn', 'true']);
    return true;
  } catch {
    return false;
  }
}

/**
 * `npm run package -- --package OUT --param=...` in the project, offline. One packaging at a time
 * across test processes: serverless-esbuild builds in the project's `.esbuild/`, which two
 * packagings at once would overwrite under each other.
 */
export async function packageService(out: string, params: Record<string, string>): Promise<Packaged> {
  mkdirSync(join(projectRoot, 'dist'), { recursive: true });
  return withFileLock(join(projectRoot, 'dist', 'package'), () => packageNow(out, params), { waitMs: 300_000, staleMs: 300_000 });
}

async function packageNow(out: string, params: Record<string, string>): Promise<Packaged> {
  mkdirSync(out, { recursive: true });
  const args = ['run', '--silent', 'package', '--', '--package', out, ...Object.entries(params).map(([k, v]) => `--param=${k}=${v}`)];
  const isolated = await unshareWorks();
  const [cmd, argv] = isolated ? ['unshare', ['-rn', 'npm', ...args]] : ['npm', args];
  const t0 = performance.now();
  const { stdout, stderr } = await packagingTurn(() => run(cmd, argv, { cwd: projectRoot, env: credentialFreeEnv(), timeout: 120_000, maxBuffer: 1 << 24 }));
  const ms = performance.now() - t0;
  const template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as Json;
  return { dir: out, template, offline: isolated ? 'no network (unshare -rn)' : 'no credentials only', ms, stdout, stderr };
}

export function resourcesOf(template: Json, type: string): [string, Json][] {
  return Object.entries(template.Resources as Json).filter(([, r]) => r.Type === type) as [string, Json][];
}

/** The Lambda function whose handler ends in `<name>.handler`. */
export function lambdaFunction(template: Json, name: string): [string, Json] {
  const found = resourcesOf(template, 'AWS::Lambda::Function').find(([, r]) => String(r.Properties.Handler).endsWith(`${name}.handler`));
  if (!found) throw new Error(`no ${name} function in the template`);
  return found;
}

/** The logical id a `{Ref}` or `{Fn::GetAtt}` points at, or undefined. */
export function target(v: unknown): string | undefined {
  if (v && typeof v === 'object') {
    const o = v as Json;
    if (typeof o.Ref === 'string') return o.Ref;
    if (Array.isArray(o['Fn::GetAtt'])) return o['Fn::GetAtt'][0];
  }
  return undefined;
}

export interface BundleRun {
  importMs: number;
  /** User + system CPU time of the import. */
  importCpuMs: number;
  result: unknown;
  stdout: string;
  stderr: string;
}

// Runs in the child: import the handler as the runtime would, time the import (the cold start's
// module part), invoke it once, print the result after a marker.
const RUNNER = `
const [file, event] = [process.argv[1], JSON.parse(process.argv[2])];
const [t0, c0] = [performance.now(), process.cpuUsage()];
const mod = await import(file);
const importMs = performance.now() - t0;
const cpu = process.cpuUsage(c0);
// CPU time too: on a shared machine the wall time also counts other processes' turns.
const importCpuMs = (cpu.user + cpu.system) / 1000;
if (event === null) {
  process.stdout.write('\\n@@RESULT ' + JSON.stringify({ importMs, importCpuMs, result: null }) + '\\n');
  process.exit(0);
}
const context = { awsRequestId: 'req-1', functionName: 'copier', callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60000 };
const result = await mod.handler(event, context);
process.stdout.write('\\n@@RESULT ' + JSON.stringify({ importMs, importCpuMs, result }) + '\\n');
process.exit(0);
`;

export interface BundleRunOptions {
  /** Record the AWS calls the handler makes (iam-recorder.ts CHILD_RECORDER_JS): IamRecorder.addChildOutput(fn, stdout). */
  recordAwsCalls?: boolean;
}

/** Invoke `<dir>/<module>.mjs`'s handler with `event` in a fresh `node`, cwd = dir (null: only import it). */
export async function runBundle(dir: string, handler: string, event: unknown, env: NodeJS.ProcessEnv, opts: BundleRunOptions = {}): Promise<BundleRun> {
  const file = join(dir, `${handler.slice(0, handler.lastIndexOf('.'))}.mjs`);
  const script = opts.recordAwsCalls ? CHILD_RECORDER_JS + RUNNER : RUNNER;
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script, file, JSON.stringify(event)], {
    cwd: dir,
    env,
    timeout: 60_000,
    maxBuffer: 1 << 24,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('@@RESULT '));
  if (!line) throw new Error(`the handler printed no result\nstdout: ${stdout}\nstderr: ${stderr}`);
  const { importMs, importCpuMs, result } = JSON.parse(line.slice('@@RESULT '.length)) as { importMs: number; importCpuMs: number; result: unknown };
  return { importMs, importCpuMs, result, stdout, stderr };
}
