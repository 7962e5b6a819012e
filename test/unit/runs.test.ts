// Runs in the state store (issue 14, item 2): a message is counted once however often it settles,
// a replayed failure moves its count, an expansion adds its copies to the run once and before it
// sends them, and the scheduled planner reads the last run's record instead of the queue's counts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNativeConfig } from '../../lib/config/native.js';
import { runScheduledPlan } from '../../lib/lambda/planner.js';
import { processMessage, type ProcessDeps } from '../../lib/pipeline/copier.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { decodeMessage, encodeMessage } from '../../lib/queue/messages.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { RUN_MAX_AGE_MS, RunTracker, newRunId, runInProgress, runLine, runTime, settledTotal } from '../../lib/state/runs.js';

const copy = (n: number, run?: string) => encodeMessage({ v: 1, kind: 'copy-image', source: `src.example/app:v${n}`, destination: `dst.example/app:v${n}`, ...(run ? { run } : {}) });
const tracker = () => new RunTracker(new MemoryStateStore());
const queue = () => new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 3, dlq: new InMemoryDeadLetterStore() });

describe('run records', () => {
  test('run ids sort by time and give it back', () => {
    const a = newRunId(new Date('2025-01-02T03:04:05.678Z'));
    const b = newRunId(new Date('2025-01-02T03:04:06.000Z'));
    assert.match(a, /^20250102T030405678Z-[0-9a-f]{6}$/);
    assert.ok(a < b);
    assert.equal(runTime(a), Date.parse('2025-01-02T03:04:05.678Z'));
  });

  test('the same message settled twice (a second delivery, a duplicate) counts once', async () => {
    const t = tracker();
    await t.start('r1', 2, { images: 2, repositories: 0 });
    await t.settled('r1', copy(1, 'r1'), 'copied');
    await t.settled('r1', copy(1, 'r1'), 'skipped');
    await Promise.all([t.settled('r1', copy(2, 'r1'), 'copied'), t.settled('r1', copy(2, 'r1'), 'copied')]);
    const [run] = await t.last(1);
    assert.deepEqual(run!.settled, { copied: 2, skipped: 0, filtered: 0, kept: 0, failed: 0, deferred: 0, expanded: 0 });
    assert.equal(runInProgress(run!), false);
  });

  test('a failure replayed from the DLQ that now copies moves its count; a success never moves', async () => {
    const t = tracker();
    await t.start('r1', 2, { images: 2, repositories: 0 });
    await t.settled('r1', copy(1, 'r1'), 'failed');
    await t.settled('r1', copy(2, 'r1'), 'deferred');
    await t.settled('r1', copy(1, 'r1'), 'copied');
    await t.settled('r1', copy(1, 'r1'), 'failed');
    const [run] = await t.last(1);
    assert.equal(run!.settled.failed, 0);
    assert.equal(run!.settled.copied, 1);
    assert.equal(run!.settled.deferred, 1);
    assert.equal(settledTotal(run!), 2);
  });

  test('an expansion adds its copies once, however often it runs; one that finds more adds the difference', async () => {
    const t = tracker();
    await t.start('r1', 1, { images: 0, repositories: 1 });
    const expand = '{"kind":"expand-repository"}';
    await t.expanding('r1', expand, [copy(1), copy(2)]);
    await t.expanding('r1', expand, [copy(1), copy(2)]);
    assert.equal((await t.last(1))[0]!.enqueued, 3);
    await t.expanding('r1', expand, [copy(1), copy(2), copy(3), copy(3)]);
    assert.equal((await t.last(1))[0]!.enqueued, 4, 'the new tag; a body twice is one message');
  });

  test('in progress while unsettled, but never beyond the longest a message can live', () => {
    const now = Date.parse('2025-03-01T00:00:00Z');
    const zero = { copied: 0, skipped: 0, filtered: 0, kept: 0, failed: 0, deferred: 0, expanded: 0 };
    const run = { id: newRunId(new Date(now - 3_600_000)), enqueued: 3, settled: { ...zero, copied: 2 } };
    assert.equal(runInProgress(run, now), true);
    assert.match(runLine(run, now), /: 3 enqueued, 2 settled \(2 copied\); in progress$/);
    assert.equal(runInProgress({ ...run, settled: { ...zero, copied: 2, failed: 1 } }, now), false);
    assert.equal(runInProgress(run, now + RUN_MAX_AGE_MS), false);
    assert.match(runLine(run, now + RUN_MAX_AGE_MS), /unfinished \(too old to be running\)$/);
  });

  test('the last runs come newest first', async () => {
    const t = tracker();
    const ids = [0, 1, 2].map((i) => newRunId(new Date(Date.UTC(2025, 0, 1 + i))));
    for (const id of [ids[1]!, ids[0]!, ids[2]!]) await t.start(id, 1, { images: 1, repositories: 0 });
    assert.deepEqual((await t.last(2)).map((r) => r.id), [ids[2], ids[1]]);
  });
});

