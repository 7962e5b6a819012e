// The pull-budget gate's rules (issue 13, item 1) on a fake clock and a fake source whose HEAD says
// what the test wants: a warm copier reads a spent budget again once its window turned over, a HEAD
// without headers ends pacing, an index's children are reserved with it, and a throttle is no budget.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { RateBudgetError } from '../../lib/errors.js';
import { PullBudget } from '../../lib/registry/limits/pull-budget.js';
import { PullBudgetGate } from '../../lib/registry/limits/pull-gate.js';
import type { ClientPool } from '../../lib/registry/pool.js';

const SOURCE = 'hub.example/library/app:v1';

function fakeClock(start = 10_000) {
  let t = start;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), advance: (ms: number) => void (t += ms) };
}

/** A pool with one budget; each HEAD answers with the next headers of `heads` (the last one repeats). */
function fakePool(clock: ReturnType<typeof fakeClock>, heads: IncomingHttpHeaders[]) {
  const budget = new PullBudget('hub.example', false, clock);
  const calls = { heads: 0 };
  const pool = {
    rateBudget: () => budget,
    client: () => ({
      manifestHead: async () => {
        const h = heads[Math.min(calls.heads, heads.length - 1)] ?? {};
        calls.heads++;
        budget.observe(h);
        return { digest: 'sha256:' + '0'.repeat(64) };
      },
    }),
  } as unknown as ClientPool;
  return { pool, budget, calls };
}

const stated = (remaining: number, w = 60) => ({ 'ratelimit-limit': `10;w=${w}`, 'ratelimit-remaining': `${remaining};w=${w}` });

