// The SWR registry stand-in in front of a real distribution registry: OCI manifests refused with
// SWR's 400 body, Docker manifests pass, 503 above N concurrent uploads, pushes into missing
// organizations refused. The organization set is the API stand-in's, shared.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { request } from 'undici';
import { pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { OCI_REFUSED_BODY, startSwrRegistryProxy, type SwrRegistryProxyHandle } from '../helpers/swr-registry-proxy.js';
import { startSwrApi, swrState } from '../helpers/swr-api-server.js';
import { SwrManagementClient } from '../../lib/vendors/swr/management.js';

let reg: RegistryHandle;
let swr: SwrRegistryProxyHandle;
const state = swrState();
before(async () => {
  reg = await startRegistry();
  swr = await startSwrRegistryProxy(reg, { state, maxUploads: 1 });
  state.orgs.set('org', { auth: 7, mine: true });
});
after(() => stopAll());

test('an OCI image manifest PUT gets SWR 400 MANIFEST_INVALID; a Docker one passes', async () => {
  await assert.rejects(pushImage({ url: swr.url }, 'org/oci', 'v1', { format: 'oci', layers: [randomLayer(256)] }), /400/);
  assert.equal(swr.refused.oci, 1);
  const pushed = await pushImage({ url: swr.url }, 'org/docker', 'v1', { format: 'docker', layers: [randomLayer(256)] });
  const head = await request(`${swr.url}/v2/org/docker/manifests/v1`, { method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
  await head.body.dump();
  assert.equal(head.statusCode, 200);
  assert.equal(head.headers['docker-content-digest'], pushed.digest);
});

test('the 400 body is SWR\'s exact one, for an OCI index too', async () => {
  const res = await request(`${swr.url}/v2/org/idx/manifests/v1`, {
    method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: '{"schemaVersion":2,"manifests":[]}',
  });
  assert.equal(res.statusCode, 400);
  assert.deepEqual(await res.body.json(), OCI_REFUSED_BODY);
});

test('a push into an organization the API does not have is refused; creating it lets the push through', async () => {
  const res = await request(`${swr.url}/v2/missing/app/blobs/uploads/`, { method: 'POST' });
  assert.equal(res.statusCode, 401);
  assert.equal(((await res.body.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'DENIED');
  // The test client cannot answer a 401 without a challenge: the push fails at its first request.
  await assert.rejects(pushImage({ url: swr.url }, 'missing/app', 'v1', { format: 'docker', layers: [randomLayer(128)] }));
  assert.equal(swr.refused.noOrg, 2);
  const api = await startSwrApi({ state, sk: 'sk' });
  const c = new SwrManagementClient({ endpoint: api.url, auth: { kind: 'aksk', key: { ak: 'AKTEST', sk: 'sk' } } });
  assert.equal(await c.namespaceCreate('missing'), 'created');
  await pushImage({ url: swr.url }, 'missing/app', 'v1', { format: 'docker', layers: [randomLayer(128)] });
});

test('uploads above the concurrency limit get 503', async () => {
  const post = await request(`${swr.url}/v2/org/busy/blobs/uploads/`, { method: 'POST' });
  await post.body.dump();
  assert.equal(post.statusCode, 202);
  const location = new URL(String(post.headers.location), swr.url);
  // Hold one PATCH open (body not finished): the one upload slot is taken.
  const held = httpRequest({ host: '127.0.0.1', port: Number(location.port), method: 'PATCH', path: location.pathname + location.search, headers: { 'content-type': 'application/octet-stream' } });
  held.on('error', () => {});
  const done = new Promise<number>((resolve) => held.on('response', (r) => { r.resume(); resolve(r.statusCode ?? 0); }));
  held.write(Buffer.alloc(1024));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(swr.peakUploads, 1);
  const second = await request(`${swr.url}/v2/org/busy/blobs/uploads/`, { method: 'POST' });
  assert.equal(second.statusCode, 503);
  assert.equal(((await second.body.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNAVAILABLE');
  assert.equal(swr.refused.busy, 1);
  held.end();
  assert.equal(await done, 202);
  const third = await request(`${swr.url}/v2/org/busy/blobs/uploads/`, { method: 'POST' });
  await third.body.dump();
  assert.equal(third.statusCode, 202, 'the slot is free again');
});
