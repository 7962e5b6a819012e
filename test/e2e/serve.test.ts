// Issue 16, items 3 and 7: `serve` through the built CLI against real local registries. It starts
// and answers /healthz; a schedule firing every second copies a pushed image and /metrics (parsed as
// Prometheus text) counts it; SIGTERM drains (exit 143) and what was queued is copied or journalled
// for the next start; after SIGKILL mid-run a restart copies the unsettled images without planning
// again and without asking the source about the images already copied; bad input is one line, exit 2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, freePort, startRegistry, stopAll } from '../helpers/registry.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { type Running, httpGet as get, killServes, metric, parsePrometheus, sleep, startServe as serve, until } from '../helpers/serve-process.js';
import { startProxy } from '../helpers/proxy.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { FileQueueJournal } from '../../lib/serve/journal.js';

describe('serve', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  });
  after(async () => {
    killServes();
    await stopAll();
  });

  const config = (dir: string, body: string) =>
    writeFile(dir, 'config.yaml', `version: 1\nregistries:\n  "${src.host}": { insecure: true }\n  "${dst.host}": { insecure: true }\n${body}`);

  test('a schedule every second copies a pushed image; /healthz, /metrics; SIGTERM drains with exit 143', async (t) => {
    const dir = tempDir('swrm-serve-');
    const port = await freePort();
    const file = config(dir, `schedule: "* * * * * *"\nrules:\n  - source: ${src.host}/sched/app\n    destination: ${dst.host}/sched\n    tags: { include: ['^v'] }\n`);
    // The repository exists from the start (a tag the rule does not keep): a firing before the push
    // below lists it and keeps nothing, instead of failing the rule with NAME_UNKNOWN.
    await pushImage(src, 'sched/app', 'w0', { format: 'oci', layers: [randomLayer(1_000)] });
    const s = serve(['--config', file, '--listen', `127.0.0.1:${port}`, '--state-dir', join(dir, 'state')]);
    // A failed assertion must not leave a schedule firing every second under the next tests.
    t.after(() => void (s.child.exitCode === null && s.child.signalCode === null && s.child.kill('SIGKILL')));
    const health = await until('healthz', async () => ((await get(port, '/healthz')).status === 200 ? true : undefined));
    assert.equal(health, true);
    assert.equal((await get(port, '/healthz')).text, 'ok\n');

    // Pushed after the start: only a run that fires afterwards can copy it.
    const img = await pushImage(src, 'sched/app', 'v1', { format: 'oci', layers: [randomLayer(30_000)] });
    const copied = await until('the scheduled copy', () => getManifest(dst, 'sched/app', 'v1'));
    assert.equal(copied.digest, img.digest);

    const text = await until('the copied counter', async () => {
      const m = await get(port, '/metrics');
      return metric(m.text, 'swrm_images_total', { outcome: 'copied' }) >= 1 ? m.text : undefined;
    });
    assert.ok(metric(text, 'swrm_bytes_copied_total') >= 30_000, 'bytes counted');
    assert.ok(metric(text, 'swrm_registry_requests_total', { registry: src.host }) > 0, 'source requests counted');
    assert.ok(metric(text, 'swrm_registry_requests_total', { registry: dst.host }) > 0, 'destination requests counted');
    assert.equal(metric(text, 'swrm_registry_throttled_total'), 0);
    assert.ok(metric(text, 'swrm_schedule_runs_total', { result: 'started' }) >= 1);
    assert.equal(metric(text, 'swrm_images_total', { outcome: 'failed' }), 0, 'every outcome is exported from the start');
    assert.equal(metric(text, 'swrm_dlq_depth'), 0);
    assert.ok(parsePrometheus(text).some((f) => f.name === 'swrm_queue_depth' && f.type === 'GAUGE'));

    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 143, s.out());
    assert.match(s.out(), /serve: stopped; \d+ unsettled message\(s\) kept in/);
  });

  test('SIGKILL mid-run: the restart copies the unsettled images without a new plan or a second look at the copied ones', async () => {
    const dir = tempDir('swrm-serve-kill-');
    const tags = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'];
    const digests = new Map<string, string>();
    for (const t of tags) digests.set(t, (await pushImage(src, 'kill/app', t, { format: 'oci', layers: [randomLayer(24_000)] })).digest);
    // Slow blobs from the source: about a second an image, one copier, so the kill lands mid-run.
    const slow = await startProxy(src, { trickleBlobs: { bytes: 2_000, everyMs: 80 } });
    const file = config(dir, `  "${slow.host}": { insecure: true }\nrules:\n  - source: ${slow.host}/kill/app\n    destination: ${dst.host}/kill\n    tags: { include: ['^v'] }\n`);
    const state = join(dir, 'state');
    const first = serve(['--config', file, '--listen', `127.0.0.1:${await freePort()}`, '--state-dir', state, '--proc', '1']);
    const done = await until('two images at the destination', async () => {
      const have = [];
      for (const t of tags) if (await getManifest(dst, 'kill/app', t)) have.push(t);
      return have.length >= 2 ? have : undefined;
    });
    first.child.kill('SIGKILL');
    await first.exited;
    assert.ok(existsSync(join(state, 'queue.jsonl')), 'the journal exists');
    // Settled = gone from the journal. An image at the destination whose ack the kill beat stays
    // journalled, and is looked at again (a skip): only the settled ones must not be.
    const journalled = (await new FileQueueJournal(state).pending()).map((e) => JSON.parse(e.body) as { source: string });
    const settled = done.filter((t) => !journalled.some((m) => m.source.endsWith(`:${t}`)));
    assert.ok(journalled.length > 0 && journalled.length < tags.length, `killed mid-run: ${journalled.length} journalled`);
    assert.ok(settled.length >= 1, 'at least one image settled before the kill');

    // The same config, at full speed; the source's log shows every request of the second process.
    slow.options.trickleBlobs = undefined;
    const mark = src.mark();
    const port = await freePort();
    const second = serve(['--config', file, '--listen', `127.0.0.1:${port}`, '--state-dir', state, '--proc', '1']);
    for (const t of tags) {
      const got = await until(`${t} at the destination`, () => getManifest(dst, 'kill/app', t));
      assert.equal(got.digest, digests.get(t), t);
    }
    await until('an empty queue', async () => {
      const m = await get(port, '/metrics');
      return metric(m.text, 'swrm_queue_depth') === 0 ? true : undefined;
    });
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 143, second.out());
    assert.match(second.out(), /unsettled message\(s\) resumed from/);
    await src.settle();
    const seen = src.requestsSince(mark);
    assert.deepEqual(seen.filter((r) => r.path.includes('/kill/app/tags/list')), [], 'no new plan: the tags were not listed again');
    for (const t of settled) {
      const again = seen.filter((r) => r.path.includes(`/manifests/${t}`) || r.path.includes(`/manifests/${digests.get(t)}`));
      assert.deepEqual(again, [], `${t}, copied before the kill, is not asked for again`);
    }
    await slow.stop();
  });

  test('SIGTERM with work queued: nothing is lost; what is left is journalled and the next start finishes it', async () => {
    const dir = tempDir('swrm-serve-term-');
    const tags = ['t1', 't2', 't3', 't4'];
    for (const t of tags) await pushImage(src, 'term/app', t, { format: 'oci', layers: [randomLayer(24_000)] });
    const slow = await startProxy(src, { trickleBlobs: { bytes: 2_000, everyMs: 80 } });
    const file = config(dir, `  "${slow.host}": { insecure: true }\nrules:\n  - source: ${slow.host}/term/app\n    destination: ${dst.host}/term\n    tags: [${tags.join(', ')}]\n`);
    const state = join(dir, 'state');
    const first = serve(['--config', file, '--listen', `127.0.0.1:${await freePort()}`, '--state-dir', state, '--proc', '1', '--drain-timeout', '0']);
    await until('one image at the destination', async () => {
      for (const t of tags) if (await getManifest(dst, 'term/app', t)) return true;
      return undefined;
    });
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 143, first.out());
    const left = Number(/stopped; (\d+) unsettled/.exec(first.out())?.[1]);
    let present = 0;
    for (const t of tags) if (await getManifest(dst, 'term/app', t)) present++;
    assert.ok(left > 0, `work was left: ${first.out()}`);
    assert.ok(present + left >= tags.length, `copied (${present}) + journalled (${left}) cover every image`);

    slow.options.trickleBlobs = undefined;
    const second = serve(['--config', file, '--listen', `127.0.0.1:${await freePort()}`, '--state-dir', state]);
    for (const t of tags) await until(`${t} at the destination`, () => getManifest(dst, 'term/app', t));
    second.child.kill('SIGINT');
    assert.equal(await second.exited, 130, second.out());
    await slow.stop();
  });

  test('bad input is one line and exit 2: --listen, a port in use, a config without rules', async () => {
    const dir = tempDir('swrm-serve-bad-');
    const file = config(dir, `rules:\n  - source: ${src.host}/x/app\n    destination: ${dst.host}/x\n    tags: [v1]\n`);
    const bad = await runCli(['serve', '--config', file, '--listen', 'localhost']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--listen must be HOST:PORT/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');

    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const busy = await runCli(['serve', '--config', file, '--listen', `127.0.0.1:${port}`, '--state-dir', join(dir, 'state')]);
    taken.close();
    assert.equal(busy.code, 2, busy.stderr);
    assert.match(busy.stderr, /cannot listen on 127\.0\.0\.1:\d+ \(the port is in use\)/);
    assert.doesNotMatch(busy.stderr, /\n\s+at /);

    const none = writeFile(dir, 'none.yaml', `version: 1\nrules: []\n`);
    const empty = await runCli(['serve', '--config', none]);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /rules: expected a non-empty list/);
  });
});
