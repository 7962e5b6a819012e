// Pull budgets from registry headers (REFERENCE.md section 3: `ratelimit-remaining: 76;w=21600`):
// header parsing, the tracker's admission arithmetic, which budget applies, and the summary line.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PullBudget, formatWindow, isManifestGet, parseRateHeader } from '../../lib/registry/limits/pull-budget.js';
import { summarise, summaryLines } from '../../lib/cli/report.js';
import type { PipelineRun } from '../../lib/pipeline/sync.js';

const clock = (start = 0) => {
  let t = start;
  return { now: () => t, sleep: async (ms: number) => void (t += ms), advance: (ms: number) => void (t += ms) };
};

describe('ratelimit headers', () => {
  test('Docker Hub\'s "N;w=S" and the variants proxies produce', () => {
    assert.deepEqual(parseRateHeader('100;w=21600'), { value: 100, windowS: 21600 });
    assert.deepEqual(parseRateHeader('76; w=21600'), { value: 76, windowS: 21600 });
    assert.deepEqual(parseRateHeader('5'), { value: 5 });
    assert.deepEqual(parseRateHeader(['200;w=21600', '100;w=21600']), { value: 200, windowS: 21600 });
    assert.deepEqual(parseRateHeader('100;w=21600, 2500;w=86400'), { value: 100, windowS: 21600 });
    for (const bad of [undefined, '', 'lots', '-1;w=5', ';w=5']) assert.equal(parseRateHeader(bad), undefined, String(bad));
  });

  test('only manifest GETs count; HEADs and blob GETs do not', () => {
    assert.equal(isManifestGet('GET', '/v2/library/alpine/manifests/3.19'), true);
    assert.equal(isManifestGet('HEAD', '/v2/library/alpine/manifests/3.19'), false);
    assert.equal(isManifestGet('GET', '/v2/library/alpine/blobs/sha256:abc'), false);
    assert.equal(isManifestGet('GET', '/v2/library/alpine/tags/list'), false);
  });

  test('windows read as hours, minutes or seconds', () => {
    assert.equal(formatWindow(21600), '6 h');
    assert.equal(formatWindow(120), '2 min');
    assert.equal(formatWindow(3), '3 s');
  });
});

describe('PullBudget', () => {
  test('unknown until a response states the budget; then remaining, limit, window and source', () => {
    const t = new PullBudget('registry-1.docker.io', false, clock());
    assert.equal(t.known, false);
    assert.equal(t.available(), Infinity);
    assert.equal(t.observe({ 'content-type': 'application/json' }), false);
    assert.equal(t.known, false, 'a registry without the headers has no budget');
    assert.equal(t.observe({ 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600', 'docker-ratelimit-source': '203.0.113.7' }), true);
    assert.deepEqual(t.snapshot(), { limit: 100, remaining: 76, windowS: 21600, source: '203.0.113.7', gets: 0 });
    assert.equal(t.describe(), 'anonymous budget, 100 manifest GETs per 6 h');
    assert.equal(new PullBudget('h', true).describe(), 'authenticated budget');
  });

  test('reservations count GETs not yet answered, so concurrent copies cannot overspend', () => {
    const t = new PullBudget('h', true, clock());
    t.observe({ 'ratelimit-limit': '200;w=21600', 'ratelimit-remaining': '3;w=21600' });
    assert.equal(t.reserve(1), true);
    assert.equal(t.reserve(2), true);
    assert.equal(t.reserve(1), false, 'a fourth GET reserved with 3 left');
    // The first GET is answered: its headers count it from now on.
    t.observe({ 'ratelimit-remaining': '2;w=21600' });
    t.answered();
    assert.equal(t.available(), 0);
    t.unreserve(2);
    assert.equal(t.available(), 2);
    assert.equal(t.reserve(3), false, 'an index with 3 children does not fit 2 GETs');
  });

  test('a batch larger than the whole limit takes one window of it instead of never fitting', () => {
    const t = new PullBudget('h', false, clock());
    t.observe({ 'ratelimit-limit': '4;w=60', 'ratelimit-remaining': '4;w=60' });
    assert.equal(t.reserve(10), true);
    assert.equal(t.available(), 0);
  });

  test('spent only when the registry said 0 and its window has not turned over since', () => {
    const c = clock(1000);
    const t = new PullBudget('h', false, c);
    assert.equal(t.spent(), false, 'no budget stated: never spent');
    t.observe({ 'ratelimit-remaining': '5;w=3' });
    assert.equal(t.spent(), false);
    t.observe({ 'ratelimit-remaining': '0;w=3' });
    assert.equal(t.spent(), true);
    assert.equal(t.refillAt(), 4000);
    assert.match(t.spentError().message, /pull budget of h spent .*replay after/);
    c.advance(3000);
    assert.equal(t.windowTurned(), true);
    assert.equal(t.spent(), false, 'the window turned over: the registry is asked again');
    t.forget();
    assert.equal(t.known, false);
    assert.equal(t.available(), Infinity);
  });
});

test('deferred images are counted apart from failures, with the way to finish them', () => {
  const outcome = (status: 'copied' | 'deferred', n: number) => ({
    body: `b${n}`, kind: 'copy-image' as const, source: `s:${n}`, destination: `d:${n}`, status, bytes: 0, durationMs: 1, attempt: 1,
    ...(status === 'deferred' ? { error: { code: 'SWRM_RATE_BUDGET', message: 'pull budget of h spent' } } : {}),
  });
  const run: PipelineRun = { outcomes: [outcome('copied', 1), outcome('deferred', 2), outcome('deferred', 3)], planned: 3, interrupted: false, leftOver: 0, unfinished: [], bytes: 0, lost: 0, requests: {} };
  const s = summarise(run, 10);
  assert.equal(s.failed, 0);
  assert.equal(s.deferred, 2);
  const lines = summaryLines(s, 'dlq.jsonl');
  assert.match(lines[0]!, /3 image\(s\): 1 copied, 0 already present, 0 failed, 2 left for later/);
  assert.ok(lines.some((l) => /2 left for later \(pull budget spent, 2 x SWRM_RATE_BUDGET in dlq\.jsonl\).*replay/.test(l)));
  assert.ok(!lines.some((l) => /^failures/.test(l)), 'deferred images reported as failures');
});
