// One rule whose listing fails stops no other rule (issue 13, item 6): a namespace rule over a
// registry that cannot list goes to the DLQ as its expand letter (counted in the summary and the
// report) while the healthy rules are copied; `replay` lists it again once the registry is back;
// Ctrl-C while it is being listed exits 130 with the rule saved as "not started".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { CLI, runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile, readLetters } from '../helpers/files.js';

const letters = readLetters;

describe('a rule whose listing fails', () => {
  let healthy: RegistryHandle;
  let flaky: RegistryHandle;
  let dst: RegistryHandle;
  let proxy: ProxyHandle;
  const dir = tempDir();
  before(async () => {
    [healthy, flaky, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    await pushImage(healthy, 'ok/app', 'v1', { format: 'docker', layers: [randomLayer(1_000)] });
    for (const repo of ['team/a', 'team/b']) await pushImage(flaky, repo, 'v1', { format: 'docker', layers: [randomLayer(1_000)] });
    // The catalog of the flaky registry refuses until the test lets it through.
    proxy = await startProxy(flaky, { always503: /^GET \/v2\/_catalog/ });
  });
  after(async () => {
    await proxy.stop();
    await stopAll();
  });

  test('goes to the DLQ as its expand letter, is counted, and the other rules run; replay lists it again', async () => {
    const config = writeFile(
      dir,
      'rules.yaml',
      `version: 1
registries:
  "${proxy.host}": { insecure: true }
  "${healthy.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${proxy.host}/team/*
    destination: ${dst.host}/mirror
  - source: ${healthy.host}/ok/app
    destination: ${dst.host}/mirror
`,
    );
    const dlq = join(dir, 'dlq.jsonl');
    const report = join(dir, 'report.json');
    const r = await runCli(['sync', '--config', config, '--dlq', dlq, '--report', report, '--retries', '0']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /1 image\(s\): 1 copied.*rules: 1 could not be listed/s);
    assert.ok(await getManifest(dst, 'mirror/app', 'v1'), 'the healthy rule was not copied');
    const dead = letters(dlq);
    assert.equal(dead.length, 1, JSON.stringify(dead));
    const body = JSON.parse(dead[0]!.body) as { kind: string; source: string };
    assert.equal(body.kind, 'expand-namespace');
    assert.equal(body.source, `${proxy.host}/team/*`);
    assert.match(dead[0]!.reason.message, /503|unavailable/i);
    const entries = (JSON.parse(readFileSync(report, 'utf8')) as { images: { kind?: string; status: string; source: string }[] }).images;
    assert.ok(entries.some((e) => e.kind === 'rule' && e.status === 'failed' && e.source === `${proxy.host}/team/*`), JSON.stringify(entries));

    // The registry lists again: replay plans the rule and copies what it covers.
    proxy.requests.length = 0;
    proxy.options.always503 = undefined;
    const again = await runCli(['replay', '--config', config, '--dlq', dlq]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    for (const repo of ['team/a', 'team/b']) assert.ok(await getManifest(dst, `mirror/${repo}`, 'v1'), `mirror/${repo}:v1 missing after replay`);
    assert.equal(letters(dlq).length, 0);
  });

  test('Ctrl-C while a namespace rule is being listed exits 130 and saves the rule as not started', async () => {
    const sockets: Socket[] = [];
    let connected!: () => void;
    const seen = new Promise<void>((resolve) => (connected = resolve));
    const hole = createServer((s) => {
      sockets.push(s);
      connected();
    });
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(hole.address() as { port: number }).port}`;
    try {
      const config = writeFile(dir, 'hang.yaml', `version: 1\nregistries:\n  "${host}": { insecure: true }\nrules:\n  - source: ${host}/team/**\n    destination: ${dst.host}/hang\n`);
      const dlq = join(dir, 'hang.jsonl');
      const child = spawn(process.execPath, [CLI, 'sync', '--config', config, '--dlq', dlq], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      await seen;
      child.kill('SIGINT');
      const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
      assert.equal(code, 130, out);
      const dead = letters(dlq);
      assert.equal(dead.length, 1, out);
      assert.equal(dead[0]!.reason.code, 'SWRM_NOT_STARTED');
      assert.equal((JSON.parse(dead[0]!.body) as { kind: string }).kind, 'expand-namespace');
    } finally {
      for (const s of sockets) s.destroy();
      hole.close();
    }
  });
});
