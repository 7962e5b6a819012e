// Where the SWR push budget is wired in: one budget per tenant in the client pool (the Lambda
// copier's runtime included), and the blob layer holding its slot and waiting out busy answers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { RegistryError } from '../../lib/errors.js';
import { PushBudget } from '../../lib/registry/limits/push-budget.js';
import { ClientPool, type RegistryAccess } from '../../lib/registry/pool.js';
import type { SwrAccess } from '../../lib/vendors/swr/config.js';
import { blobCopy } from '../../lib/copy/blob-copy.js';
import { createCopyContext, emptyCounters } from '../../lib/copy/context.js';
import type { RegistryClient } from '../../lib/registry/types.js';
import { sha256 } from '../helpers/push.js';

const busy = () => new RegistryError('busy', 503, 'swr.test', [{ code: 'SVCSTG.SWR.4090023', message: 'system busy' }]);

describe('ClientPool: one push budget per SWR tenant', () => {
  const swr = (pushConcurrency: number, pushRate: number): SwrAccess => ({ edition: 'basic', convertToDocker: true, pushConcurrency, pushRate });
  const login = (username: string) => ({ username, password: 'pw' });

  test('namespaces of one tenant share one budget with the smallest limits; other tenants and sources get none of it', async () => {
    const table: Record<string, RegistryAccess> = {
      'a': { credentials: login('p@AK1'), swr: swr(8, 20) },
      'b': { credentials: login('p@AK1'), swr: swr(3, 30) },
      'c': { credentials: login('p@AK2'), swr: swr(5, 5) },
      'd': { insecure: true },
    };
    const pool = new ClientPool({ resolve: (_r, repo) => table[repo.split('/')[0]!]! });
    const host = 'swr.cn-north-4.myhuaweicloud.com';
    const a = pool.client(host, 'a/x', 'destination');
    const b = pool.client(host, 'b/x', 'destination');
    const c = pool.client(host, 'c/x', 'destination');
    assert.ok(a.pushBudget && a.pushBudget === b.pushBudget, 'one tenant, one budget (and here one client)');
    assert.equal(a.pushBudget.concurrency, 3);
    assert.equal(a.pushBudget.rate, 20);
    assert.equal(a.pushBudget.tenant, 'user:p@AK1');
    assert.notEqual(c.pushBudget, a.pushBudget);
    assert.equal(c.pushBudget?.concurrency, 5);
    assert.equal(pool.client(host, 'a/x', 'source').pushBudget, undefined, 'pulls are not limited');
    assert.equal(pool.client('127.0.0.1:5000', 'd/x', 'destination').pushBudget, undefined, 'not SWR');
    await pool.close();
  });

  test('without a login the tenant is the registry host', async () => {
    const pool = new ClientPool({ resolve: () => ({ insecure: true, swr: swr(2, 4) }) });
    const one = pool.client('127.0.0.1:5000', 'org/a', 'destination');
    assert.equal(one.pushBudget?.tenant, 'host:127.0.0.1:5000');
    assert.notEqual(pool.client('127.0.0.1:5001', 'org/a', 'destination').pushBudget, one.pushBudget);
    await pool.close();
  });
});

describe('the Lambda copier honours the budget', () => {
  test('its runtime (createCopyRuntime, one per warm container) gives SWR destinations the configured budget', async () => {
    const { parseNativeConfig } = await import('../../lib/config/native.js');
    const { createCopierEnv } = await import('../../lib/lambda/copier-env.js');
    const config = parseNativeConfig({
      version: 1,
      registries: { '127.0.0.1:5000': { type: 'swr', insecure: true, pushConcurrency: 4, pushRate: 8 } },
      rules: [{ source: 'quay.io/a/b:1', destination: '127.0.0.1:5000/org' }],
    }, 'lambda.yaml', {});
    const env = createCopierEnv({ config, queue: {} as never, maxReceiveCount: 3 });
    const budget = env.runtime.pool.client('127.0.0.1:5000', 'org/b', 'destination').pushBudget;
    assert.equal(budget?.concurrency, 4);
    assert.equal(budget?.rate, 8);
    await env.close();
  });
});

describe('the blob layer towards a budgeted destination', () => {
  // A fake port: the source serves the blob; the destination's PUT and POST can be scripted busy.
  function endpoints(script: { putBusy?: number; postBusy?: number; budget?: PushBudget }) {
    const log: string[] = [];
    const bytes = Buffer.from('layer bytes');
    let sessions = 0;
    let puts = 0;
    let posts = 0;
    let inSlot = 0;
    const src = { registry: 'src.test', blobGet: async () => ({ body: Readable.from([bytes]), size: bytes.length }) } as unknown as RegistryClient;
    const budget = script.budget;
    const held = () => (budget ? budget.stats().active : 0);
    const dst = {
      registry: 'swr.test',
      pushBudget: budget,
      blobHead: async () => (log.push('HEAD'), undefined),
      blobUploadStart: async () => {
        inSlot = Math.max(inSlot, held());
        log.push('POST');
        if (posts++ < (script.postBusy ?? 0)) throw busy();
        return new URL(`http://swr.test/upload/${++sessions}`);
      },
      blobUploadFinish: async (_r: string, url: URL, _d: string, _s: number, stream: AsyncIterable<Uint8Array>) => {
        log.push(`PUT ${url.pathname}`);
        for await (const _ of stream) void _;
        if (puts++ < (script.putBusy ?? 0)) throw busy();
      },
      blobUploadCancel: async (_r: string, url: URL) => void log.push(`DELETE ${url.pathname} (slot ${held()})`),
    } as unknown as RegistryClient;
    const desc = { mediaType: 'application/octet-stream', digest: sha256(bytes), size: bytes.length };
    return { log, desc, src: { client: src, repository: 'a' }, dst: { client: dst, repository: 'b' }, inSlot: () => inSlot };
  }
  const ctx = () => createCopyContext({ blobRetry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 2 } });

  test('a streamed PUT answered 503 opens a fresh session and retries, spending no attempt, inside the slot', async () => {
    const budget = new PushBudget('t', 1, 1000);
    const e = endpoints({ putBusy: 2, postBusy: 1, budget });
    assert.equal(await blobCopy(ctx(), e.src, e.dst, e.desc, emptyCounters()), 'uploaded');
    assert.deepEqual(e.log, [
      'HEAD', 'POST',
      'POST', 'PUT /upload/1', 'DELETE /upload/1 (slot 1)',
      'POST', 'PUT /upload/2', 'DELETE /upload/2 (slot 1)',
      'POST', 'PUT /upload/3',
    ]);
    assert.equal(e.inSlot(), 1, 'every session opened while holding the slot');
    assert.deepEqual(budget.stats(), { active: 0, peak: 1, tokens: 0 });
  });

  test('without a push budget a busy PUT spends the attempt as before', async () => {
    const e = endpoints({ putBusy: 1 });
    await assert.rejects(blobCopy(ctx(), e.src, e.dst, e.desc, emptyCounters()), /busy/);
    assert.equal(e.log.filter((l) => l.startsWith('PUT')).length, 1);
  });
});