describe('the copier counts the messages of runs', () => {
  function deps(runs: RunTracker, sent: string[][], onSend?: () => Promise<void>): ProcessDeps {
    return {
      pool: {} as never,
      ctx: {} as never,
      maxReceiveCount: 3,
      list: async () => ['v1', 'v2'],
      lister: () => undefined,
      send: async (bodies) => {
        await onSend?.();
        sent.push(bodies);
      },
      runs,
    };
  }
  const msg = (body: string, id = 'm1') => ({ id, body, receiptHandle: 'h', receiveCount: 1 });

  test('an expansion passes its run on, and adds its copies to the run before it sends them', async () => {
    const t = tracker();
    await t.start('r1', 1, { images: 0, repositories: 1 });
    const sent: string[][] = [];
    let enqueuedAtSend = -1;
    const d = deps(t, sent, async () => void (enqueuedAtSend = (await t.last(1))[0]!.enqueued));
    const expand = encodeMessage({ v: 1, kind: 'expand-repository', source: 'src.example/app', destinations: ['dst.example/mirror'], run: 'r1' });
    const { outcome } = await processMessage(msg(expand), d);
    assert.equal(outcome?.status, 'expanded');
    assert.deepEqual(sent[0]!.map((b) => decodeMessage(b).run), ['r1', 'r1']);
    assert.equal(enqueuedAtSend, 3, 'counted before the copies could settle');
    const [run] = await t.last(1);
    assert.equal(run!.settled.expanded, 1);
    assert.equal(runInProgress(run!), true, 'its two copies are to do');
  });

  test('a message without a run, or not a message, counts nowhere', async () => {
    const store = new MemoryStateStore();
    const t = new RunTracker(store);
    const sent: string[][] = [];
    await processMessage(msg('not json'), deps(t, sent));
    const expand = encodeMessage({ v: 1, kind: 'expand-repository', source: 'src.example/app', destinations: ['dst.example/mirror'] });
    await processMessage(msg(expand), deps(t, sent));
    assert.deepEqual(sent[0]!.map((b) => decodeMessage(b).run), [undefined, undefined]);
    assert.deepEqual(await t.last(5), []);
  });
});

describe('the scheduled planner with runs', () => {
  const doc = (overlap?: boolean) =>
    parseNativeConfig(
      {
        version: 1,
        ...(overlap ? { defaults: { overlap } } : {}),
        rules: [
          { source: 'src.example/team/app', destination: 'dst.example/mirror', tags: ['v1', 'v2'] },
          { source: 'src.example/team/db', destination: 'dst.example/mirror' },
        ],
      },
      'c.yaml',
    );

  test('each message carries the run id; the run records what was enqueued', async () => {
    const q = queue();
    const runs = tracker();
    const summary = await runScheduledPlan({ config: doc(), queue: q, runs });
    assert.ok(summary.run);
    const got = await q.receive(10, 0);
    assert.deepEqual(got.map((m) => decodeMessage(m.body).run), [summary.run, summary.run, summary.run]);
    const [run] = await runs.last(1);
    assert.equal(run!.id, summary.run);
    assert.equal(run!.enqueued, 3);
    assert.equal(run!.images, 2);
    assert.equal(run!.repositories, 1);
  });

  test('skipped while the last run is in progress; planned once it has settled, whatever else the queue holds', async () => {
    const q = queue();
    const runs = tracker();
    const first = await runScheduledPlan({ config: doc(), queue: q, runs });
    const second = await runScheduledPlan({ config: doc(), queue: q, runs });
    assert.equal(second.sent, 0);
    assert.match(second.skipped ?? '', new RegExp(`previous run ${first.run} is still in progress \\(3 of 3 message\\(s\\) unsettled\\)`));
    // The copiers settle every message of the first run; another message (a replay's, another
    // tool's) stays on the queue, which the queue-count check would have waited for.
    for (const m of await q.receive(10, 0)) {
      await runs.settled(first.run!, m.body, 'copied');
      await q.ack(m);
    }
    await q.send(['{"not":"this run"}']);
    const third = await runScheduledPlan({ config: doc(), queue: q, runs });
    assert.equal(third.skipped, undefined);
    assert.equal(third.sent, 3);
    assert.notEqual(third.run, first.run);
  });

  test('a record that says "in progress" while the queue is empty lost a count: planned, with a warning', async () => {
    const q = queue();
    const runs = tracker();
    const first = await runScheduledPlan({ config: doc(), queue: q, runs });
    for (const m of await q.receive(10, 0)) await q.ack(m); // settled, but never counted
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, m: string) => void warnings.push(m), info: () => undefined, error: () => undefined } as never;
    const second = await runScheduledPlan({ config: doc(), queue: q, runs, logger });
    assert.equal(second.sent, 3);
    assert.match(warnings.join('\n'), new RegExp(`run ${first.run} has 3 message\\(s\\) unsettled, but the queue is empty: planning anyway`));
  });
});
