// Docker Hub's pull budget through the CLI, against a stand-in that counts manifest GETs per short
// window (test/helpers/docker-hub-registry.ts): a plan that exceeds the budget is flagged before any
// GET; without --pace the images beyond it are left in the DLQ as SWRM_RATE_BUDGET (not failures)
// and `replay` copies them once the window refills; with --pace every image is copied, no 429.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { CLI, type CliResult, runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile, readLetters } from '../helpers/files.js';
import { type DockerHubHandle, startDockerHub } from '../helpers/docker-hub-registry.js';

const WINDOW_S = 2;
const TAGS = ['v1', 'v2', 'v3', 'v4', 'v5'];

const letters = readLetters;

describe('Docker Hub pull budget', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let hub: DockerHubHandle;
  let dir: string;
  /** stderr of the running CLI so far, and whether the warning had been printed when the first GET arrived. */
  let stderrSoFar = '';
  let warnedBeforeFirstGet: boolean | undefined;

  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    for (const tag of TAGS) await pushImage(src, 'library/app', tag, { format: 'docker', layers: [randomLayer(2_000)] });
    hub = await startDockerHub(src, {
      anonymous: 3,
      authenticated: 6,
      windowS: WINDOW_S,
      // The first GET waits (up to 3 s) for the warning: it must already be on stderr.
      beforeGet: async () => {
        if (warnedBeforeFirstGet !== undefined) return;
        warnedBeforeFirstGet = false;
        for (let i = 0; i < 60 && !/pull budget:/.test(stderrSoFar); i++) await sleep(50);
        warnedBeforeFirstGet = /pull budget:/.test(stderrSoFar);
      },
    });
    dir = tempDir();
  });
  after(stopAll);

  const config = (destination: string) =>
    writeFile(
      dir,
      `sync-${destination}.yaml`,
      `version: 1
registries:
  "${hub.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${hub.host}/library/app
    destination: ${dst.host}/${destination}
    tags: { include: ["^v"] }
`,
    );

  /** The CLI as a child, with its stderr visible to the stand-in while it runs. */
  const sync = (args: string[]): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      stderrSoFar = '';
      const child = spawn(process.execPath, [CLI, 'sync', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderrSoFar += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr: stderrSoFar }));
    });

  test('a plan over the budget is flagged before any GET; the rest is deferred, not failed; replay copies it', async () => {
    const dlq = join(dir, 'dlq-defer.jsonl');
    const file = config('defer');
    const r = await sync(['--config', file, '--dlq', dlq, '--proc', '1']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /pull budget: 127\.0\.0\.1:\d+ has 3 manifest GET\(s\) left \(anonymous budget, 3 manifest GETs per 2 s\), the plan may need 5/);
    assert.match(r.stderr, /SWRM_RATE_BUDGET/);
    assert.equal(warnedBeforeFirstGet, true, 'a manifest GET reached Docker Hub before the warning');
    assert.match(r.stdout, /5 image\(s\): 3 copied, 0 already present, 0 failed, 2 left for later/);
    assert.match(r.stdout, /2 left for later \(pull budget spent/);
    assert.equal(hub.refused, 0, 'the stand-in answered 429: the budget was not respected');
    const dead = letters(dlq);
    assert.equal(dead.length, 2);
    for (const l of dead) {
      assert.equal(l.reason.code, 'SWRM_RATE_BUDGET');
      assert.match(l.reason.message, /replay after \d{4}-\d\d-\d\dT/);
    }

    await sleep(WINDOW_S * 1000 + 300);
    const again = await runCli(['replay', '--config', file, '--dlq', dlq]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /2 recovered, 0 still in the DLQ/);
    assert.equal(letters(dlq).length, 0);
    for (const tag of TAGS) assert.ok(await getManifest(dst, 'defer/app', tag), `defer/app:${tag} missing`);
  });

  test('with --pace every image is copied, nothing fails, and Docker Hub never answers 429', async () => {
    await sleep(WINDOW_S * 1000 + 300);
    const refusedBefore = hub.refused;
    const dlq = join(dir, 'dlq-pace.jsonl');
    const started = performance.now();
    const r = await sync(['--config', config('paced'), '--dlq', dlq, '--proc', '2', '--pace']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /pull budget: .* the plan may need 5 .*with --pace the copies wait for the window to refill/);
    assert.match(r.stdout, /5 image\(s\): 5 copied, 0 already present, 0 failed;/);
    assert.equal(hub.refused, refusedBefore, 'the stand-in answered 429 while pacing');
    assert.equal(letters(dlq).length, 0);
    // 5 GETs at 3 per window: the run had to wait for at least one refill.
    assert.ok(performance.now() - started >= WINDOW_S * 1000 * 0.9, 'the run did not wait for the window');
    for (const tag of TAGS) assert.ok(await getManifest(dst, 'paced/app', tag), `paced/app:${tag} missing`);
  });
});
