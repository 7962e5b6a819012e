// Adaptive concurrency (issue 15, item 3) against real registries behind a throttling stand-in
// (test/helpers/throttle-proxy.ts: 429 when more than N requests of one kind are in flight):
//   - the windows learn N: no 429 after the first congestion epoch, and at least 90% of N in
//     flight on average, measured at the stand-in, while 64 callers want more;
//   - the registry's `concurrency` bounds every window: with --proc 64 the registries never see
//     more than it in flight, of any kind;
//   - `maxBytesPerSecond` bounds blob bytes per second within 10%, downloads and uploads, and time
//     held back by it does not count against a request's deadline.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ClientPool } from '../../lib/registry/pool.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getManifest, pushBlob, pushImage, randomLayer } from '../helpers/push.js';
import { type ThrottleProxyHandle, startThrottleProxy } from '../helpers/throttle-proxy.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

let src: RegistryHandle;
let dst: RegistryHandle;
before(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
});
after(stopAll);

const drain = async (body: AsyncIterable<Uint8Array>): Promise<number> => {
  let n = 0;
  for await (const chunk of body) n += chunk.length;
  return n;
};

describe('AIMD windows against a stand-in that refuses above N in flight', () => {
  const N = 6;
  // A WAN round trip: long against the client's own turnaround between two requests, which the
  // stand-in cannot count as in flight even under a loaded machine.
  const HOLD_MS = 500;
  const GETS = 200;
  let proxy: ThrottleProxyHandle;
  const blobs: { digest: string; size: number }[] = [];

  before(async () => {
    for (let i = 0; i < 24; i++) blobs.push(await pushBlob(src, 'aimd/blobs', randomLayer(4_096)));
    proxy = await startThrottleProxy(src, { limit: N, holdMs: HOLD_MS });
  });
  after(() => proxy.stop());

  test(`64 callers, ${GETS} blob GETs: 429s in the first epoch only, then at least 90% of N in flight`, { timeout: 60_000 }, async (t) => {
    const pool = new ClientPool({ resolve: () => ({ insecure: true }) });
    const client = pool.client(proxy.host, 'aimd/blobs', 'source');
    let next = 0;
    let failed = 0;
    const started = proxy.now();
    try {
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < GETS) {
          const blob = blobs[next++ % blobs.length]!;
          try {
            const { body } = await client.blobGet('aimd/blobs', blob.digest);
            assert.equal(await drain(body), blob.size);
          } catch {
            failed++; // a GET whose three attempts all met a 429: counted below, not hidden
          }
        }
      }));
    } finally {
      await pool.close();
    }
    const s = proxy.kinds.get('blob')!;
    const windows = pool.windowStats()[proxy.host]!.blob!;
    const elapsed = proxy.now() - started;
    const firstRefusal = s.refusedAt[0];
    assert.ok(firstRefusal !== undefined, 'slow start never reached N: the test proves nothing');
    // Requests sent before the client took in the first 429 arrive at most a moment after it.
    const epochEnd = firstRefusal + HOLD_MS;
    const late = s.refusedAt.filter((at) => at > epochEnd);
    const lastArrival = s.arrivals[s.arrivals.length - 1]!;
    const mean = proxy.meanInFlight('blob', epochEnd, lastArrival);
    const throughput = (s.arrivals.filter((a) => a >= epochEnd).length / (lastArrival - epochEnd)) * 1000;
    // The stand-in's cap: N at once, each for its service time (Little's law).
    const service = s.durations.reduce((a, b) => a + b, 0) / s.durations.length;
    const cap = (N / service) * 1000;
    t.diagnostic(`${s.refusedAt.length} 429s, the first at ${firstRefusal.toFixed(0)} ms, ${late.length} after the first epoch; window ${JSON.stringify(windows)}`);
    t.diagnostic(`mean in flight after the first epoch ${mean.toFixed(2)} of ${N}; ${throughput.toFixed(0)} GETs/s (the stand-in's cap is about ${cap.toFixed(0)}); ${elapsed.toFixed(0)} ms in all`);
    assert.equal(failed, 0, 'a GET failed');
    assert.deepEqual(late, [], '429s after the first epoch');
    assert.equal(windows.decreases, 1, 'the window was cut again after the first epoch');
    assert.ok(s.peak <= N, `the stand-in saw ${s.peak} accepted at once`);
    assert.ok(mean >= 0.9 * N, `mean in flight ${mean.toFixed(2)} < 90% of ${N}`);
    assert.ok(throughput >= 0.9 * cap, `throughput ${throughput.toFixed(0)}/s < 90% of the stand-in's ${cap.toFixed(0)}/s`);
  });
});

