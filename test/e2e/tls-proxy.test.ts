// The CLI against an HTTPS registry signed by a private CA, behind a corporate proxy: `caFile`
// (relative to the config file) and HTTPS_PROXY from the environment make a sync work; without the
// CA, the user gets one line naming the host and the options, and the DLQ keeps SWRM_TLS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type TestPki, testPki } from '../helpers/certs.js';
import { type ForwardProxyHandle, startForwardProxy } from '../helpers/forward-proxy.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { runCli, writeAuthFile } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

// The machine's own proxy settings must not leak into these runs.
const NO_ENV_PROXY = { HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '', NO_PROXY: '', no_proxy: '' };

describe('TLS and proxies from the CLI', () => {
  let pki: TestPki;
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let proxy: ForwardProxyHandle;
  let dir: string;
  let digest: string;
  before(async () => {
    pki = await testPki();
    [src, dst, proxy] = await Promise.all([
      startRegistry(),
      startRegistry({ tls: { certificate: pki.serverCert, key: pki.serverKey, ca: pki.caFile } }),
      startForwardProxy(),
    ]);
    digest = (await pushImage(src, 'app/web', 'v1', { format: 'oci', layers: [randomLayer(20_000)] })).digest;
    dir = tempDir();
    mkdirSync(join(dir, 'certs'));
    copyFileSync(pki.caFile, join(dir, 'certs', 'corp-ca.pem'));
  });
  after(stopAll);

  const config = (name: string, dstEntry: string): string =>
    writeFile(dir, name, `version: 1
defaults: { retries: 2 }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": ${dstEntry}
rules:
  - source: ${src.host}/app/web:v1
    destination: ${dst.host}/mirror
`);

  test('sync with caFile through HTTPS_PROXY copies the image, through the tunnel', async () => {
    const file = config('ok.yaml', '{ caFile: certs/corp-ca.pem }');
    const r = await runCli(['sync', '--config', file, '--dlq', join(dir, 'dlq-ok.jsonl')], { ...NO_ENV_PROXY, HTTPS_PROXY: proxy.url });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1 copied/);
    assert.equal((await getManifest(dst, 'mirror/web', 'v1'))?.digest, digest);
    assert.ok(proxy.tunnels.includes(dst.host), `no tunnel to ${dst.host}: ${proxy.tunnels.join(', ')}`);
  });

  test('copy to an untrusted registry: one line naming the host and the options, exit 1', async () => {
    const auth = writeAuthFile([src]);
    const r = await runCli(['copy', `${src.host}/app/web:v1`, `${dst.host}/other/web`, '--auth', auth], NO_ENV_PROXY);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `swr-migrate: TLS certificate of ${dst.host} is not trusted (unknown issuer): give its CA as caFile, or set insecure: true to skip verification [SWRM_TLS]\n`);
  });

  test('sync without the CA, or with a caFile that is not there: the DLQ says SWRM_TLS and why', async () => {
    for (const [name, entry, message] of [
      ['untrusted', '{}', `TLS certificate of ${dst.host} is not trusted`],
      ['missing', '{ caFile: certs/nope.pem }', `cannot read caFile ${join(dir, 'certs', 'nope.pem')} for registry ${dst.host} (no such file)`],
    ] as const) {
      const dlq = join(dir, `dlq-${name}.jsonl`);
      const r = await runCli(['sync', '--config', config(`${name}.yaml`, entry), '--dlq', dlq], NO_ENV_PROXY);
      assert.equal(r.code, 1, r.stderr);
      const letters = readFileSync(dlq, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: { code: string; message: string } });
      assert.equal(letters.length, 1);
      assert.equal(letters[0]!.reason.code, 'SWRM_TLS');
      assert.ok(letters[0]!.reason.message.includes(message), letters[0]!.reason.message);
    }
  });
});
