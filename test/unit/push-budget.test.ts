// The SWR push budget (registry/limits/push-budget.ts) on a fake clock, and busy-tolerant retries
// (registry/http/retry.ts busyMaxMs): a 503 from SWR is waited out without spending an attempt.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { NetworkError, RegistryError } from '../../lib/errors.js';
import { type Clock, PushBudget, pushTenant } from '../../lib/registry/limits/push-budget.js';
import { BUSY_MAX_DELAY_MS, busyDelay, busyTolerant, markRetried, withRetry } from '../../lib/registry/http/retry.js';
import { RegistryTransport } from '../../lib/registry/http/transport.js';

/** Time moves only when the test says so; sleepers wake in order of their deadline. */
class FakeClock implements Clock {
  t = 0;
  private sleepers: { at: number; wake: () => void }[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ at: this.t + ms, wake }));
  }
  async advance(ms: number): Promise<void> {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.at <= this.t).sort((a, b) => a.at - b.at);
    this.sleepers = this.sleepers.filter((s) => s.at > this.t);
    for (const s of due) s.wake();
    await flush();
  }
}
const flush = () => new Promise<void>((r) => setImmediate(r));
const busy = (retryAfterMs?: number) => new RegistryError('busy', 503, 'swr.test', [{ code: 'SVCSTG.SWR.4090023', message: 'system busy' }], retryAfterMs);

describe('PushBudget: layer-push slots', () => {
  test('never more slots held than the concurrency; waiters start in order as slots end', async () => {
    const b = new PushBudget('t', 2, 100, new FakeClock());
    const started: number[] = [];
    const ends: (() => void)[] = [];
    const runs = [0, 1, 2, 3].map((i) => b.slot(() => new Promise<void>((end) => { started.push(i); ends.push(end); })));
    await flush();
    assert.deepEqual(started, [0, 1]);
    assert.equal(b.stats().active, 2);
    ends.shift()!();
    await flush();
    assert.deepEqual(started, [0, 1, 2]);
    while (ends.length) { ends.shift()!(); await flush(); }
    await Promise.all(runs);
    assert.deepEqual(started, [0, 1, 2, 3]);
    assert.deepEqual(b.stats(), { active: 0, peak: 2, tokens: 0 });
  });

  test('a slot is released when its work throws', async () => {
    const b = new PushBudget('t', 1, 100, new FakeClock());
    await assert.rejects(b.slot(async () => { throw new Error('boom'); }), /boom/);
    assert.equal(await b.slot(async () => 'next'), 'next');
    assert.equal(b.stats().active, 0);
  });

  test('an aborted wait leaves the queue and takes no slot', async () => {
    const b = new PushBudget('t', 1, 100, new FakeClock());
    let end!: () => void;
    const held = b.slot(() => new Promise<void>((r) => (end = r)));
    const ac = new AbortController();
    const waiting = b.slot(async () => assert.fail('must not run'), ac.signal);
    ac.abort(new Error('stop'));
    await assert.rejects(waiting, /stop/);
    end();
    await held;
    assert.deepEqual(b.stats(), { active: 0, peak: 1, tokens: 0 });
  });

  test('tighten keeps the smallest concurrency and rate of a tenant\'s entries', async () => {
    const b = new PushBudget('t', 5, 20);
    b.tighten(3, 40);
    b.tighten(8, 10);
    assert.equal(b.concurrency, 3);
    assert.equal(b.rate, 10);
    assert.throws(() => b.tighten(0, 1), /positive integer/);
    assert.throws(() => new PushBudget('t', 1, 0), /above 0/);
  });

  test('after tighten, held slots drain down to the new limit before anyone else starts', async () => {
    const b = new PushBudget('t', 3, 100, new FakeClock());
    const ends: (() => void)[] = [];
    const hold = () => b.slot(() => new Promise<void>((r) => ends.push(r)));
    const runs = [hold(), hold(), hold()];
    await flush();
    b.tighten(1, 100);
    runs.push(hold());
    await flush();
    ends.shift()!();
    ends.shift()!();
    await flush();
    assert.equal(ends.length, 1, 'two of three ended, still at the new limit of 1: the waiter waits');
    ends.shift()!();
    await flush();
    assert.equal(ends.length, 1, 'now the waiter runs');
    ends.shift()!();
    await Promise.all(runs);
    assert.equal(b.stats().peak, 3);
  });
});

