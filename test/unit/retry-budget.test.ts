// The attempt budget of registry/http/retry.ts: each layer retries only what the layer below could not,
// so the attempts add up instead of multiplying (issue 6, item 7). The HTTP layer is driven with a
// fake dispatcher and the blob layer with a fake registry port: this is about counts, not HTTP.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { NetworkError, RegistryError } from '../../lib/errors.js';
import { BLOB_RETRY, HTTP_RETRY, markRetried, wasRetried, withRetry } from '../../lib/registry/http/retry.js';
import { RegistryTransport, type Method } from '../../lib/registry/http/transport.js';
import { blobCopy } from '../../lib/copy/blob-copy.js';
import { createCopyContext, emptyCounters } from '../../lib/copy/context.js';
import type { RegistryClient } from '../../lib/registry/types.js';
import { sha256 } from '../helpers/push.js';

const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

function body(text = ''): Dispatcher.ResponseData['body'] {
  return Object.assign(Readable.from(text ? [Buffer.from(text)] : []), { dump: async () => undefined }) as unknown as Dispatcher.ResponseData['body'];
}

/** A dispatcher that answers every request with `status` and counts them. */
function answering(status: number): { dispatcher: Dispatcher; calls: string[] } {
  const calls: string[] = [];
  const dispatcher = {
    request: async (o: Dispatcher.RequestOptions) => {
      calls.push(`${o.method} ${o.path}`);
      return { statusCode: status, headers: { 'content-type': 'application/json' }, body: body('{"errors":[{"code":"UNAVAILABLE"}]}') };
    },
  } as unknown as Dispatcher;
  return { dispatcher, calls };
}

describe('the HTTP layer retries only what it can replay', () => {
  const cases: [Method, Uint8Array | AsyncIterable<Uint8Array> | null, boolean | undefined, number][] = [
    ['GET', null, undefined, fast.attempts],
    ['HEAD', null, undefined, fast.attempts],
    ['PUT', Buffer.from('{}'), undefined, fast.attempts],
    ['DELETE', null, undefined, fast.attempts],
    // A retried POST may open a second upload session; the blob layer retries the transfer instead.
    ['POST', null, undefined, 1],
    // A stream is consumed by its first attempt.
    ['PUT', Readable.from([Buffer.from('x')]), undefined, 1],
    // Best-effort cleanup.
    ['DELETE', null, true, 1],
  ];
  for (const [method, reqBody, once, expected] of cases) {
    test(`${method}${reqBody && !(reqBody instanceof Uint8Array) ? ' (streamed)' : ''}${once ? ' (once)' : ''}: ${expected} attempt(s) against a 503`, async () => {
      const { dispatcher, calls } = answering(503);
      // Not insecure: an insecure registry's first streamed request adds a scheme probe (insecure-fallback.ts).
      const t = new RegistryTransport({ host: '127.0.0.1:1', dispatcher, retry: fast });
      const err = await t.send({ method, url: '/v2/r/x', body: reqBody, expect: [200], what: 'x', once }).catch((e: unknown) => e);
      assert.ok(err instanceof RegistryError && err.status === 503);
      assert.equal(calls.length, expected);
      // Whatever leaves the HTTP layer is marked, so the blob layer does not retry it again.
      assert.equal(wasRetried(err), expected > 1);
    });
  }
});

describe('withRetry and the retried mark', () => {
  test('an error a lower layer already retried is not retried again, and stays marked', async () => {
    let calls = 0;
    const below = new NetworkError('h', 'reset');
    markRetried(below);
    await assert.rejects(withRetry(fast, async () => { calls++; throw below; }), NetworkError);
    assert.equal(calls, 1);
    assert.ok(wasRetried(below));
  });
  test('the budget is small and documented: 3 HTTP attempts, 3 transfer attempts', () => {
    assert.equal(HTTP_RETRY.attempts, 3);
    assert.equal(BLOB_RETRY.attempts, 3);
  });
});

// A fake port: the blob is missing at the destination; each step can be scripted to fail.
function endpoints(script: { getFails?: number; putFails?: number; getError?: () => Error }) {
  const log: string[] = [];
  const bytes = Buffer.from('layer bytes');
  let gets = 0;
  let puts = 0;
  let sessions = 0;
  const client = {
    registry: 'r.test',
    blobHead: async () => (log.push('HEAD'), undefined),
    blobGet: async () => {
      log.push('GET');
      if (gets++ < (script.getFails ?? 0)) throw script.getError?.() ?? new NetworkError('src.test', 'redirect target reset');
      return { body: Readable.from([bytes]), size: bytes.length };
    },
    blobUploadStart: async () => (log.push('POST'), new URL(`http://r.test/upload/${++sessions}`)),
    blobUploadFinish: async (_r: string, url: URL, _d: string, _s: number, stream: AsyncIterable<Uint8Array>) => {
      log.push(`PUT ${url.pathname}`);
      for await (const _ of stream) void _;
      if (puts++ < (script.putFails ?? 0)) throw new NetworkError('r.test', 'connection reset');
    },
    blobUploadCancel: async (_r: string, url: URL) => void log.push(`DELETE ${url.pathname}`),
  } as unknown as RegistryClient;
  const desc = { mediaType: 'application/octet-stream', digest: sha256(bytes), size: bytes.length };
  return { log, desc, src: { client, repository: 'a' }, dst: { client, repository: 'b' } };
}

describe('the blob layer', () => {
  const ctx = () => createCopyContext({ blobRetry: { ...BLOB_RETRY, baseDelayMs: 1, maxDelayMs: 2 } });
  test('a download that failed before any PUT reuses the upload session', async () => {
    const e = endpoints({ getFails: 1 });
    assert.equal(await blobCopy(ctx(), e.src, e.dst, e.desc, emptyCounters()), 'uploaded');
    assert.deepEqual(e.log, ['HEAD', 'GET', 'POST', 'GET', 'PUT /upload/1']);
  });
  test('a failed PUT spends its session: cancelled, and the retry opens a fresh one', async () => {
    const e = endpoints({ putFails: 1 });
    assert.equal(await blobCopy(ctx(), e.src, e.dst, e.desc, emptyCounters()), 'uploaded');
    assert.deepEqual(e.log, ['HEAD', 'GET', 'POST', 'PUT /upload/1', 'DELETE /upload/1', 'GET', 'POST', 'PUT /upload/2']);
  });
  test('a download the HTTP layer already retried is not retried again; the session is cancelled', async () => {
    const e = endpoints({
      getFails: 99,
      getError: () => {
        const err = new RegistryError('blob GET failed: 503', 503, 'src.test');
        markRetried(err);
        return err;
      },
    });
    await assert.rejects(blobCopy(ctx(), e.src, e.dst, e.desc, emptyCounters()), RegistryError);
    assert.deepEqual(e.log, ['HEAD', 'GET', 'POST', 'DELETE /upload/1']);
  });
  test('transfer attempts are bounded by BLOB_RETRY', async () => {
    const e = endpoints({ putFails: 99 });
    await assert.rejects(blobCopy(ctx(), e.src, e.dst, e.desc, emptyCounters()), NetworkError);
    assert.equal(e.log.filter((l) => l.startsWith('PUT')).length, BLOB_RETRY.attempts);
    assert.equal(e.log.filter((l) => l.startsWith('DELETE')).length, BLOB_RETRY.attempts, 'every spent session is cancelled');
  });
});
