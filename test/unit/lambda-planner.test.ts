// The scheduled planner's two-level fan-out and its overlap guard, on the embedded queue (no
// registry is asked anything: exact tags become copy messages, listed repositories expand messages).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNativeConfig } from '../../lib/config/native.js';
import { inProgress, planTwoLevel, runScheduledPlan } from '../../lib/lambda/planner.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { decodeMessage } from '../../lib/queue/messages.js';

const doc = (overlap?: boolean) => ({
  version: 1,
  ...(overlap !== undefined ? { defaults: { overlap } } : {}),
  rules: [
    { source: 'src.example/team/app', destination: 'dst.example/mirror', tags: ['v1', 'v2'] },
    { source: 'src.example/team/db', destination: ['dst.example/mirror', 'dst2.example/backup'] },
    { source: 'src.example/team/cache', destination: 'dst.example/mirror', tags: { include: ['^7'] } },
  ],
});
const queue = () => new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 3, dlq: new InMemoryDeadLetterStore() });

async function bodies(q: EmbeddedQueue) {
  const got = await q.receive(100, 0);
  return got.map((m) => decodeMessage(m.body));
}

describe('scheduled planner', () => {
  test('exact tags become copy messages, each listed repository one expand message', async () => {
    const q = queue();
    const summary = await runScheduledPlan({ config: parseNativeConfig(doc(), 'c.yaml'), queue: q });
    assert.deepEqual({ ...summary, durationMs: 0 }, { images: 2, repositories: 2, failedRules: 0, sent: 4, durationMs: 0 });
    const sent = await bodies(q);
    assert.deepEqual(sent.filter((m) => m.kind === 'copy-image').map((m) => m.source), ['src.example/team/app:v1', 'src.example/team/app:v2']);
    const expands = sent.filter((m) => m.kind === 'expand-repository');
    assert.deepEqual(expands.map((m) => m.source), ['src.example/team/db', 'src.example/team/cache']);
    assert.deepEqual(expands[0]!.kind === 'expand-repository' && expands[0]!.destinations, ['dst.example/mirror/db', 'dst2.example/backup/db']);
    assert.deepEqual(expands[1]!.kind === 'expand-repository' && expands[1]!.filter, { include: ['^7'] });
  });

  test('listed rules sharing a destination repository are one expand-group, with the exact rules among them', () => {
    const config = parseNativeConfig(
      {
        version: 1,
        rules: [
          { source: 'a.example/team/app', destination: 'dst.example/mirror' },
          { source: 'b.example/team/app', destination: 'dst.example/mirror' },
          { source: 'c.example/team/app', destination: 'dst.example/mirror', tags: ['v9'] },
          { source: 'a.example/team/db', destination: 'dst.example/mirror' },
          { source: 'a.example/team/tool', destination: 'dst.example/mirror', tags: ['v1'] },
        ],
      },
      'c.yaml',
    );
    const { copies, expands, groups } = planTwoLevel(config.rules);
    assert.equal(groups.length, 1);
    assert.deepEqual(groups[0]!.rules.map((r) => r.source), ['a.example/team/app', 'b.example/team/app']);
    assert.deepEqual(groups[0]!.copies?.map((c) => c.source), ['c.example/team/app:v9'], 'the exact rule onto mirror/app is checked with the group');
    assert.deepEqual(expands.map((e) => e.source), ['a.example/team/db'], 'a rule sharing nothing expands alone');
    assert.deepEqual(copies.map((c) => c.source), ['a.example/team/tool:v1']);
    // Exact rules onto one repository with no listed rule among them need no group.
    const exactOnly = parseNativeConfig({ version: 1, rules: [{ source: 'a.example/x/app', destination: 'dst.example/m', tags: ['1'] }, { source: 'b.example/y/app', destination: 'dst.example/m', tags: ['2'] }] }, 'c.yaml');
    assert.equal(planTwoLevel(exactOnly.rules).groups.length, 0);
  });

  test('a run while the previous one is still queued is skipped and says why', async () => {
    const q = queue();
    await q.send(['{"left":"over"}']);
    await q.receive(1, 0); // in flight
    const summary = await runScheduledPlan({ config: parseNativeConfig(doc(), 'c.yaml'), queue: q });
    assert.equal(summary.sent, 0);
    assert.match(summary.skipped ?? '', /still in progress \(0 visible, 1 in flight, 0 delayed\)/);
    assert.equal((await q.counts()).inFlight, 1, 'nothing was sent');
  });

  test('defaults.overlap: true plans anyway', async () => {
    const q = queue();
    await q.send(['{"left":"over"}']);
    const summary = await runScheduledPlan({ config: parseNativeConfig(doc(true), 'c.yaml'), queue: q });
    assert.equal(summary.skipped, undefined);
    assert.equal(summary.sent, 4);
    assert.equal((await q.counts()).visible, 5);
  });

  test('overlap must be a boolean in the config', () => {
    assert.throws(() => parseNativeConfig({ ...doc(), defaults: { overlap: 'yes' } }, 'c.yaml'), /defaults\.overlap/);
  });

  test('two exact sources for one destination are refused before anything is sent', () => {
    const config = parseNativeConfig(
      { version: 1, rules: [{ source: 'a.example/x/app:1', destination: 'd.example/m' }, { source: 'b.example/y/app:1', destination: 'd.example/m' }] },
      'c.yaml',
    );
    assert.throws(() => planTwoLevel(config.rules), { code: 'SWRM_CONFIG' });
  });

  test('inProgress counts delayed (held-back retries) as in progress', () => {
    assert.equal(inProgress({ visible: 0, inFlight: 0, delayed: 0 }), undefined);
    assert.match(inProgress({ visible: 0, inFlight: 0, delayed: 2 }) ?? '', /2 delayed/);
  });
});
