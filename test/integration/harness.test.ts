// Self-test of the test harness: if these fail, integration test failures mean nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { registryRequest } from '../helpers/client.js';
import { startProxy } from '../helpers/proxy.js';
import {
  MT, blobExists, deleteManifest, getBlob, getManifest, listTags, pushImage, pushIndex, randomLayer, sha256, streamLayerTo,
} from '../helpers/push.js';
import { startRegistry, stopAll, type AuthKind, type RegistryHandle } from '../helpers/registry.js';
import { parseScope } from '../helpers/token-server.js';

const kinds: AuthKind[] = ['none', 'basic', 'token'];
const regs = {} as Record<AuthKind, RegistryHandle>;

before(async () => {
  const started = await Promise.all(kinds.map((auth) => startRegistry({ auth })));
  started.forEach((r) => { regs[r.kind] = r; });
});
after(stopAll);

for (const kind of kinds) {
  test(`${kind}: push a docker image and an OCI index, read them back, count requests`, async () => {
    const reg = regs[kind];
    assert.deepEqual(reg.log(), [], 'readiness probes must not show up in the log');
    const img = await pushImage(reg, 'app/one', 'v1', { format: 'docker', layers: [randomLayer(2048), randomLayer(100)] });
    const got = await getManifest(reg, 'app/one', 'v1');
    assert.equal(got?.digest, img.digest);
    assert.equal(got?.mediaType, MT.dockerManifest);
    assert.deepEqual(got?.bytes, img.bytes);

    const idx = await pushIndex(reg, 'app/multi', 'v1', {
      format: 'oci', attestation: true,
      platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    });
    const gotIdx = await getManifest(reg, 'app/multi', 'v1');
    assert.equal(gotIdx?.digest, idx.digest);
    assert.equal(gotIdx?.mediaType, MT.ociIndex);
    const entries = (JSON.parse(gotIdx!.bytes.toString()) as { manifests: { digest: string; platform: { os: string }; annotations?: Record<string, string> }[] }).manifests;
    assert.equal(entries.length, 4);
    assert.equal(entries[2]?.platform.os, 'unknown');
    assert.equal(entries[2]?.annotations?.['vnd.docker.reference.digest'], entries[0]?.digest);
    for (const child of idx.children ?? []) assert.equal((await getManifest(reg, 'app/multi', child.digest))?.digest, child.digest);
    for (const b of idx.blobs) assert.ok(await blobExists(reg, 'app/multi', b.digest), b.digest);
    assert.deepEqual(await listTags(reg, 'app/multi'), ['v1']);

    // The access log sees exactly what a client sends (auth is cached, so no extra 401 round trip).
    await reg.settle();
    const mark = reg.mark();
    const missing = sha256('nope');
    assert.equal(await blobExists(reg, 'app/one', img.blobs[1]!.digest), true);
    assert.equal(await blobExists(reg, 'app/one', missing), false);
    await reg.settle();
    assert.deepEqual(reg.requestsSince(mark), [
      { method: 'HEAD', path: `/v2/app/one/blobs/${img.blobs[1]!.digest}`, status: 200 },
      { method: 'HEAD', path: `/v2/app/one/blobs/${missing}`, status: 404 },
    ]);

    await deleteManifest(reg, 'app/one', img.digest);
    assert.equal(await getManifest(reg, 'app/one', img.digest), undefined);
  });
}

test('token server: scoped grants, anonymous gets nothing, bad password is refused', async () => {
  const reg = regs.token;
  const tok = reg.token!;
  assert.ok(tok.requests.some((r) => r.user === 'testuser' && r.status === 200 && r.scopes.includes('repository:app/one:pull,push')));
  assert.deepEqual(parseScope('repository:127.0.0.1:5000/ns/app:pull,push'), { type: 'repository', name: '127.0.0.1:5000/ns/app', actions: ['pull', 'push'] });

  const anon = await registryRequest({ url: reg.url }, 'GET', '/v2/app/multi/tags/list', { repo: 'app/multi' });
  await anon.body.dump();
  assert.equal(anon.statusCode, 401);
  assert.match(String(anon.headers['www-authenticate']), /insufficient_scope/);
  assert.equal(tok.requests.at(-1)?.user, undefined);

  const bad = await fetch(`${tok.realm}?service=test-registry&scope=repository:x:pull`, {
    headers: { authorization: `Basic ${Buffer.from('testuser:wrong').toString('base64')}` },
  });
  assert.equal(bad.status, 401);
});