describe('the registry\'s concurrency bounds every window', () => {
  test('sync --proc 64 through stand-ins refusing above 8: the registries see at most `concurrency: 3` of any kind, and no 429', { timeout: 120_000 }, async (t) => {
    const shared = randomLayer(3_000);
    for (let i = 0; i < 12; i++) {
      await pushImage(src, `bound/app${i}`, 'v1', { format: i % 2 ? 'oci' : 'docker', layers: [shared, randomLayer(2_000), randomLayer(1_500), randomLayer(1_000)] });
    }
    const [srcProxy, dstProxy] = await Promise.all([startThrottleProxy(src, { limit: 8, holdMs: 15 }), startThrottleProxy(dst, { limit: 8, holdMs: 15 })]);
    try {
      const dir = tempDir('swrm-aimd-');
      const config = writeFile(dir, 'sync.yaml', `version: 1
registries:
  "${srcProxy.host}": { insecure: true, concurrency: 3 }
  "${dstProxy.host}": { insecure: true, concurrency: 3 }
rules:
  - source: ${srcProxy.host}/bound/*
    destination: ${dstProxy.host}/copied
    mapping: path
`);
      const r = await runCli(['sync', '--config', config, '--proc', '64', '--dlq', `${dir}/dlq.jsonl`]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      for (const [name, p] of [['source', srcProxy], ['destination', dstProxy]] as const) {
        for (const [kind, s] of p.kinds) {
          t.diagnostic(`${name} ${kind}: peak ${s.peak}, ${s.accepted} accepted, ${s.refusedAt.length} refused`);
          assert.ok(s.peak <= 3, `${name} ${kind}: ${s.peak} in flight at once`);
          assert.equal(s.refusedAt.length, 0, `${name} ${kind} refused`);
        }
      }
      assert.ok((srcProxy.kinds.get('manifest')?.accepted ?? 0) >= 12);
      assert.ok((dstProxy.kinds.get('blob-head')?.accepted ?? 0) + (dstProxy.kinds.get('upload')?.accepted ?? 0) > 12);
      for (let i = 0; i < 12; i++) assert.ok(await getManifest(dst, `copied/bound/app${i}`, 'v1'), `copied/bound/app${i} missing`);
    } finally {
      await Promise.all([srcProxy.stop(), dstProxy.stop()]);
    }
  });
});

describe('maxBytesPerSecond', () => {
  const within10 = (actual: number, expected: number, what: string): void =>
    assert.ok(Math.abs(actual - expected) <= 0.1 * expected, `${what}: ${actual.toFixed(0)} B/s, expected ${expected.toFixed(0)} +-10%`);

  test('downloads: four blobs at once share the cap; the bytes per second stay within 10% of it', { timeout: 60_000 }, async (t) => {
    const RATE = 1024 * 1024;
    const blobs = await Promise.all([0, 1, 2, 3].map(() => pushBlob(src, 'bw/down', randomLayer(512 * 1024))));
    const pool = new ClientPool({ resolve: () => ({ insecure: true, maxBytesPerSecond: RATE }) });
    const client = pool.client(src.host, 'bw/down', 'source');
    const started = performance.now();
    let bytes = 0;
    try {
      await Promise.all(blobs.map(async (b) => {
        const { body } = await client.blobGet('bw/down', b.digest);
        const n = await drain(body);
        bytes += n;
      }));
    } finally {
      await pool.close();
    }
    const seconds = (performance.now() - started) / 1000;
    // The bucket starts with a tenth of a second's worth (its burst).
    const rate = (bytes - RATE * 0.1) / seconds;
    t.diagnostic(`${bytes} bytes in ${seconds.toFixed(2)} s: ${rate.toFixed(0)} B/s against ${RATE}`);
    assert.equal(bytes, blobs.reduce((n, b) => n + b.size, 0));
    within10(rate, RATE, 'download');
  });

  test('uploads: a streamed PUT at the cap, within 10%; its wait does not count against a 1 s deadline', { timeout: 60_000 }, async (t) => {
    const RATE = 64 * 1024;
    const data = randomLayer(256 * 1024);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    // 1 s of timeout plus 1 s for 256 KiB at the deadline's minimum rate: the 4 s the cap takes would overrun it.
    const pool = new ClientPool({ resolve: () => ({ insecure: true, maxBytesPerSecond: RATE }), timeout: 1 });
    const client = pool.client(dst.host, 'bw/up', 'destination');
    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < data.length; at += 16 * 1024) yield data.subarray(at, at + 16 * 1024);
    };
    let seconds: number;
    try {
      const url = await client.blobUploadStart('bw/up');
      const started = performance.now();
      await client.blobUploadFinish('bw/up', url, digest, data.length, chunks());
      seconds = (performance.now() - started) / 1000;
    } finally {
      await pool.close();
    }
    const rate = (data.length - RATE * 0.1) / seconds;
    t.diagnostic(`${data.length} bytes in ${seconds.toFixed(2)} s: ${rate.toFixed(0)} B/s against ${RATE}`);
    within10(rate, RATE, 'upload');
  });
});