describe('PushBudget: push requests per second', () => {
  test('tokens are spaced 1/rate apart, so no second holds more than `rate` of them', async () => {
    const clock = new FakeClock();
    const b = new PushBudget('t', 20, 4, clock);
    const at: number[] = [];
    const all = Array.from({ length: 10 }, () => b.token().then(() => at.push(clock.now())));
    await flush();
    for (let i = 0; i < 60; i++) await clock.advance(50);
    await Promise.all(all);
    assert.deepEqual(at, [0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2250]);
    for (const t of at) assert.ok(at.filter((u) => u >= t && u < t + 1000).length <= 4);
    assert.equal(b.stats().tokens, 10);
  });

  test('an idle budget hands out the next token at once, without a saved-up burst', async () => {
    const clock = new FakeClock();
    const b = new PushBudget('t', 20, 2, clock);
    await b.token();
    await clock.advance(10_000);
    await b.token(); // no wait: due long ago
    let second = false;
    void b.token().then(() => (second = true));
    await flush();
    assert.equal(second, false, 'the one after waits its 500 ms: idle time does not bank tokens');
    await clock.advance(500);
    assert.equal(second, true);
  });

  test('the tenant is the login user, else the registry host', () => {
    assert.equal(pushTenant('cn-north-4@AK', 'swr.cn-north-4.myhuaweicloud.com'), 'user:cn-north-4@AK');
    assert.equal(pushTenant(undefined, '127.0.0.1:5000'), 'host:127.0.0.1:5000');
  });
});

describe('busy-tolerant retries (busyMaxMs)', () => {
  const policy = { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 };

  test('busy answers spend no attempt while their waits stay under busyMaxMs', async () => {
    let calls = 0;
    const out = await withRetry(busyTolerant(policy, 10_000), async (attempt) => {
      calls++;
      if (calls <= 6) throw busy();
      return attempt;
    });
    assert.equal(calls, 7);
    assert.equal(out, 1, 'six busy answers, and the success is still the first attempt');
  });

  test('past busyMaxMs busy answers count like any failure', async () => {
    let calls = 0;
    await assert.rejects(withRetry(busyTolerant(policy, 0), async () => { calls++; throw busy(); }), /busy/);
    assert.equal(calls, policy.attempts);
  });

  test('without busyMaxMs, and for other errors, the attempt budget is unchanged', async () => {
    let calls = 0;
    await assert.rejects(withRetry(policy, async () => { calls++; throw busy(); }));
    assert.equal(calls, 2);
    calls = 0;
    await assert.rejects(withRetry(busyTolerant(policy), async () => { calls++; throw new NetworkError('h', 'connection reset'); }));
    assert.equal(calls, 2);
  });

  test('a busy error a lower layer already retried is not retried again', async () => {
    let calls = 0;
    await assert.rejects(withRetry(busyTolerant(policy), async () => { calls++; const e = busy(); markRetried(e); throw e; }));
    assert.equal(calls, 1);
  });

  test('the busy wait grows with jitter, honours Retry-After and is capped', () => {
    const p = { attempts: 3, baseDelayMs: 250, maxDelayMs: 20_000 };
    assert.equal(busyDelay(p, 1, undefined, () => 0), 63);
    assert.equal(busyDelay(p, 3, undefined, () => 1), 1000);
    assert.equal(busyDelay(p, 20, undefined, () => 1), BUSY_MAX_DELAY_MS);
    assert.equal(busyDelay(p, 1, busy(3000)), 3000, 'Retry-After');
    assert.equal(busyDelay(p, 1, busy(60_000)), BUSY_MAX_DELAY_MS, 'Retry-After, capped');
  });
});

describe('the transport takes a push-rate token for every send of a push request', () => {
  function answering(statuses: number[]): { dispatcher: Dispatcher; calls: string[] } {
    const calls: string[] = [];
    const dispatcher = {
      request: async (o: Dispatcher.RequestOptions) => {
        calls.push(`${o.method} ${o.path}`);
        const statusCode = statuses.shift() ?? 201;
        const text = statusCode === 503 ? '{"errors":[{"code":"SVCSTG.SWR.4090023"}]}' : '';
        return { statusCode, headers: { 'content-type': 'application/json' }, body: Object.assign(Readable.from(text ? [Buffer.from(text)] : []), { dump: async () => undefined }) };
      },
    } as unknown as Dispatcher;
    return { dispatcher, calls };
  }

  test('a manifest PUT answered 503 three times: four sends, four tokens, no attempt spent', async () => {
    const budget = new PushBudget('t', 1, 1000);
    const { dispatcher, calls } = answering([503, 503, 503]);
    const t = new RegistryTransport({ host: 'swr.test', dispatcher, pushBudget: budget, retry: busyTolerant({ attempts: 1, baseDelayMs: 1, maxDelayMs: 2 }) });
    const res = await t.send({ method: 'PUT', url: '/v2/o/r/manifests/v1', body: Buffer.from('{}'), expect: [201], what: 'manifest PUT', push: true });
    assert.equal(res.statusCode, 201);
    assert.equal(calls.length, 4);
    assert.equal(budget.stats().tokens, 4);
  });

  test('requests that are not pushes take no token', async () => {
    const budget = new PushBudget('t', 1, 1000);
    const { dispatcher } = answering([200]);
    const t = new RegistryTransport({ host: 'swr.test', dispatcher, pushBudget: budget });
    await t.send({ method: 'GET', url: '/v2/', expect: [200], what: 'ping' });
    assert.equal(budget.stats().tokens, 0);
  });
});
