// Issue 16, item 5: a run's summary (lib/notify/summary.ts) and its announcement at a queue run's
// end (lib/notify/run-end.ts): counts by outcome (every RUN_OUTCOMES entry, without edits), failures
// by code with a few masked examples, the title line, `on: failure | always`; exactly one summary
// when the last two messages settle at once, none again when a replay moves a failure later.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageOutcome } from '../../lib/pipeline/copier.js';
import { RunEndNotifier } from '../../lib/notify/run-end.js';
import { publishInput, type SnsPublisher } from '../../lib/notify/sns.js';
import { type RunSummary, summaryFromOutcomes, summaryFromRecord, summaryText, summaryTitle, wantsNotice } from '../../lib/notify/summary.js';
import { webhookPayload } from '../../lib/notify/webhook.js';
import { notifyPolicy } from '../../lib/aws/package-grants.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { RUN_OUTCOMES, RunTracker } from '../../lib/state/runs.js';

const GiB = 1024 ** 3;
function outcome(status: ImageOutcome['status'], n: number, extra: Partial<ImageOutcome> = {}): ImageOutcome {
  return { body: `b${n}`, kind: 'copy-image', source: `src.example/app:v${n}`, destination: `dst.example/app:v${n}`, status, bytes: 0, durationMs: 1, attempt: 1, ...extra };
}
const fail = (n: number, code: string, message: string) => outcome('failed', n, { error: { code, message } });

