// `defaults.timeout` through the real CLI (issue 6, items 4 and 9): a source that trickles a blob,
// never idle for long enough to trip undici's idle timeout, no longer holds the copier. The image
// fails at its deadline with SWRM_TIMEOUT and a one-line reason naming the host, and goes to the
// DLQ without retries (another attempt would wait another whole deadline).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { pushImage, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

describe('request timeout', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let slow: ProxyHandle;
  let dir: string;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    // 16 bytes every 100 ms: a 4 KiB layer would take 26 s.
    slow = await startProxy(src, { trickleBlobs: { bytes: 16, everyMs: 100 } });
    dir = tempDir();
    await pushImage(src, 'app/slow', 'v1', { format: 'oci', layers: [randomLayer(4096)] });
  });
  after(stopAll);

  test('a trickling source fails at the deadline from defaults.timeout, straight to the DLQ', async () => {
    const file = writeFile(
      dir,
      'sync.yaml',
      `version: 1
defaults: { timeout: 1 }
registries:
  "${slow.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${slow.host}/app/slow:v1
    destination: ${dst.host}/mirror
`,
    );
    const dlq = join(dir, 'dlq.jsonl');
    const started = performance.now();
    const r = await runCli(['sync', '--config', file, '--dlq', dlq]);
    const ms = performance.now() - started;
    assert.equal(r.code, 1, r.stderr);
    assert.ok(ms < 12_000, `the copier was held for ${Math.round(ms)} ms`);
    assert.match(r.stdout, /SWRM_TIMEOUT x 1/);
    assert.match(r.stdout, new RegExp(`blob GET app/slow@sha256:[0-9a-f]{64} on ${slow.host} took longer than 1 s`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'stack trace printed');
    const [letter, ...rest] = readFileSync(dlq, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { receiveCount: number; reason: { code: string } });
    assert.equal(rest.length, 0);
    assert.equal(letter?.reason.code, 'SWRM_TIMEOUT');
    assert.equal(letter?.receiveCount, 1, 'a timed-out image was retried');
  });
});
