// Bounded fan-out (issue 6, item 8), through the real CLI: a 100-layer image copied to 16
// repositories by 16 copiers, with proxies in front of both registries counting the sockets the CLI
// opens. Blob HEADs and mounts are limited per registry and the undici Agent caps connections per
// origin, so the configured `connections` hold; and a default sync prints no
// MaxListenersExceededWarning (it did at the default --proc 16).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { DEFAULT_CONNECTIONS } from '../../lib/registry/pool.js';

const COPIES = 16;

describe('bounded fan-out', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  let digest: string;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    dir = tempDir();
    const layers = Array.from({ length: 100 }, () => randomLayer(512));
    digest = (await pushImage(src, 'big/img', 'v1', { format: 'oci', layers })).digest;
  });
  after(stopAll);

  /** 16 rules: the same image into 16 repositories, so 16 copiers HEAD and mount 100 blobs each. */
  const config = (from: ProxyHandle, to: ProxyHandle, prefix: string, extra: { defaults?: string; dst?: string }) =>
    writeFile(
      dir,
      `${prefix}.yaml`,
      `version: 1
${extra.defaults ? `defaults: { ${extra.defaults} }\n` : ''}registries:
  "${from.host}": { insecure: true }
  "${to.host}": { insecure: true${extra.dst ? `, ${extra.dst}` : ''} }
rules:
${Array.from({ length: COPIES }, (_, i) => `  - source: ${from.host}/big/img:v1\n    destination: ${to.host}/${prefix}\n    name: img${i}`).join('\n')}
`,
    );

  const checkCopied = async (prefix: string) => {
    for (let i = 0; i < COPIES; i++) assert.equal((await getManifest(dst, `${prefix}/img${i}`, 'v1'))?.digest, digest);
  };

  test('16 copiers of a 100-layer image stay within the configured connections per registry', async () => {
    const [from, to] = await Promise.all([startProxy(src), startProxy(dst)]);
    const file = config(from, to, 'capped', { defaults: 'connections: 6', dst: 'connections: 4' });
    const r = await runCli(['sync', '--config', file, '--dlq', join(dir, 'dlq-capped.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${COPIES} copied`));
    await checkCopied('capped');
    assert.ok(to.requests.length > 100 * COPIES, `only ${to.requests.length} destination requests: the test does not fan out`);
    assert.ok(to.sockets.peak <= 4, `destination: ${to.sockets.peak} sockets open at once (accepted ${to.sockets.accepted})`);
    assert.ok(from.sockets.peak <= 6, `source: ${from.sockets.peak} sockets open at once (accepted ${from.sockets.accepted})`);
    await Promise.all([from.stop(), to.stop()]);
  });

  test('a default sync (--proc 16) stays under the default cap and prints no warning', async () => {
    const [from, to] = await Promise.all([startProxy(src), startProxy(dst)]);
    const file = config(from, to, 'default', {});
    const r = await runCli(['sync', '--config', file, '--dlq', join(dir, 'dlq-default.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    await checkCopied('default');
    assert.doesNotMatch(r.stderr, /MaxListenersExceededWarning|Warning:|\(node:\d+\)/, r.stderr);
    // Off a terminal a progress line comes every 5 s (docs/commands.md); nothing else may appear.
    const other = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('progress: '));
    assert.deepEqual(other, [], `stderr is not clean:\n${r.stderr}`);
    assert.ok(to.sockets.peak <= DEFAULT_CONNECTIONS, `destination: ${to.sockets.peak} sockets at once`);
    assert.ok(from.sockets.peak <= DEFAULT_CONNECTIONS, `source: ${from.sockets.peak} sockets at once`);
    await Promise.all([from.stop(), to.stop()]);
  });
});

describe('connections within one registry', () => {
  let reg: RegistryHandle;
  let dir: string;
  before(async () => {
    reg = await startRegistry();
    dir = tempDir();
  });
  after(stopAll);

  test('a copy inside one registry with 2 connections does not starve its own uploads', async () => {
    // Each transfer holds a download's connection while its upload needs another one on the same
    // origin: with more transfers than half the connections, downloads would take them all.
    const imgs = await Promise.all(
      Array.from({ length: 4 }, (_, i) => pushImage(reg, `one/app${i}`, 'v1', { format: 'oci', layers: [randomLayer(200_000), randomLayer(200_000)] })),
    );
    const proxy = await startProxy(reg);
    const file = writeFile(
      dir,
      'same.yaml',
      `version: 1
defaults: { timeout: 5 }
registries:
  "${proxy.host}": { insecure: true, connections: 2 }
rules:
${imgs.map((_, i) => `  - source: ${proxy.host}/one/app${i}:v1\n    destination: ${proxy.host}/copy`).join('\n')}
`,
    );
    const r = await runCli(['sync', '--config', file, '--dlq', join(dir, 'dlq-same.jsonl'), '--retries', '0']);
    assert.equal(r.code, 0, r.stderr);
    for (const [i, img] of imgs.entries()) assert.equal((await getManifest(reg, `copy/app${i}`, 'v1'))?.digest, img.digest);
    assert.ok(proxy.sockets.peak <= 2, `${proxy.sockets.peak} sockets at once`);
    await proxy.stop();
  });
});