test('streamLayerTo streams an exact-size tar+gzip through token auth', async () => {
  const reg = regs.token;
  const blob = await streamLayerTo(reg, 'big/layer', 300_000);
  assert.equal(blob.size, 300_000);
  const bytes = await getBlob(reg, 'big/layer', blob.digest);
  assert.equal(bytes?.length, 300_000);
  assert.equal(sha256(bytes!), blob.digest);
  const img = await pushImage(reg, 'big/layer', 'v1', { format: 'oci', layers: [blob] });
  assert.equal((await getManifest(reg, 'big/layer', 'v1'))?.digest, img.digest);
});

test('proxy: transparent pass-through, corrupt blobs, off-origin redirects, schema1', async () => {
  const reg = regs.token;
  const img = await pushImage(reg, 'px/app', 'v1', { format: 'oci', layers: [randomLayer(4096)] });
  const layer = img.blobs[1]!;

  // Pass-through: a full push through the proxy works (challenges, Location and digests intact).
  const plain = await startProxy(reg, {});
  const via = { url: plain.url, username: reg.username, password: reg.password };
  const pushed = await pushImage(via, 'px/through', 'v1', { format: 'docker', layers: [randomLayer(64)] });
  assert.equal((await getManifest(reg, 'px/through', 'v1'))?.digest, pushed.digest);
  assert.ok(plain.requests.some((r) => r.method === 'PUT' && String(r.headers.authorization).startsWith('Bearer ')));

  const bad = await startProxy(reg, { corruptBlobs: true, schema1For: 'old/app' });
  const badVia = { url: bad.url, username: reg.username, password: reg.password };
  const corrupted = await getBlob(badVia, 'px/app', layer.digest);
  assert.equal(corrupted?.length, layer.size);
  assert.notEqual(sha256(corrupted!), layer.digest);
  const good = await getBlob(reg, 'px/app', layer.digest);
  assert.equal(corrupted!.filter((b, i) => b !== good![i]).length, 1, 'exactly one byte flipped');
  const s1 = await getManifest(badVia, 'old/app', 'latest');
  assert.equal(s1?.mediaType, MT.schema1Signed);
  assert.equal((JSON.parse(s1!.bytes.toString()) as { schemaVersion: number }).schemaVersion, 1);

  const redir = await startProxy(reg, { redirectBlobs: true });
  const res = await registryRequest({ url: redir.url, username: reg.username, password: reg.password }, 'GET', `/v2/px/app/blobs/${layer.digest}`, { repo: 'px/app' });
  await res.body.dump();
  assert.equal(res.statusCode, 307);
  const location = new URL(String(res.headers.location));
  assert.equal(location.hostname, 'localhost');
  assert.notEqual(location.port, new URL(redir.url).port);
  const withAuth = await fetch(location, { headers: { authorization: 'Bearer leaked' } });
  await withAuth.arrayBuffer();
  assert.equal(withAuth.status, 400, 'storage refuses Authorization like S3 does');
  const clean = await fetch(location);
  const body = Buffer.from(await clean.arrayBuffer());
  assert.equal(createHash('sha256').update(body).digest('hex'), layer.digest.slice(7));
  assert.deepEqual(redir.offOrigin.map((r) => r.headers.authorization), ['Bearer leaked', undefined]);
});

test('a test process killed with SIGKILL does not leave its registry running', async () => {
  const registryJs = fileURLToPath(new URL('../helpers/registry.js', import.meta.url));
  const script = `import { startRegistry } from ${JSON.stringify(registryJs)};
    const r = await startRegistry(); console.log(r.url); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').once('data', (d: string) => resolve(d.trim()));
    child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
  });
  assert.equal((await fetch(`${url}/v2/`)).status, 200);
  child.kill('SIGKILL');
  const deadline = Date.now() + 5000;
  for (;;) {
    const up = await fetch(`${url}/v2/`).then(() => true, () => false);
    if (!up) break;
    assert.ok(Date.now() < deadline, 'registry still answering 5 s after its parent died');
    await new Promise((r) => setTimeout(r, 50));
  }
});