describe('PullBudgetGate', () => {
  test('a source that states no budget is never held back or probed again', async () => {
    const clock = fakeClock();
    const { pool, calls } = fakePool(clock, [{}]);
    const gate = new PullBudgetGate(pool, { pace: false, clock });
    gate.count([SOURCE, SOURCE]);
    await gate.drain();
    const a = await gate.admit(SOURCE);
    assert.ok('admitted' in a);
    await a.admitted.reserve(5);
    assert.equal(calls.heads, 1, 'one probe for the plan, none per image');
  });

  test('a warm copier reads a spent budget again once the window turned over (no --pace)', async () => {
    const clock = fakeClock();
    const { pool, budget, calls } = fakePool(clock, [stated(4)]);
    const gate = new PullBudgetGate(pool, { pace: false, clock });
    await gate.drain(); // the Lambda copier plans nothing
    budget.observe(stated(0)); // the last GET of the window
    const first = await gate.admit(SOURCE);
    assert.ok('deferred' in first, 'admitted past a spent budget');
    assert.equal(first.deferred.code, 'SWRM_RATE_BUDGET');
    assert.equal(calls.heads, 0, 'no request while the window is spent');
    clock.advance(61_000);
    const later = await gate.admit(SOURCE);
    assert.ok('admitted' in later, 'still deferred after the window refilled');
    assert.equal(calls.heads, 1, 'one HEAD re-read the budget');
    assert.equal(gate.deferred, 1);
  });

  test('with --pace, waits for the window; a HEAD that states no budget ends the pacing', async () => {
    const clock = fakeClock();
    const { pool, budget, calls } = fakePool(clock, [{}]);
    const gate = new PullBudgetGate(pool, { pace: true, clock, pollMs: 5_000 });
    await gate.drain();
    budget.observe(stated(0, 30));
    const started = clock.now();
    const a = await gate.admit(SOURCE);
    assert.ok('admitted' in a);
    assert.ok(clock.now() - started >= 30_000, 'did not wait for the window');
    assert.equal(calls.heads, 1);
    assert.equal(budget.known, false, 'the budget is forgotten: no more pacing');
    await a.admitted.reserve(100);
    assert.equal(calls.heads, 1);
  });

  test('an index reserves its children with it: 1 + N GETs, and a conversion all at once', async () => {
    const clock = fakeClock();
    const { pool, budget } = fakePool(clock, [stated(3)]);
    const gate = new PullBudgetGate(pool, { pace: false, clock });
    gate.count([SOURCE]);
    await gate.drain();
    const a = await gate.admit(SOURCE);
    assert.ok('admitted' in a);
    await a.admitted.reserve(1); // the index
    await assert.rejects(a.admitted.reserve(3), (err) => err instanceof RateBudgetError, '3 children reserved with 2 GETs left');
    assert.equal(budget.available(), 2, 'a refused reservation takes nothing');
    await a.admitted.reserve(2);
    assert.equal(budget.available(), 0);
  });

  test('the plan notice counts at least one GET per image, and only where the budget is short', async () => {
    const clock = fakeClock();
    const { pool } = fakePool(clock, [stated(2)]);
    const lines: string[] = [];
    const gate = new PullBudgetGate(pool, { pace: false, clock, onNotice: (l) => lines.push(l) });
    gate.count([SOURCE, SOURCE, SOURCE]);
    await gate.drain();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /has 2 manifest GET\(s\) left .* the plan may need 3 or more/);
  });

  test('concurrent admissions after the window share one HEAD', async () => {
    const clock = fakeClock();
    const { pool, budget, calls } = fakePool(clock, [stated(10)]);
    const gate = new PullBudgetGate(pool, { pace: false, clock });
    await gate.drain();
    budget.observe(stated(0));
    clock.advance(60_000);
    const all = await Promise.all(Array.from({ length: 8 }, () => gate.admit(SOURCE)));
    assert.ok(all.every((a) => 'admitted' in a));
    assert.equal(calls.heads, 1);
  });

  test('a probe on its way holds back no copy: HEADs overlap with it, the first GET waits for its answer (issue 15, item 7)', async () => {
    const clock = fakeClock();
    const budget = new PullBudget('hub.example', false, clock);
    let answer!: () => void;
    const probe = new Promise<void>((resolve) => (answer = resolve));
    const pool = {
      rateBudget: () => budget,
      client: () => ({ manifestHead: async () => (await probe, budget.observe(stated(0)), { digest: 'sha256:' + '0'.repeat(64) }) }),
    } as unknown as ClientPool;
    const gate = new PullBudgetGate(pool, { pace: false, clock });
    gate.count([SOURCE]);
    const planned = gate.drain();
    const tick = new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 50));
    const a = await Promise.race([gate.admit(SOURCE), tick]);
    assert.notEqual(a, 'waiting', 'the copy waited for its source\'s probe before its first (free) HEAD');
    assert.ok(typeof a === 'object' && 'admitted' in a);
    let reserved = false;
    const get = a.admitted.reserve(1).then(() => (reserved = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(reserved, false, 'a GET went out before the probe said what the budget is');
    answer();
    await planned;
    // The probe read a spent budget: the GET is refused, so the image is left for later.
    await assert.rejects(get, (err) => err instanceof RateBudgetError);
  });

  test('a plan still being listed holds back no copy of a budgeted source: its GETs wait for the plan (issue 15, item 7)', async () => {
    const clock = fakeClock();
    const { pool, budget } = fakePool(clock, [stated(5)]);
    const lines: string[] = [];
    const gate = new PullBudgetGate(pool, { pace: false, clock, onNotice: (l) => lines.push(l) });
    gate.count([SOURCE]);
    await new Promise((resolve) => setTimeout(resolve, 10)); // the probe has answered: the budget is known
    assert.equal(budget.known, true);
    const tick = new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 50));
    const a = await Promise.race([gate.admit(SOURCE), tick]);
    assert.notEqual(a, 'waiting', 'the copy waited for the whole plan before its first (free) HEAD');
    assert.ok(typeof a === 'object' && 'admitted' in a);
    let reserved = false;
    const get = a.admitted.reserve(1).then(() => (reserved = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(reserved, false, 'a GET went out before the plan was compared with the budget');
    gate.count(Array.from({ length: 9 }, () => SOURCE)); // the rest of the plan
    await gate.drain();
    await get;
    assert.equal(lines.length, 1, 'the notice counts the whole plan, said before the first GET');
    assert.match(lines[0]!, /has 5 manifest GET\(s\) left .* the plan may need 10 or more/);
  });

  test('only RateBudgetError is a deferral: a 429 throttle is an ordinary, retryable failure', () => {
    const clock = fakeClock();
    const { pool } = fakePool(clock, [{}]);
    const gate = new PullBudgetGate(pool, { pace: false, clock });
    assert.equal(gate.deferral(new Error('429 Too Many Requests')), undefined);
    assert.ok(gate.deferral(new RateBudgetError('h', 'anonymous budget', new Date())));
  });
});
