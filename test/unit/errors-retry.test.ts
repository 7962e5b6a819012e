import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthError,
  DigestMismatchError,
  InvalidReferenceError,
  NetworkError,
  RegistryError,
  UnsupportedError,
  isRetryable,
  parseRetryAfter,
} from '../../lib/errors.js';
import { backoffDelay, withRetry } from '../../lib/registry/http/retry.js';
import { exitCodeFor } from '../../lib/cli/errors.js';

const reg = (status: number, code?: string, retryAfterMs?: number) =>
  new RegistryError('x', status, 'h', code ? [{ code }] : [], retryAfterMs);

describe('isRetryable', () => {
  const cases: [string, unknown, boolean][] = [
    ['network error', new NetworkError('h', 'connection refused'), true],
    ['408', reg(408), true],
    ['429 TOOMANYREQUESTS', reg(429, 'TOOMANYREQUESTS'), true],
    ['500', reg(500), true],
    ['503 (SWR push limit)', reg(503), true],
    ['400 with TOOMANYREQUESTS code', reg(400, 'TOOMANYREQUESTS'), true],
    ['404 MANIFEST_UNKNOWN', reg(404, 'MANIFEST_UNKNOWN'), false],
    ['404 NAME_UNKNOWN', reg(404, 'NAME_UNKNOWN'), false],
    ['400 MANIFEST_INVALID', reg(400, 'MANIFEST_INVALID'), false],
    ['auth failure', new AuthError('h', 401), false],
    ['token expired during a streamed upload', new AuthError('h', 401, 'expired', true), true],
    ['blob missing at manifest push (stale ledger)', reg(400, 'MANIFEST_BLOB_UNKNOWN'), true],
    ['digest mismatch (a flaky download)', new DigestMismatchError('sha256:a', 'sha256:b'), true],
    ['unsupported manifest', new UnsupportedError('schema1'), false],
    ['bad reference', new InvalidReferenceError('X', 'upper case'), false],
    ['plain Error (a bug)', new Error('boom'), false],
  ];
  for (const [name, err, expected] of cases) test(name, () => assert.equal(isRetryable(err), expected));
});

describe('Retry-After', () => {
  test('seconds', () => assert.equal(parseRetryAfter('3'), 3000));
  test('HTTP date', () => assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', Date.parse('2026-01-01T00:00:00Z')), 10_000));
  test('garbage', () => assert.equal(parseRetryAfter('soon'), undefined));
  test('a registry-given delay wins over backoff, capped', () => {
    const policy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 5000 };
    assert.equal(backoffDelay(policy, 1, reg(429, undefined, 2000)), 2000);
    assert.equal(backoffDelay(policy, 1, reg(429, undefined, 60_000)), 5000);
  });
  test('exponential backoff with jitter stays within [ceiling/4, ceiling]', () => {
    const policy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 10_000 };
    assert.equal(backoffDelay(policy, 3, undefined, () => 0), 100);
    assert.equal(backoffDelay(policy, 3, undefined, () => 1), 400);
    assert.equal(backoffDelay(policy, 20, undefined, () => 1), 10_000);
  });
});

describe('withRetry', () => {
  const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };
  test('retries retryable errors up to the attempt limit', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(fast, async () => {
        calls++;
        throw reg(503);
      }),
      RegistryError,
    );
    assert.equal(calls, 3);
  });
  test('does not retry a permanent error', async () => {
    let calls = 0;
    await assert.rejects(
      withRetry(fast, async () => {
        calls++;
        throw reg(404, 'MANIFEST_UNKNOWN');
      }),
    );
    assert.equal(calls, 1);
  });
  test('returns once an attempt succeeds', async () => {
    let calls = 0;
    const v = await withRetry(fast, async () => {
      if (++calls < 2) throw new NetworkError('h', 'reset');
      return 'ok';
    });
    assert.equal(v, 'ok');
    assert.equal(calls, 2);
  });
});

describe('CLI exit codes', () => {
  test('user mistakes exit 2, failures exit 1', () => {
    assert.equal(exitCodeFor(new InvalidReferenceError('A', 'x')), 2);
    assert.equal(exitCodeFor(new NetworkError('h', 'x')), 1);
    assert.equal(exitCodeFor(new AuthError('h', 401)), 1);
  });
});
