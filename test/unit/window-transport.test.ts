// The transport and the windows (registry/http/transport.ts, limits/window-gate.ts), over a fake
// dispatcher: a request holds its window until its body is done; a throttle (429 with no budget or
// budget left, 503) cuts the window; a 429 that says Docker Hub's pull budget is spent is a budget,
// not congestion, and cuts nothing (limits/pull-budget.ts semantics unchanged).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { RateBudgetError, RegistryError } from '../../lib/errors.js';
import { RegistryTransport } from '../../lib/registry/http/transport.js';
import { RegistryWindows } from '../../lib/registry/limits/window-gate.js';
import { PullBudget } from '../../lib/registry/limits/pull-budget.js';

const ONCE = { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 };

/** Answers each request with the next status (and headers); bodies close when read or dumped, as undici's do. */
function answering(answers: { status: number; headers?: Record<string, string> }[]): Dispatcher {
  let i = 0;
  return {
    request: async () => {
      const a = answers[Math.min(i++, answers.length - 1)]!;
      const body = Readable.from([Buffer.from('{}')]);
      return {
        statusCode: a.status,
        headers: { 'content-type': 'application/json', ...a.headers },
        // undici's dump() resolves once the body closed.
        body: Object.assign(body, { dump: () => new Promise<void>((resolve) => body.once('close', () => resolve()).destroy()) }),
      };
    },
  } as unknown as Dispatcher;
}

const manifestGet = { method: 'GET', url: '/v2/a/manifests/v1', expect: [200], what: 'manifest GET a:v1' } as const;

describe('the transport holds a window per request', () => {
  test('a request holds its action\'s window until its body is done', async () => {
    const windows = new RegistryWindows('r.test', 8);
    const t = new RegistryTransport({ host: 'r.test', dispatcher: answering([{ status: 200 }]), windows, retry: ONCE });
    const res = await t.send(manifestGet);
    assert.equal(windows.gate('manifest').active, 1);
    await res.body.dump();
    assert.equal(windows.gate('manifest').active, 0);
  });

  test('a 429 without a spent budget, and a 503, cut the window; each request leaves it', async () => {
    for (const status of [429, 503]) {
      const windows = new RegistryWindows('r.test', 8);
      const t = new RegistryTransport({ host: 'r.test', dispatcher: answering([{ status, headers: { 'ratelimit-remaining': '50;w=21600' } }]), windows, retry: ONCE, rateBudget: new PullBudget('r.test', false) });
      await assert.rejects(t.send(manifestGet), RegistryError);
      const s = windows.gate('manifest').stats();
      assert.equal(s.decreases, 1, `${status}`);
      assert.equal(s.inFlight, 0, `${status}: the refused request left its window`);
    }
  });

  test('a 429 that says the pull budget is spent is a budget, not a throttle: the window is not cut', async () => {
    const windows = new RegistryWindows('r.test', 8);
    const budget = new PullBudget('r.test', false);
    const t = new RegistryTransport({
      host: 'r.test',
      dispatcher: answering([{ status: 429, headers: { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '0;w=21600' } }]),
      windows, retry: ONCE, rateBudget: budget,
    });
    await assert.rejects(t.send(manifestGet), RateBudgetError);
    const s = windows.gate('manifest').stats();
    assert.equal(s.decreases, 0);
    assert.equal(s.signals, 0);
    assert.equal(s.inFlight, 0);
  });

  test('requests beyond the window wait for it; an aborted waiter is never sent', async () => {
    const windows = new RegistryWindows('r.test', 1);
    let sent = 0;
    const base = answering([{ status: 200 }]);
    const dispatcher = { request: (o: Dispatcher.RequestOptions) => ((sent++), base.request(o)) } as unknown as Dispatcher;
    const t = new RegistryTransport({ host: 'r.test', dispatcher, windows, retry: ONCE });
    const first = await t.send(manifestGet);
    const abort = new AbortController();
    const second = t.send({ ...manifestGet, signal: abort.signal });
    await new Promise((r) => setImmediate(r));
    assert.equal(sent, 1, 'the second request went past a full window');
    abort.abort();
    await assert.rejects(second, { name: 'AbortError' });
    await first.body.dump();
    const third = await t.send(manifestGet);
    await third.body.dump();
    assert.equal(sent, 2);
  });
});
