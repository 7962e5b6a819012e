// The overall request deadline of registry/http/deadline.ts: `timeout + bytes / MIN_BODY_RATE`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_BODY_RATE, RequestDeadline, deadlineMs } from '../../lib/registry/http/deadline.js';
import { ErrorCode, RequestTimeoutError } from '../../lib/errors.js';

describe('deadlineMs', () => {
  test('a request without a body gets the plain timeout', () => {
    assert.equal(deadlineMs(30_000), 30_000);
    assert.equal(deadlineMs(30_000, 0), 30_000);
    assert.equal(deadlineMs(30_000, Number.NaN), 30_000);
  });
  test('a body adds the time it takes at the minimum rate', () => {
    assert.equal(deadlineMs(30_000, MIN_BODY_RATE), 31_000);
    assert.equal(deadlineMs(120_000, 1024 ** 3), 120_000 + 4_096_000);
  });
  test('a 50 GB layer gets days, and never a timer Node would overflow', () => {
    assert.ok(deadlineMs(120_000, 50e9) > 2 * 24 * 3600 * 1000);
    assert.equal(deadlineMs(120_000, 10e12), 2 ** 31 - 1);
  });
});

describe('RequestDeadline', () => {
  const expired = (s: number) => new RequestTimeoutError('r.test', 'blob GET a@sha256:x', s);
  test('fires with a one-line SWRM_TIMEOUT reason naming the host', async () => {
    const d = new RequestDeadline(20, expired);
    await new Promise((r) => setTimeout(r, 60));
    const reason = d.signal.reason as RequestTimeoutError;
    assert.ok(d.signal.aborted);
    assert.equal(reason.code, ErrorCode.TIMEOUT);
    assert.match(reason.message, /^blob GET a@sha256:x on r\.test took longer than 1 s/);
    assert.doesNotMatch(reason.message, /\n/);
  });
  test('extend() counts from the start of the request, and clear() disarms it', async () => {
    const d = new RequestDeadline(20, expired);
    d.extend(MIN_BODY_RATE / 10); // +100 ms
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(d.signal.aborted, false);
    d.clear();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(d.signal.aborted, false);
  });
  test('follows the caller signal', () => {
    const parent = new AbortController();
    const d = new RequestDeadline(10_000, expired, parent.signal);
    parent.abort(new Error('interrupted'));
    assert.equal((d.signal.reason as Error).message, 'interrupted');
  });
});
