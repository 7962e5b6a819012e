// Issue 16 through `serve` (the built CLI, real local registries): each webhook source forged and
// valid. Forged, oversized or malformed requests get 401/413/400 and copy nothing; a valid Harbor
// push puts the image at the destination within 5 s of the event; a burst of 50 events for one
// repository is one re-check; a Quay notification from a self-hosted Quay copies its repository;
// Docker Hub and GitHub events for repositories no rule covers are ignored and counted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, freePort, startRegistry, stopAll } from '../helpers/registry.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { httpGet, killServes, metric, sleep, startServe, until } from '../helpers/serve-process.js';

const SECRETS = { harbor: 'harbor-secret-0123456789abcdef', dockerhub: 'hubpathsecret0123456789', quay: 'quaypathsecret0123456789', github: 'github-secret-0123456789abcdef' };

describe('serve: webhooks', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let port: number;
  let out: () => string;
  let stop: () => Promise<number>;

  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    port = await freePort();
    const dir = tempDir('swrm-serve-hooks-');
    const file = writeFile(
      dir,
      'config.yaml',
      `version: 1
events:
  harbor: { secret: "${SECRETS.harbor}" }
  dockerhub: { secret: "${SECRETS.dockerhub}" }
  quay: { secret: "${SECRETS.quay}" }
  github: { secret: "${SECRETS.github}" }
  windowSeconds: 0.5
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${src.host}/hooks/*
    destination: ${dst.host}/mirror
`,
    );
    const s = startServe(['--config', file, '--listen', `127.0.0.1:${port}`, '--state-dir', join(dir, 'state'), '--no-initial-sync']);
    out = s.out;
    stop = async () => {
      s.child.kill('SIGTERM');
      return s.exited;
    };
    await until('healthz', async () => ((await httpGet(port, '/healthz')).status === 200 ? true : undefined));
  });
  after(async () => {
    killServes();
    await stopAll();
  });

  const post = async (path: string, body: string | Buffer, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    return { status: res.status, text: await res.text() };
  };
  const harborPush = (repo: string, tag: string) =>
    JSON.stringify({
      type: 'PUSH_ARTIFACT',
      occur_at: Math.floor(Date.now() / 1000),
      operator: 'ci',
      event_data: { resources: [{ digest: `sha256:${'b'.repeat(64)}`, tag, resource_url: `${src.host}/${repo}:${tag}` }], repository: { name: repo.split('/')[1], namespace: repo.split('/')[0], repo_full_name: repo, repo_type: 'private' } },
    });
  const metrics = async () => (await httpGet(port, '/metrics')).text;
  const missing = (repo: string, tag: string) => getManifest(dst, repo, tag).then((m) => m === undefined, () => true);

  test('forged, oversized and malformed requests are refused and copy nothing', async () => {
    await pushImage(src, 'hooks/forged', 'v1', { format: 'docker', layers: [randomLayer(5_000)] });
    const body = harborPush('hooks/forged', 'v1');
    assert.equal((await post('/hooks/harbor', body, { authorization: 'Bearer wrong-secret-wrong-secret' })).status, 401);
    assert.equal((await post('/hooks/harbor', body)).status, 401);
    assert.equal((await post('/hooks/harbor', '{"type":', { authorization: SECRETS.harbor })).status, 400);
    assert.equal((await post('/hooks/harbor', Buffer.alloc(1024 * 1024 + 10, 32), { authorization: SECRETS.harbor })).status, 413);
    const hub = JSON.stringify({ push_data: { tag: 'v1', pushed_at: 1, pusher: 'x' }, repository: { repo_name: 'hooks/forged', namespace: 'hooks', name: 'forged' } });
    assert.equal((await post('/hooks/dockerhub/not-the-path-secret', hub)).status, 401);
    const quay = JSON.stringify({ repository: 'hooks/forged', namespace: 'hooks', name: 'forged', docker_url: `${src.host}/hooks/forged`, updated_tags: ['v1'] });
    assert.equal((await post('/hooks/quay/not-the-path-secret', quay)).status, 401);
    const gh = JSON.stringify({ action: 'published', package: { name: 'forged', package_type: 'CONTAINER', owner: { login: 'hooks' } } });
    assert.equal((await post('/hooks/github', gh, { 'x-github-event': 'package', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` })).status, 401);
    await sleep(1500); // past the burst window: anything accepted would be on its way
    assert.ok(await missing('mirror/hooks/forged', 'v1'), 'nothing copied');
    const m = await metrics();
    assert.equal(metric(m, 'swrm_events_total', { source: 'harbor', result: 'refused' }), 4);
    assert.equal(metric(m, 'swrm_events_total', { result: 'accepted' }), 0);
    // The log names neither the secrets nor the bodies.
    for (const secret of ['wrong-secret-wrong-secret', 'not-the-path-secret', ...Object.values(SECRETS)]) assert.ok(!out().includes(secret), `the output holds ${secret}`);
  });

  test('a valid Harbor push is at the destination within 5 s of the event', async () => {
    const img = await pushImage(src, 'hooks/app', 'v1', { format: 'docker', layers: [randomLayer(20_000)] });
    const sent = Date.now();
    const res = await post('/hooks/harbor', harborPush('hooks/app', 'v1'), { authorization: `Bearer ${SECRETS.harbor}` });
    assert.equal(res.status, 202);
    const copied = await until('the copy', () => getManifest(dst, 'mirror/hooks/app', 'v1'), 10_000);
    const ms = Date.now() - sent;
    assert.equal(copied.digest, img.digest);
    assert.ok(ms < 5000, `${ms} ms from the event to the image`);
    process.stderr.write(`serve webhooks: Harbor push -> destination in ${ms} ms (burst window 500 ms)\n`);
  });

  test('50 events for one repository: one re-check, every pushed tag copied', async () => {
    const before = metric(await metrics(), 'swrm_images_total', { outcome: 'expanded' });
    const tags = ['b1', 'b2', 'b3'];
    for (const t of tags) await pushImage(src, 'hooks/burst', t, { format: 'docker', layers: [randomLayer(3_000)] });
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => post('/hooks/harbor', harborPush('hooks/burst', tags[i % 3]!), { authorization: SECRETS.harbor })));
    assert.ok(answers.every((a) => a.status === 202));
    for (const t of tags) await until(`burst ${t}`, () => getManifest(dst, 'mirror/hooks/burst', t), 15_000);
    const m = await metrics();
    assert.equal(metric(m, 'swrm_events_total', { source: 'harbor', result: 'merged' }), 49);
    assert.equal(metric(m, 'swrm_images_total', { outcome: 'expanded' }) - before, 1, 'one re-check settled for the burst');
  });

  test('Quay (self-hosted, secret path) copies; Docker Hub and GitHub events no rule covers are ignored and counted', async () => {
    const img = await pushImage(src, 'hooks/quayapp', 'q1', { format: 'oci', layers: [randomLayer(4_000)] });
    const quay = JSON.stringify({ repository: 'hooks/quayapp', namespace: 'hooks', name: 'quayapp', docker_url: `${src.host}/hooks/quayapp`, homepage: 'x', updated_tags: ['q1'] });
    assert.equal((await post(`/hooks/quay/${SECRETS.quay}`, quay)).status, 202);
    assert.equal((await until('the quay copy', () => getManifest(dst, 'mirror/hooks/quayapp', 'q1'), 10_000)).digest, img.digest);

    const hub = JSON.stringify({ callback_url: 'https://registry.hub.docker.com/u/x/y/hook/z/', push_data: { tag: 'latest', pushed_at: 1, pusher: 'x' }, repository: { repo_name: 'someone/tool', namespace: 'someone', name: 'tool' } });
    const hubRes = await post(`/hooks/dockerhub/${SECRETS.dockerhub}`, hub);
    assert.equal(hubRes.status, 202);
    const gh = JSON.stringify({ action: 'published', package: { name: 'tool', package_type: 'CONTAINER', owner: { login: 'someone' }, package_version: { container_metadata: { tag: { name: 'v1' } } } } });
    const sig = `sha256=${createHmac('sha256', SECRETS.github).update(gh).digest('hex')}`;
    assert.equal((await post('/hooks/github', gh, { 'x-github-event': 'package', 'x-hub-signature-256': sig })).status, 202);
    const m = await metrics();
    assert.equal(metric(m, 'swrm_events_total', { source: 'dockerhub', result: 'ignored' }), 1);
    assert.equal(metric(m, 'swrm_events_total', { source: 'github', result: 'ignored' }), 1);
    assert.match(out(), /no rule covers docker\.io\/someone\/tool/);
  });

  test('SIGTERM stops serving hooks and exits 143', async () => {
    assert.equal(await stop(), 143, out());
  });
});
