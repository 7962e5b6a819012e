// The end-of-run summary (issue 6 item 12): rules apart from images, interrupted work that never
// started as "not started", failures grouped by code instead of one line per failure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { summarise, summaryLines } from '../../lib/cli/report.js';
import type { ImageOutcome } from '../../lib/pipeline/copier.js';
import type { PipelineRun } from '../../lib/pipeline/sync.js';
import { encodeMessage } from '../../lib/queue/messages.js';

const image = (status: ImageOutcome['status'], code?: string, n = 0): ImageOutcome => ({
  body: `b${n}`,
  kind: 'copy-image',
  source: `src/app:${n}`,
  destination: `dst/app:${n}`,
  status,
  bytes: 100,
  durationMs: 1,
  attempt: 1,
  ...(code ? { error: { code, message: `${code.toLowerCase()} ${n}` } } : {}),
});
const rule = (status: ImageOutcome['status']): ImageOutcome => ({
  ...image(status, status === 'failed' ? 'NAME_UNKNOWN' : undefined),
  kind: 'expand-repository',
});
const copyBody = (tag: string) => encodeMessage({ v: 1, kind: 'copy-image', source: `src/app:${tag}`, destination: `dst/app:${tag}` });
const ruleBody = encodeMessage({ v: 1, kind: 'expand-repository', source: 'src/other', destinations: ['dst'] });

const run = (over: Partial<PipelineRun>): PipelineRun => ({
  outcomes: [],
  planned: 0,
  interrupted: false,
  leftOver: 0,
  unfinished: [],
  bytes: 0,
  lost: 0,
  requests: {},
  ...over,
});

describe('summary', () => {
  test('failures are grouped by code, most frequent first, with one example each', () => {
    const outcomes = [
      ...Array.from({ length: 12 }, (_, i) => image('failed', 'MANIFEST_UNKNOWN', i)),
      image('failed', 'DENIED', 99),
      image('copied'),
      image('skipped'),
    ];
    const s = summarise(run({ outcomes, bytes: 4096 }), 1500);
    assert.deepEqual(s.failures.map((f) => [f.code, f.count]), [['MANIFEST_UNKNOWN', 12], ['DENIED', 1]]);
    const lines = summaryLines(s, 'dlq.jsonl');
    assert.equal(lines[0], '15 image(s): 1 copied, 1 already present, 13 failed; 4.0 KiB moved in 1.5 s');
    assert.equal(lines[1], 'failures: MANIFEST_UNKNOWN x 12, DENIED x 1');
    assert.equal(lines.filter((l) => l.includes('MANIFEST_UNKNOWN')).length, 2, 'printed once per failure instead of grouped');
    assert.match(lines[2]!, /^ {2}MANIFEST_UNKNOWN: e\.g\. src\/app:0 -> dst\/app:0: manifest_unknown 0$/);
  });

  // Issue 13: an image the platform filter wants none of is counted apart, and is no failure.
  test('filtered images are counted as filtered, shown only when there are some', () => {
    const s = summarise(run({ outcomes: [image('copied'), image('filtered', undefined, 1), image('filtered', undefined, 2), image('skipped')] }), 10);
    assert.deepEqual([s.images, s.copied, s.skipped, s.filtered, s.failed], [4, 1, 1, 2, 0]);
    assert.match(summaryLines(s, 'd')[0]!, /^4 image\(s\): 1 copied, 1 already present, 2 filtered, 0 failed;/);
    assert.ok(!summaryLines(s, 'd').some((l) => l.startsWith('failures')), 'no failure lines');
    assert.doesNotMatch(summaryLines(summarise(run({ outcomes: [image('copied')] }), 1), 'd')[0]!, /filtered/);
  });

  test('a rule that could not be listed is a rule, not an image', () => {
    const s = summarise(run({ outcomes: [image('copied'), image('failed', 'MANIFEST_UNKNOWN'), rule('failed'), rule('expanded')] }), 10);
    assert.equal(s.images, 2);
    assert.equal(s.failed, 1);
    assert.deepEqual(s.rules, { failed: 1, notStarted: 0 });
    assert.match(summaryLines(s, 'd')[0]!, /^2 image\(s\): 1 copied, 0 already present, 1 failed; rules: 1 could not be listed;/);
  });

  test('interrupted: never-tried work is "not started", tried work "unfinished"; neither is failed', () => {
    const unfinished = [
      { body: copyBody('a'), started: true },
      { body: copyBody('b'), started: false },
      { body: copyBody('c'), started: false },
      { body: ruleBody, started: false },
    ];
    const s = summarise(run({ outcomes: [image('copied')], interrupted: true, leftOver: 3, unfinished }), 10);
    assert.equal(s.images, 4);
    assert.equal(s.failed, 0);
    assert.equal(s.unfinished, 1);
    assert.equal(s.notStarted, 2);
    assert.deepEqual(s.rules, { failed: 0, notStarted: 1 });
    const lines = summaryLines(s, 'q.jsonl');
    assert.match(lines[0]!, /^4 image\(s\): 1 copied, 0 already present, 0 failed, 1 unfinished, 2 not started; rules: 0 could not be listed, 1 not started;/);
    assert.ok(lines.some((l) => l.startsWith("interrupted: 4 unfinished or not started kept in q.jsonl for 'swr-migrate replay'")));
    assert.ok(!lines.some((l) => l.startsWith('failures')));
  });

  test('bytes come from the run (the progress counter), not from the final outcomes', () => {
    // A retried image streamed its blobs twice: the progress line counted both, so does the summary.
    assert.equal(summarise(run({ outcomes: [image('copied')], bytes: 250 }), 1).bytes, 250);
  });

  test('images left for later: the hint names what works for the run (issue 13: no --pace with --queue-url)', () => {
    const s = summarise(run({ outcomes: [image('copied'), image('deferred', 'SWRM_RATE_BUDGET', 1)] }), 1);
    const embedded = summaryLines(s, 'd.jsonl').find((l) => l.includes('left for later ('));
    assert.match(embedded!, /run 'swr-migrate replay' once the window refills, or sync with --pace$/);
    const queued = summaryLines(s, 'https://q/dlq', { replay: "'swr-migrate replay --queue-url https://q/work'" }).find((l) => l.includes('left for later ('));
    assert.match(queued!, /run 'swr-migrate replay --queue-url https:\/\/q\/work' once the window refills$/);
  });

  test('messages the DLQ could not take are counted and pointed at', () => {
    const s = summarise(run({ outcomes: [rule('failed')], lost: 1 }), 1);
    assert.ok(summaryLines(s, 'x.jsonl').includes('1 message(s) could not be written to x.jsonl; they are printed on stderr above'));
  });
});
