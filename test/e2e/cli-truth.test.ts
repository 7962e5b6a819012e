// The CLI tells the truth (issue 6 item 12), through the built CLI as a user runs it: EPIPE ends
// quietly, SIGTERM exits 143 without talking about Ctrl-C and counts never-tried work as "not
// started", each command has its own --help and refuses flags it does not take, replay needs only
// credentials, corrupt DLQ lines are reported. All traffic stays on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { CLI, runCli, writeAuthFile } from '../helpers/run-cli.js';
import { tempDir, writeFile, readLetters } from '../helpers/files.js';

const letters = readLetters;

/** A TCP listener that accepts and never answers: requests to it hang until aborted. */
async function blackHole(): Promise<{ host: string; connected: Promise<void>; close(): void }> {
  const sockets: Socket[] = [];
  let connected!: () => void;
  const seen = new Promise<void>((r) => (connected = r));
  const server: Server = createServer((s) => {
    sockets.push(s);
    connected();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { host: `127.0.0.1:${port}`, connected: seen, close: () => (sockets.forEach((s) => s.destroy()), server.close()) };
}

describe('CLI without registries', () => {
  const dir = tempDir();

  test('plan piped into a reader that leaves (head): no stack trace, exit 0', async () => {
    const tags = Array.from({ length: 4000 }, (_, i) => `"t${i}"`).join(', ');
    const config = writeFile(
      dir,
      'many.yaml',
      `version: 1\nrules:\n  - source: 127.0.0.1:9/app\n    tags: [${tags}]\n    destination: 127.0.0.1:9/mirror\n`,
    );
    const child = spawn(process.execPath, [CLI, 'plan', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Like `head -1`: read the first chunk, then close the pipe while the CLI is still writing.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
    assert.equal(stderr, '', 'EPIPE printed something');
    assert.equal(code, 0);
  });

  test('summaries go to stdout, diagnostics to stderr; --json keeps stdout pure JSON', async () => {
    const config = writeFile(dir, 'two.yaml', `version: 1\nrules:\n  - source: 127.0.0.1:9/app\n    tags: [a, b]\n    destination: 127.0.0.1:9/m\n`);
    const text = await runCli(['plan', '--config', config]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stderr, '');
    assert.match(text.stdout, /\nplan: 2 image\(s\)\n$/);
    const json = await runCli(['plan', '--config', config, '--json']);
    assert.equal(json.stdout.trim().split('\n').filter((l) => JSON.parse(l)).length, 2);
    assert.match(json.stderr, /^plan: 2 image\(s\)\n$/);
  });

  test('each command has its own --help with its own options, and exit codes', async () => {
    const copy = await runCli(['copy', '--help']);
    assert.equal(copy.code, 0);
    assert.match(copy.stdout, /^swr-migrate copy SRC DST/);
    assert.match(copy.stdout, /--timeout SECONDS/);
    assert.doesNotMatch(copy.stdout, /--arch|--config|--dlq/);
    const replay = await runCli(['replay', '-h']);
    assert.match(replay.stdout, /--dlq FILE/);
    assert.doesNotMatch(replay.stdout, /--os|--dry-run/);
    const plan = await runCli(['plan', '--help']);
    assert.match(plan.stdout, /--json/);
    assert.doesNotMatch(plan.stdout, /--report/);
    // plan reads the records of pushed tags beside --dlq, to show what prune would delete.
    assert.match(plan.stdout, /--dlq FILE/);
    const top = await runCli(['--help']);
    assert.match(top.stdout, /copy .*\n.*sync /);
    for (const out of [copy.stdout, top.stdout]) assert.match(out, /143 +terminated \(SIGTERM\)/);
  });

  test('a flag the command does not take is a usage error naming it', async () => {
    for (const [flag, value] of [['--arch', 'amd64'], ['--config', 'x.yaml'], ['--dlq', 'x']] as const) {
      const r = await runCli(['copy', 'a/b:c', 'd/e:f', flag, value]);
      assert.equal(r.code, 2, `${flag}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`copy: Unknown option '${flag}'.*swr-migrate copy --help`));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const plan = await runCli(['plan', '--config', 'x.yaml', '--dry-run']);
    assert.equal(plan.code, 2);
    assert.match(plan.stderr, /plan: Unknown option '--dry-run'/);
    const timeout = await runCli(['sync', '--config', 'x.yaml', '--timeout', '0']);
    assert.equal(timeout.code, 2);
    assert.match(timeout.stderr, /--timeout must be a whole number from 1 to 86400, got "0"/);
  });

  test('a rule whose DLQ write fails is printed on stderr, never lost', async () => {
    // A "registry" on 127.0.0.1 that knows no repository (404 NAME_UNKNOWN: a permanent failure).
    const server = createHttpServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known' }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
      const config = writeFile(
        dir,
        'gone.yaml',
        `version: 1\nregistries:\n  "${host}": { insecure: true }\nrules:\n  - source: ${host}/gone\n    destination: ${host}/mirror\n`,
      );
      const dlq = join(dir, 'unwritable', 'dlq.jsonl');
      // The DLQ passes the up-front check, but its lock cannot be taken: every DLQ write fails.
      mkdirSync(`${dlq}.lock`, { recursive: true });
      const r = await runCli(['sync', '--config', config, '--dlq', dlq]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /could not write to .*dlq\.jsonl \(cannot lock .*: EISDIR\); not saved: \{.*"kind":"expand-repository".*\/gone"/);
      assert.match(r.stdout, /1 message\(s\) could not be written to /);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    } finally {
      server.close();
    }
  });

  test('SIGTERM: exit 143, no "Ctrl-C"; never-tried images are "not started", not failed, and replayable', async () => {
    const hole = await blackHole();
    try {
      const config = writeFile(
        dir,
        'hang.yaml',
        `version: 1\nregistries:\n  "${hole.host}": { insecure: true }\nrules:\n  - source: ${hole.host}/app\n    tags: [a, b, c]\n    destination: ${hole.host}/mirror\n`,
      );
      const dlq = join(dir, 'term-dlq.jsonl');
      const report = join(dir, 'term-report.json');
      const child = spawn(process.execPath, [CLI, 'sync', '--config', config, '--proc', '1', '--dlq', dlq, '--report', report], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      await hole.connected; // a request hangs (the pull-budget probe, or the first image's HEAD) ...
      // ... and soon after the first image is in flight (received, waiting on it), two wait in the queue.
      await new Promise((r) => setTimeout(r, 1500));
      child.kill('SIGTERM');
      const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
      assert.equal(code, 143, stderr);
      assert.doesNotMatch(stderr + stdout, /Ctrl-C/);
      assert.match(stderr, /SIGTERM received/);
      assert.match(stdout, /3 image\(s\): 0 copied, 0 already present, 0 failed, 1 unfinished, 2 not started/);
      assert.deepEqual(letters(dlq).map((l) => l.reason.code).sort(), ['SWRM_INTERRUPTED', 'SWRM_NOT_STARTED', 'SWRM_NOT_STARTED']);
      const rep = JSON.parse(readFileSync(report, 'utf8')) as { summary: { notStarted: number; failed: number }; images: { status: string }[] };
      assert.equal(rep.summary.notStarted, 2);
      assert.equal(rep.summary.failed, 0);
      assert.deepEqual(rep.images.map((i) => i.status).sort(), ['not-started', 'not-started', 'unfinished']);
    } finally {
      hole.close();
    }
  });
});

describe('replay needs only credentials', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'basic' })]);
    dir = tempDir();
  });
  after(stopAll);

  const letter = (source: string, destination: string) =>
    `${JSON.stringify({
      id: `id-${Math.random()}`,
      body: JSON.stringify({ v: 1, kind: 'copy-image', source, destination }),
      receiveCount: 1,
      reason: { code: 'MANIFEST_UNKNOWN', message: 'was missing' },
      at: new Date().toISOString(),
    })}\n`;

  test('--auth alone, and --config without rules; corrupt DLQ lines are reported and kept', async () => {
    const a = await pushImage(src, 'rp/a', 'v1', { format: 'oci', layers: [randomLayer(20_000)] });
    const b = await pushImage(src, 'rp/b', 'v1', { format: 'oci', layers: [randomLayer(20_000)] });
    const dlq = join(dir, 'dlq.jsonl');
    appendFileSync(dlq, letter(`${src.host}/rp/a:v1`, `${dst.host}/mirror/a:v1`));
    appendFileSync(dlq, '{"id": "cut short by a cra\n');
    const auth = writeAuthFile([{ host: src.host }, { host: dst.host, username: dst.username!, password: dst.password! }]);
    const r = await runCli(['replay', '--auth', auth, '--dlq', dlq]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 message\(s\) .*: 1 recovered, 0 still in the DLQ, 1 corrupt line\(s\) skipped/);
    assert.match(r.stderr, /1 corrupt line\(s\) skipped and kept in the file/);
    assert.equal((await getManifest(dst, 'mirror/a', 'v1'))?.digest, a.digest);
    assert.match(readFileSync(dlq, 'utf8'), /cut short by a cra/, 'the corrupt line was deleted');

    appendFileSync(dlq, letter(`${src.host}/rp/b:v1`, `${dst.host}/mirror/b:v1`));
    const config = writeFile(
      dir,
      'creds.yaml',
      `version: 1\nregistries:\n  "${src.host}": { insecure: true }\n  "${dst.host}": { insecure: true, username: ${dst.username}, password: ${dst.password} }\n`,
    );
    const c = await runCli(['replay', '--config', config, '--dlq', dlq]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /1 recovered/);
    assert.equal((await getManifest(dst, 'mirror/b', 'v1'))?.digest, b.digest);
    // Without a config a sync still needs its rules.
    const sync = await runCli(['sync', '--config', config, '--dlq', dlq]);
    assert.equal(sync.code, 2);
    assert.match(sync.stderr, /rules: expected a non-empty list of rules/);
    const none = await runCli(['replay', '--dlq', dlq]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /replay needs the credentials: give --config FILE or --auth FILE/);
  });
});
