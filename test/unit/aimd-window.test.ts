// The AIMD windows (registry/limits/window.ts, window-gate.ts) and the bandwidth bucket
// (limits/bandwidth.ts), on a fake clock: slow start, one halving per congestion epoch, additive
// increase, the learned ceiling and its probe, the bounds; and a simulated registry that refuses
// above N requests in flight, which the window must fill to at least 90% without a refusal after
// its first epoch.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AimdWindow, INITIAL_WINDOW, PROBE_MS } from '../../lib/registry/limits/window.js';
import { RegistryWindows, WindowGate, requestAction } from '../../lib/registry/limits/window-gate.js';
import { ByteBucket } from '../../lib/registry/limits/bandwidth.js';

class FakeClock {
  t = 0;
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    this.t += ms;
    return Promise.resolve();
  }
}

/** Send `n` requests at levels 1..n and answer them all OK with the window full. */
function roundTrip(w: AimdWindow, n = w.limit): void {
  const sent = Array.from({ length: n }, (_, i) => w.sent(i + 1));
  for (const s of sent) w.succeeded(s, true);
}

describe('AimdWindow', () => {
  test('slow start: from the initial window, +1 per success with the window full; an idle window does not grow', () => {
    const w = new AimdWindow({ max: 64, clock: new FakeClock() });
    assert.equal(w.limit, INITIAL_WINDOW);
    roundTrip(w);
    assert.equal(w.limit, 8, 'doubles per round trip');
    roundTrip(w);
    assert.equal(w.limit, 16);
    for (let i = 0; i < 10; i++) w.succeeded(w.sent(1), false);
    assert.equal(w.limit, 16, 'successes of a window nobody fills say nothing');
    for (let i = 0; i < 10; i++) roundTrip(w);
    assert.equal(w.limit, 64, 'never above the bound');
  });

  test('a 429 halves the window once per epoch: answers to requests sent before the cut do not cut it again', () => {
    const w = new AimdWindow({ max: 64, initial: 32, clock: new FakeClock() });
    const burst = Array.from({ length: 32 }, (_, i) => w.sent(i + 1));
    assert.equal(w.congested(burst[31]!), true);
    assert.equal(w.limit, 16);
    for (const s of burst.slice(20, 31)) assert.equal(w.congested(s), false, 'same epoch');
    assert.equal(w.limit, 16);
    assert.equal(w.stats().decreases, 1);
    assert.equal(w.stats().signals, 12);
    // A request sent after the cut, refused: a new epoch.
    const later = w.sent(16);
    assert.equal(w.congested(later), true);
    assert.equal(w.limit, 8);
  });

  test('after a loss, additive increase: about +1 per window of successes', () => {
    const w = new AimdWindow({ max: 64, initial: 20, clock: new FakeClock() });
    w.congested(w.sent(30)); // ceiling 29, window 10
    assert.equal(w.limit, 10);
    roundTrip(w, 10);
    assert.equal(w.limit, 10, 'less than one whole request more after one window');
    roundTrip(w, 11);
    assert.equal(w.limit, 11);
    roundTrip(w, 11);
    assert.equal(w.limit, 12);
  });

  test('the ceiling: the most in flight less the refusals, whatever order they arrived in; it holds until PROBE_MS passed, then the window grows on additively', () => {
    const clock = new FakeClock();
    const w = new AimdWindow({ max: 64, initial: 16, clock });
    const burst = Array.from({ length: 16 }, (_, i) => w.sent(i + 1));
    // 16 sent at once, reaching the registry out of order: it took 11, refused the five that came
    // last, among them one sent at level 9 (a new connection), while the one sent at 16 got in.
    for (const level of [9, 15, 12, 13, 14]) w.congested(burst[level - 1]!);
    assert.equal(w.ceiling, 11);
    assert.equal(w.stats().decreases, 1);
    for (let i = 0; i < 200; i++) roundTrip(w);
    assert.equal(w.limit, 11, 'grows back to the ceiling, not past it');
    clock.t += PROBE_MS - 1;
    roundTrip(w);
    assert.equal(w.limit, 11);
    clock.t += 1;
    roundTrip(w);
    assert.equal(w.ceiling, 64, 'forgotten after PROBE_MS');
    assert.ok(w.limit <= 12, 'no burst past the old ceiling');
    roundTrip(w);
    roundTrip(w);
    assert.equal(w.limit, 13, 'one more per window of successes');
    // The registry still refuses the 12th: the ceiling is learnt again, in one epoch.
    assert.equal(w.congested(w.sent(12)), true);
    assert.equal(w.ceiling, 11, 'the epoch had 12 in flight, one refused');
    assert.equal(w.limit, 6);
  });

  test('never below 1: refusals at level 1 leave one request in flight; tighten lowers the bound', () => {
    const w = new AimdWindow({ max: 8, clock: new FakeClock() });
    for (let i = 0; i < 10; i++) w.congested(w.sent(1));
    assert.equal(w.limit, 1);
    assert.equal(w.ceiling, 1);
    const v = new AimdWindow({ max: 8, initial: 8, clock: new FakeClock() });
    v.tighten(3);
    assert.equal(v.limit, 3);
    v.tighten(5);
    assert.equal(v.limit, 3, 'tighten never loosens');
    assert.throws(() => new AimdWindow({ max: 0 }), /positive integer/);
  });

  test('against a registry that refuses above N in flight: no refusal after the first epoch, at least 90% of N used', () => {
    for (const N of [3, 8, 20, 50]) {
      const clock = new FakeClock();
      const w = new AimdWindow({ max: 64, clock });
      const SERVICE = 10;
      // Requests in flight: when each ends, and whether the registry refused it (refusals end at once).
      let flight: { end: number; s: ReturnType<AimdWindow['sent']>; refused: boolean }[] = [];
      let accepted = 0;
      let sentCount = 0;
      /** Requests sent from this sequence number on belong to the epochs after the first. */
      let firstCutAt: number | undefined;
      let refusalsAfterFirstEpoch = 0;
      let busySum = 0;
      let measured = 0;
      for (let t = 0; t < 4000; t++) {
        clock.t = t;
        const [due, rest] = [flight.filter((f) => f.end <= t), flight.filter((f) => f.end > t)];
        flight = rest;
        for (const f of due) {
          if (f.refused) {
            if (firstCutAt !== undefined && f.s.seq >= firstCutAt) refusalsAfterFirstEpoch++;
            if (w.congested(f.s)) firstCutAt ??= sentCount;
          } else {
            accepted--;
            w.succeeded(f.s, true);
          }
        }
        while (flight.length < w.limit) {
          const s = w.sent(flight.length + 1);
          sentCount++;
          const refused = accepted >= N;
          if (!refused) accepted++;
          flight.push({ end: t + (refused ? 1 : SERVICE), s, refused });
        }
        if (t >= 1000) {
          busySum += accepted;
          measured++;
        }
      }
      assert.equal(w.decreases, 1, `N=${N}: one halving, in the first epoch`);
      assert.equal(refusalsAfterFirstEpoch, 0, `N=${N}`);
      assert.ok(busySum / measured >= 0.9 * N, `N=${N}: ${(busySum / measured).toFixed(2)} in flight on average`);
    }
  });
});

