// Issue 16: the burst window. Events for one repository within the window become one recheck.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Coalescer } from '../../lib/events/coalesce.js';
import type { RecheckMessage } from '../../lib/queue/messages.js';

const m = (source: string, tags?: string[], action: RecheckMessage['action'] = 'push'): RecheckMessage => ({ v: 1, kind: 'recheck', source, ...(tags ? { tags } : {}), action, via: 'harbor' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function collector(windowMs: number) {
  const sent: RecheckMessage[] = [];
  const c = new Coalescer({ windowMs, send: async (x) => void sent.push(x) });
  return { c, sent };
}

describe('Coalescer', () => {
  test('a burst of 50 events for one repository is one send, after the window, with the tags merged', async () => {
    const { c, sent } = collector(40);
    const answers = Array.from({ length: 50 }, (_, i) => c.offer(m('r.io/team/app', [`t${i % 10}`])));
    assert.equal(answers[0], 'scheduled');
    assert.ok(answers.slice(1).every((a) => a === 'merged'));
    assert.equal(c.pending(), 1);
    assert.equal(sent.length, 0, 'nothing is sent before the window ends');
    await sleep(120);
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0]!.tags, Array.from({ length: 10 }, (_, i) => `t${i}`));
    assert.equal(c.pending(), 0);
    // After the window a new event starts a new one.
    assert.equal(c.offer(m('r.io/team/app', ['x'])), 'scheduled');
    await c.flush();
    assert.equal(sent.length, 2);
  });
  test('repositories are windowed apart; a push and a delete of one repository merge into a push', async () => {
    const { c, sent } = collector(10_000);
    c.offer(m('r.io/a', ['1'], 'delete'));
    c.offer(m('r.io/b', ['1']));
    assert.equal(c.offer(m('r.io/a', ['2'])), 'merged');
    assert.equal(c.pending(), 2);
    await c.flush();
    assert.deepEqual(sent.map((x) => [x.source, x.action, x.tags]), [['r.io/a', 'push', ['1', '2']], ['r.io/b', 'push', ['1']]]);
  });
  test('deletes alone stay a delete; an event without tags, or more than 100 tags, makes it the whole repository', async () => {
    const { c, sent } = collector(10_000);
    c.offer(m('r.io/d', ['1'], 'delete'));
    c.offer(m('r.io/d', ['2'], 'delete'));
    c.offer(m('r.io/none', ['1']));
    c.offer(m('r.io/none'));
    c.offer(m('r.io/none', ['2']));
    for (let i = 0; i < 101; i++) c.offer(m('r.io/many', [`t${i}`]));
    await c.flush();
    const by = new Map(sent.map((x) => [x.source, x]));
    assert.deepEqual([by.get('r.io/d')!.action, by.get('r.io/d')!.tags], ['delete', ['1', '2']]);
    assert.equal(by.get('r.io/none')!.tags, undefined);
    assert.equal(by.get('r.io/many')!.tags, undefined);
  });
  test('flush sends everything now (SIGTERM) and waits for it; the offered message is never mutated', async () => {
    const sent: string[] = [];
    const c = new Coalescer({ windowMs: 60_000, send: async (x) => (await sleep(20), void sent.push(x.source)) });
    const first = m('r.io/x', ['1']);
    c.offer(first);
    c.offer(m('r.io/x', ['2']));
    c.offer(m('r.io/y'));
    await c.flush();
    assert.deepEqual(sent.sort(), ['r.io/x', 'r.io/y']);
    assert.deepEqual(first.tags, ['1']);
    assert.equal(c.pending(), 0);
  });
  test('a failed send goes to onError (thrown at once or rejected), and flush still resolves', async () => {
    const errors: string[] = [];
    const c = new Coalescer({
      windowMs: 60_000,
      send: (x) => {
        if (x.source === 'r.io/sync') throw new Error('sync boom');
        return Promise.reject(new Error('async boom'));
      },
      onError: (err, x) => errors.push(`${x.source}: ${(err as Error).message}`),
    });
    c.offer(m('r.io/sync'));
    c.offer(m('r.io/async'));
    await c.flush();
    assert.deepEqual(errors.sort(), ['r.io/async: async boom', 'r.io/sync: sync boom']);
  });
});
