// image-syncer / image-migrator invocations that must work unchanged (issue 9 item 7), through the
// CLI against real registries: the old combined --config, identityToken against a token registry,
// empty destinations from --registry/--namespace and from DEFAULT_*, repeated --os/--arch, --force,
// --output-success-images (yaml and json, fed back as --images) and --log FILE.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type PushedManifest, getManifest, pushImage, pushIndex, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

const isManifestPut = (e: { method: string; path: string }) => e.method === 'PUT' && e.path.includes('/manifests/');
const isBlobWrite = (e: { method: string; path: string }) => ['POST', 'PATCH', 'PUT'].includes(e.method) && e.path.includes('/blobs/');

describe('image-syncer compatibility through the CLI', () => {
  let src: RegistryHandle;
  let tok: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  let auth: string;
  const pushed: Record<string, PushedManifest> = {};

  before(async () => {
    [src, tok, dst] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: 'token', refreshTokens: { 'refresh-abc': 'testuser' } }),
      startRegistry(),
    ]);
    dir = tempDir();
    // Distinct layers per image: no cross-repository mount can stand in for an upload in the counts.
    pushed.one = await pushImage(src, 'compat/one', '1', { format: 'docker', layers: [randomLayer(30_000)] });
    pushed.two = await pushImage(src, 'compat/two', '1', { format: 'docker', layers: [randomLayer(30_000)] });
    pushed.multi = await pushIndex(src, 'compat/multi', '1', {
      format: 'oci',
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
        { os: 'linux', architecture: 's390x' },
      ],
    });
    auth = writeFile(dir, 'auth.json', { [src.host]: { insecure: true }, [dst.host]: { insecure: true } });
  });
  after(stopAll);

  test('old combined --config {auth, images} with identityToken: sent as an OAuth2 refresh-token POST', async () => {
    const config = writeFile(
      dir,
      'combined.yaml',
      `auth:\n  "${src.host}": { insecure: true }\n  "${tok.host}":\n    identityToken: \${TOKEN}\n    insecure: true\n` +
        `images:\n  "docker://${src.host}/compat/one:1": "${tok.host}/mirror/one"\n`,
    );
    const r = await runCli(['sync', '--config', config, '--dlq', join(dir, 'dlq-combined.jsonl')], { TOKEN: 'refresh-abc' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sync: 1 image\(s\): 1 copied, 0 already present, 0 failed/);
    // Taken before the harness reads the destination (it logs in with Basic credentials).
    const seen = [...tok.token!.requests];
    assert.equal((await getManifest(tok, 'mirror/one', '1'))?.digest, pushed.one!.digest);
    const posts = seen.filter((q) => q.grant !== undefined);
    assert.ok(posts.length > 0, 'no OAuth2 POST reached the token server');
    for (const q of posts) {
      assert.equal(q.grant, 'refresh_token');
      assert.equal(q.clientId, 'swr-migrate');
      assert.equal(q.status, 200);
    }
    // No Basic GETs: the token is the only credential the entry has.
    assert.equal(seen.filter((q) => q.grant === undefined && q.user !== undefined).length, 0);
    assert.ok(!r.stderr.includes('refresh-abc'));
  });

  test('a refused identityToken fails with a one-line hint and never shows the token', async () => {
    const config = writeFile(
      dir,
      'combined-bad.json',
      { auth: { [src.host]: { insecure: true }, [tok.host]: { identityToken: 'wrong-token', insecure: true } }, images: { [`${src.host}/compat/two:1`]: `${tok.host}/mirror/two` } },
    );
    const r = await runCli(['sync', '--config', config, '--retries', '0', '--dlq', join(dir, 'dlq-bad.jsonl')]);
    assert.equal(r.code, 1);
    assert.ok(!`${r.stdout}${r.stderr}${readFileSync(join(dir, 'dlq-bad.jsonl'), 'utf8')}`.includes('wrong-token'));
    assert.match(readFileSync(join(dir, 'dlq-bad.jsonl'), 'utf8'), /identityToken/);
  });

  test('empty destinations: --registry/--namespace, then DEFAULT_REGISTRY/DEFAULT_NAMESPACE', async () => {
    const images = writeFile(dir, 'empty.json', { [`${src.host}/compat/one:1`]: '', [`${src.host}/compat/two`]: '' });
    const r = await runCli(['sync', '--auth', auth, '--images', images, '--registry', dst.host, '-n', 'flagns', '--dlq', join(dir, 'dlq-e1.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await getManifest(dst, 'flagns/one', '1'))?.digest, pushed.one!.digest);
    assert.equal((await getManifest(dst, 'flagns/two', '1'))?.digest, pushed.two!.digest);
    const e = await runCli(['sync', '--auth', auth, '--images', images, '--dlq', join(dir, 'dlq-e2.jsonl')], { DEFAULT_REGISTRY: dst.host, DEFAULT_NAMESPACE: 'envns' });
    assert.equal(e.code, 0, e.stderr);
    assert.equal((await getManifest(dst, 'envns/one', '1'))?.digest, pushed.one!.digest);
    const none = await runCli(['sync', '--auth', auth, '--images', images, '--dlq', join(dir, 'dlq-e3.jsonl')], { DEFAULT_REGISTRY: '', DEFAULT_NAMESPACE: '' });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /empty destination: give --registry and --namespace/);
  });

  test('repeated --arch with arch:variant keeps exactly those platforms', async () => {
    const images = writeFile(dir, 'multi.yaml', `"${src.host}/compat/multi:1": "${dst.host}/plat/multi"\n`);
    const r = await runCli(['sync', '--auth', auth, '--images', images, '--os', 'linux', '--arch', 'amd64', '--arch', 'arm64:v8', '--dlq', join(dir, 'dlq-p.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    const index = await getManifest(dst, 'plat/multi', '1');
    const platforms = (JSON.parse(index!.bytes.toString()) as { manifests: { platform: { architecture: string; variant?: string } }[] }).manifests.map(
      (m) => `${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}`,
    );
    assert.deepEqual(platforms.sort(), ['amd64', 'arm64/v8']);
  });

  test('--force: one manifest PUT per image and no blob upload when the destination is equal', async () => {
    const images = writeFile(dir, 'force.yaml', `"${src.host}/compat/one:1": "${dst.host}/force/one"\n"${src.host}/compat/two:1": "${dst.host}/force/two"\n`);
    const first = await runCli(['sync', '--auth', auth, '--images', images, '--dlq', join(dir, 'dlq-f.jsonl')]);
    assert.equal(first.code, 0, first.stderr);
    await dst.settle();
    const plain = dst.mark();
    const again = await runCli(['sync', '--auth', auth, '--images', images, '--dlq', join(dir, 'dlq-f.jsonl')]);
    assert.match(again.stdout, /2 already present/);
    await dst.settle();
    assert.equal(dst.requestsSince(plain).filter(isManifestPut).length, 0, 'without --force nothing is pushed');
    const mark = dst.mark();
    const forced = await runCli(['sync', '--auth', auth, '--images', images, '--force', '--dlq', join(dir, 'dlq-f.jsonl')]);
    assert.equal(forced.code, 0, forced.stderr);
    await dst.settle();
    const seen = dst.requestsSince(mark);
    assert.deepEqual(seen.filter(isManifestPut).map((e) => e.path).sort(), ['/v2/force/one/manifests/1', '/v2/force/two/manifests/1']);
    assert.deepEqual(seen.filter(isBlobWrite), []);
    assert.equal((await getManifest(dst, 'force/one', '1'))?.digest, pushed.one!.digest);
  });

  test('--output-success-images yaml and json, fed back unchanged as --images; --log FILE', async () => {
    const images = writeFile(dir, 'out-src.yaml', `"${src.host}/compat/one:1": "${dst.host}/out/one"\n"${src.host}/compat/two:1": ["${dst.host}/out/two", "${dst.host}/out/two-b"]\n`);
    const yamlOut = join(dir, 'success.yaml');
    const log = join(dir, 'sync.log');
    const r = await runCli(['sync', '--auth', auth, '--images', images, '--output-success-images', yamlOut, '--log', log, '--dlq', join(dir, 'dlq-o.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    const expected = {
      [`${src.host}/compat/one:1`]: `${dst.host}/out/one:1`,
      [`${src.host}/compat/two:1`]: [`${dst.host}/out/two-b:1`, `${dst.host}/out/two:1`],
    };
    assert.deepEqual(parseYaml(readFileSync(yamlOut, 'utf8')), expected);
    // The log lines went to the file, not stderr; the summary stayed on stdout.
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    assert.ok(lines.some((l) => l.msg === 'manifest committed'));
    assert.ok(!r.stderr.includes('"msg"'));
    assert.match(r.stdout, /sync: 3 image\(s\): 3 copied/);

    const jsonOut = join(dir, 'success.json');
    const back = await runCli(['sync', '--auth', auth, '--images', yamlOut, '--output-success-images', jsonOut, '--output-images-format', 'json', '--dlq', join(dir, 'dlq-o.jsonl')]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /sync: 3 image\(s\): 0 copied, 3 already present/);
    assert.deepEqual(JSON.parse(readFileSync(jsonOut, 'utf8')), expected);
    const bad = await runCli(['sync', '--auth', auth, '--images', images, '--output-success-images', jsonOut, '--output-images-format', 'xml']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--output-images-format must be yaml or json/);
  });
});