describe('the run summary', () => {
  test('the title: copied and failed always, others when they happened, bytes and duration', () => {
    const outcomes = [...Array.from({ length: 40 }, (_, i) => outcome('copied', i)), fail(100, 'MANIFEST_UNKNOWN', 'manifest unknown'), fail(101, 'SWRM_NETWORK', 'cannot reach x')];
    const s = summaryFromOutcomes('R1', outcomes, { bytes: 1.2 * GiB, durationMs: 192_000 });
    assert.equal(summaryTitle(s), 'swr-migrate run R1: 40 copied, 2 failed, 1.2 GiB, 3m12s');
    assert.equal(s.status, 'failed');
    const clean = summaryFromOutcomes('R2', [outcome('copied', 1), outcome('skipped', 2), outcome('deferred', 3), outcome('retrying', 4)], { bytes: 0, durationMs: 5000 });
    assert.equal(summaryTitle(clean), 'swr-migrate run R2: 1 copied, 1 skipped, 0 failed, 1 deferred, 0 B, 5.0 s');
    assert.equal(clean.status, 'ok', 'deferred is not a failure');
    assert.match(summaryText(clean), /1 deferred: a source's pull budget was spent \(not failures\)/);
  });

  test('failures grouped by code, most frequent first, three examples each, masked and on one line', () => {
    const outcomes = [
      fail(1, 'SWRM_NETWORK', 'cannot reach a'),
      ...[2, 3, 4, 5].map((n) => fail(n, 'MANIFEST_UNKNOWN', `manifest v${n} unknown; password=hunter2\nforged line`)),
      outcome('failed', 6, { kind: 'expand-repository', error: { code: 'SWRM_LISTING', message: 'listing refused' } }),
    ];
    const s = summaryFromOutcomes('R3', outcomes, { bytes: 0, durationMs: 10 });
    assert.deepEqual(s.failures.map((g) => [g.code, g.count, g.examples.length]), [['MANIFEST_UNKNOWN', 4, 3], ['SWRM_LISTING', 1, 1], ['SWRM_NETWORK', 1, 1]]);
    assert.equal(s.rulesFailed, 1);
    assert.equal(s.counts.failed, 5);
    const text = summaryText(s);
    assert.doesNotMatch(text, /hunter2/);
    assert.doesNotMatch(text, /\nforged line/);
    assert.match(text, /^MANIFEST_UNKNOWN x 4\n  src\.example\/app:v2 -> dst\.example\/app:v2: manifest v2 unknown; password=\[redacted\] forged line$/m);
    assert.match(text, /^  \.\.\. and 1 more$/m);
    assert.match(summaryTitle(s), /5 failed, 1 rule\(s\) failed/);
  });

  test('every outcome of RUN_OUTCOMES is counted, and an outcome it does not list yet still shows', () => {
    const s = summaryFromOutcomes('R4', [outcome('filtered', 1), outcome('kept', 2), outcome('unheard-of' as ImageOutcome['status'], 3)], { bytes: 0, durationMs: 0 });
    assert.deepEqual(Object.keys(s.counts).slice(0, RUN_OUTCOMES.length), [...RUN_OUTCOMES]);
    assert.match(summaryTitle(s), /0 copied, 1 filtered, 1 kept, 0 failed, 1 unheard-of/);
  });

  test('on: failure sends only failed runs; always sends all; no target sends nothing', () => {
    const ok = summaryFromOutcomes('R5', [outcome('copied', 1)], { bytes: 0, durationMs: 0 });
    const bad = summaryFromOutcomes('R6', [fail(1, 'X', 'y')], { bytes: 0, durationMs: 0 });
    const hook = { webhookUrl: 'https://hooks.example/x' };
    assert.equal(wantsNotice({ on: 'failure', ...hook }, ok), false);
    assert.equal(wantsNotice({ on: 'failure', ...hook }, bad), true);
    assert.equal(wantsNotice({ on: 'always', ...hook }, ok), true);
    assert.equal(wantsNotice({ on: 'always' }, ok), false);
    assert.equal(wantsNotice(undefined, bad), false);
  });

  test('SNS Publish: status and run as String attributes, an ASCII subject of at most 100 characters', () => {
    const s = summaryFromOutcomes(`R${'x'.repeat(120)}`, [fail(1, 'X', 'y')], { bytes: 0, durationMs: 0 });
    const input = publishInput('arn:aws:sns:us-east-1:123456789012:t', s);
    assert.deepEqual(input.MessageAttributes.status, { DataType: 'String', StringValue: 'failed' });
    assert.equal(input.MessageAttributes.run.StringValue, s.run);
    assert.ok(input.Subject.length <= 100 && /^[\x20-\x7e]+$/.test(input.Subject));
    assert.equal(input.Message, summaryText(s));
  });

  test('the webhook payload: text, and blocks with mrkdwn control characters escaped', () => {
    const s = summaryFromOutcomes('R7', [fail(1, 'X', 'a <b> & c')], { bytes: 0, durationMs: 0 });
    const p = webhookPayload(s);
    assert.equal(p.text, summaryText(s));
    assert.match(JSON.stringify(p.blocks), /a &lt;b&gt; &amp; c/);
  });
});

describe('a queue run announces its end once', () => {
  const copy = (n: number, run: string) => encodeMessage({ v: 1, kind: 'copy-image', source: `src.example/app:v${n}`, destination: `dst.example/app:v${n}`, run });
  function setup(on: 'failure' | 'always' = 'always') {
    const store = new MemoryStateStore();
    const tracker = new RunTracker(store);
    const sent: { topic: string; summary: RunSummary }[] = [];
    const sns: SnsPublisher = { publish: async (topic, summary) => (sent.push({ topic, summary }), 'id') };
    // Two copiers (two containers): two notifiers over the same store.
    const settings = { on, snsTopicArn: 'arn:aws:sns:us-east-1:123456789012:runs' };
    const a = new RunEndNotifier(new RunTracker(store), settings, { sns });
    const b = new RunEndNotifier(new RunTracker(store), settings, { sns });
    return { tracker, sent, a, b };
  }

  test('the last two messages settled at once by two copiers: one summary, with bytes and failures', async () => {
    const { tracker, sent, a, b } = setup();
    await tracker.start('run1', 4, { images: 4, repositories: 0 });
    await a.settled('run1', copy(1, 'run1'), 'copied', { bytes: 100 });
    await b.settled('run1', copy(2, 'run1'), 'copied', { bytes: 50 });
    assert.equal(sent.length, 0, 'nothing before the end');
    await Promise.all([
      a.settled('run1', copy(3, 'run1'), 'failed', { source: 'src.example/app:v3', destination: 'dst.example/app:v3', error: { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' } }),
      b.settled('run1', copy(4, 'run1'), 'deferred', {}),
    ]);
    assert.equal(sent.length, 1);
    const s = sent[0]!.summary;
    assert.equal(s.status, 'failed');
    assert.equal(s.bytes, 150);
    assert.deepEqual([s.counts.copied, s.counts.failed, s.counts.deferred], [2, 1, 1]);
    assert.deepEqual(s.failures, [{ code: 'MANIFEST_UNKNOWN', count: 1, examples: [{ source: 'src.example/app:v3', destination: 'dst.example/app:v3', message: 'manifest unknown' }] }]);
  });

  test('a replay that settles the failure again later sends nothing more; the record moves its failure', async () => {
    const { tracker, sent, a } = setup();
    await tracker.start('run2', 1, { images: 1, repositories: 0 });
    await a.settled('run2', copy(1, 'run2'), 'failed', { error: { code: 'SWRM_NETWORK', message: 'down' } });
    assert.equal(sent.length, 1, 'the last message went to the DLQ: the run ended, failed');
    await a.settled('run2', copy(1, 'run2'), 'copied', { bytes: 10 });
    assert.equal(sent.length, 1, 'announced once');
    assert.deepEqual(await tracker.failures('run2'), []);
  });

  test('the planner\'s failed rules make the run failed; on: failure sends nothing for a clean run', async () => {
    const f = setup('failure');
    await f.tracker.start('run3', 1, { images: 1, repositories: 0 });
    await f.a.settled('run3', copy(1, 'run3'), 'copied');
    assert.equal(f.sent.length, 0);
    await f.tracker.start('run4', 1, { images: 1, repositories: 0 });
    await f.tracker.rulesFailed('run4', [{ source: 'gone.example/lost/*', destination: 'dst.example/lost', error: { code: 'NAME_UNKNOWN', message: 'gone' } }]);
    await f.a.settled('run4', copy(1, 'run4'), 'copied');
    assert.equal(f.sent.length, 1);
    assert.equal(f.sent[0]!.summary.status, 'failed');
    assert.equal(f.sent[0]!.summary.rulesFailed, 1);
    assert.equal(f.sent[0]!.summary.failures[0]!.code, 'NAME_UNKNOWN');
  });
});

test('summaryFromRecord: duration from the run start, unfinished when counts are short', () => {
  const s = summaryFromRecord({ id: 'r', started: '2025-01-01T00:00:00.000Z', enqueued: 3, settled: { copied: 2 } as never, bytes: 5 }, [], Date.parse('2025-01-01T00:01:00.000Z'));
  assert.equal(s.durationMs, 60_000);
  assert.equal(s.unfinished, 1);
});

test('the copier is granted sns:Publish on the topic only when notify.sns is set, Query on the table when notify is', () => {
  type Policy = { Properties: { PolicyDocument: { Statement: unknown[] } } };
  const table = { 'Fn::GetAtt': ['StateTable', 'Arn'] };
  const query = { Sid: 'NotifyRunFailures', Effect: 'Allow', Action: ['dynamodb:Query'], Resource: table };
  assert.equal(notifyPolicy(undefined, 'CopierRole'), undefined);
  const hookOnly = notifyPolicy({ on: 'always', webhookUrl: 'https://hooks.example/x' }, 'CopierRole') as Policy;
  assert.deepEqual(hookOnly.Properties.PolicyDocument.Statement, [query]);
  const p = notifyPolicy({ on: 'failure', snsTopicArn: 'arn:aws:sns:eu-west-1:123456789012:t' }, 'CopierRole') as Policy;
  assert.deepEqual(p.Properties.PolicyDocument.Statement, [query, { Sid: 'NotifyRunSummary', Effect: 'Allow', Action: ['sns:Publish'], Resource: 'arn:aws:sns:eu-west-1:123456789012:t' }]);
});