describe('WindowGate', () => {
  test('holds requests beyond the window, lets them in FIFO, counts levels; a waiter that aborts leaves', async () => {
    const g = new WindowGate(2);
    const a = await g.acquire();
    const b = await g.acquire();
    assert.equal(g.active, 2);
    const order: string[] = [];
    const abort = new AbortController();
    const c = g.acquire().then((s) => (order.push('c'), s));
    const d = g.acquire(abort.signal).then((s) => (order.push('d'), s), (err: Error) => (order.push(`d ${err.name}`), undefined));
    const e = g.acquire().then((s) => (order.push('e'), s));
    abort.abort();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['d AbortError']);
    a.release(true);
    a.release(true); // twice: once only
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['d AbortError', 'c']);
    assert.equal(g.active, 2);
    b.release(false);
    (await c).release(true);
    (await e).release(true);
    await d;
    assert.deepEqual(order, ['d AbortError', 'c', 'e']);
    assert.equal(g.active, 0);
    assert.equal(g.peak, 2);
  });

  test('a refused request cuts its window and does not count as a success', async () => {
    const g = new WindowGate(16);
    const slots = await Promise.all(Array.from({ length: 4 }, () => g.acquire()));
    slots[3]!.congested();
    for (const s of slots) s.release(true);
    assert.equal(g.stats().decreases, 1);
    assert.equal(g.stats().ceiling, 3);
    assert.equal(g.window.limit, 2);
  });

  test('RegistryWindows: one window per action, the smallest bound wins', () => {
    const w = new RegistryWindows('r.io', 10);
    assert.notEqual(w.gate('blob'), w.gate('manifest'));
    assert.equal(w.gate('blob'), w.gate('blob'));
    w.tighten(3);
    w.tighten(6);
    for (let i = 0; i < 20; i++) w.gate('blob').window.succeeded(w.gate('blob').window.sent(1), true);
    assert.equal(w.gate('blob').window.limit, 3);
    assert.equal(w.gate('listing').window.limit, 3);
  });
});

describe('requestAction', () => {
  test('the distribution spec endpoints, by method and path', () => {
    const cases: [string, string, string][] = [
      ['GET', '/v2/', 'ping'],
      ['GET', '/v2/a/referrers/sha256:ab', 'other'],
      ['HEAD', '/v2/a/b/manifests/v1', 'manifest'],
      ['GET', '/v2/a/manifests/sha256:ab', 'manifest'],
      ['PUT', '/v2/a/manifests/v1', 'manifest-put'],
      ['DELETE', '/v2/a/manifests/sha256:ab', 'manifest-put'],
      ['GET', '/v2/a/blobs/sha256:ab', 'blob'],
      ['HEAD', '/v2/a/blobs/sha256:ab', 'blob-head'],
      ['POST', '/v2/a/blobs/uploads/', 'upload'],
      ['POST', '/v2/a/blobs/uploads/?mount=sha256%3Aab&from=b', 'mount'],
      ['PUT', '/v2/a/blobs/uploads/6f1e-uuid', 'upload'],
      ['PATCH', '/v2/a/blobs/uploads/6f1e-uuid', 'upload'],
      ['DELETE', '/v2/a/blobs/uploads/6f1e-uuid', 'upload'],
      ['GET', '/v2/a/tags/list', 'listing'],
      ['GET', '/v2/_catalog', 'listing'],
    ];
    for (const [method, path, action] of cases) {
      const url = new URL(path, 'https://r.io');
      assert.equal(requestAction(method, url.pathname, url.search), action, `${method} ${path}`);
    }
  });
});

describe('ByteBucket', () => {
  test('paces bytes at the rate, with a tenth of a second of burst; a big chunk is paid for by the ones after it', async () => {
    const clock = new FakeClock();
    const b = new ByteBucket(100_000, clock);
    await b.take(10_000); // the burst
    assert.equal(clock.t, 0);
    await b.take(50_000);
    assert.equal(clock.t, 500);
    for (let i = 0; i < 100; i++) await b.take(1_000);
    assert.equal(clock.t, 1500, '100 kB more at 100 kB/s');
    assert.throws(() => new ByteBucket(0), /above 0/);
  });
});
