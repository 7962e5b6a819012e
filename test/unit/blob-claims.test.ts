// Blob claims (issue 15, item 5) on the in-memory state store: one winner per (registry, digest);
// the others wait for its done and mount from its repository; a failed upload releases the claim
// to a waiter at once; a lapsed lease is taken over; a wait that runs out, a store that fails and
// a mount the registry declines all end in an upload, never in a failed copy.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobClaims, type ClaimResult, claimKey } from '../../lib/copy/blob-claims.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import type { StateStore } from '../../lib/state/store.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;
const REG = '127.0.0.1:5000';
const req = (repository: string, size = 1 << 20) => ({ registry: REG, repository, digest: DIGEST, size });
const fast = { pollMs: 5, maxWaitMs: () => 2000 };
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

function ticket(r: ClaimResult) {
  assert.ok('ticket' in r, `expected a ticket, got ${JSON.stringify(r)}`);
  return r.ticket;
}

describe('blob claims', () => {
  test('one copier wins; the others wait for its done and mount from its repository', async () => {
    const store = new MemoryStateStore();
    const claims = [0, 1, 2].map(() => new BlobClaims(store, fast));
    const mounts: string[] = [];
    const mount = async (from: string) => (mounts.push(from), true);
    const first = ticket(await claims[0]!.acquire(req('team/a'), mount));
    const waiting = [claims[1]!.acquire(req('team/b'), mount), claims[2]!.acquire(req('team/c'), mount)];
    await tick(50);
    assert.deepEqual(mounts, [], 'nobody mounts before the upload is done');
    await first.done('team/a');
    assert.deepEqual(await Promise.all(waiting), [{ mounted: 'team/a' }, { mounted: 'team/a' }]);
    assert.deepEqual(mounts, ['team/a', 'team/a']);
    assert.deepEqual(claims.map((c) => c.stats), [
      { won: 1, waited: 0, mounted: 0, fellBack: 0 },
      { won: 0, waited: 1, mounted: 1, fellBack: 0 },
      { won: 0, waited: 1, mounted: 1, fellBack: 0 },
    ]);
    // A later copy, another day, into another repository: mounts at once, no wait.
    const later = new BlobClaims(store, fast);
    assert.deepEqual(await later.acquire(req('team/d'), mount), { mounted: 'team/a' });
    assert.equal(later.stats.waited, 0);
  });

  test('claims are per destination registry', async () => {
    const store = new MemoryStateStore();
    const mount = async () => true;
    ticket(await new BlobClaims(store, fast).acquire(req('team/a'), mount));
    ticket(await new BlobClaims(store, fast).acquire({ ...req('team/a'), registry: 'swr.example.com' }, mount));
    assert.notDeepEqual(claimKey(REG, DIGEST), claimKey('swr.example.com', DIGEST));
    assert.equal(claimKey('[::1]:5000', DIGEST).group, 'claim#_::1_:5000');
  });

  test('a failed upload releases the claim: a waiter claims it at once instead of waiting out the lease', async () => {
    const store = new MemoryStateStore();
    const first = ticket(await new BlobClaims(store, fast).acquire(req('team/a'), async () => true));
    const waiter = new BlobClaims(store, fast).acquire(req('team/b'), async () => true);
    await tick();
    await first.release();
    const second = ticket(await waiter);
    // A release by the first owner after the claim moved on leaves the new owner's claim alone.
    await first.release();
    const third = new BlobClaims(store, { pollMs: 5, maxWaitMs: () => 30 });
    assert.deepEqual(await third.acquire(req('team/c'), async () => true), { unclaimed: 'timeout' });
    await second.done('team/b');
    assert.deepEqual(await third.acquire(req('team/c'), async () => true), { mounted: 'team/b' });
  });

  test('a lapsed lease is taken over by a waiter', async () => {
    let now = Date.now();
    const store = new MemoryStateStore(() => now);
    const opts = { ...fast, leaseSeconds: () => 60 };
    ticket(await new BlobClaims(store, opts).acquire(req('team/a'), async () => true));
    const waiter = new BlobClaims(store, opts).acquire(req('team/b'), async () => true);
    await tick();
    now += 61_000; // the first copier died with its lease
    ticket(await waiter);
  });

  test('a wait that runs out uploads anyway; small blobs are never claimed', async () => {
    const store = new MemoryStateStore();
    ticket(await new BlobClaims(store, fast).acquire(req('team/a'), async () => true));
    const impatient = new BlobClaims(store, { pollMs: 5, maxWaitMs: () => 40 });
    const t0 = Date.now();
    assert.deepEqual(await impatient.acquire(req('team/b'), async () => true), { unclaimed: 'timeout' });
    assert.ok(Date.now() - t0 < 1000, 'the wait is bounded');
    assert.deepEqual(impatient.stats, { won: 0, waited: 1, mounted: 0, fellBack: 1 });
    assert.deepEqual(await impatient.acquire(req('team/b', 1000), async () => true), { unclaimed: 'small' });
  });

  test('a done claim whose mount is declined is taken over, and the taker uploads', async () => {
    const store = new MemoryStateStore();
    const first = ticket(await new BlobClaims(store, fast).acquire(req('team/a'), async () => true));
    await first.done('team/a');
    const tried: string[] = [];
    const taker = new BlobClaims(store, fast);
    const t = ticket(await taker.acquire(req('team/b'), async (from) => (tried.push(from), false)));
    assert.deepEqual(tried, ['team/a']);
    await t.done('team/b');
    assert.deepEqual(await new BlobClaims(store, fast).acquire(req('team/c'), async () => true), { mounted: 'team/b' });
  });

  test('a done claim naming the destination repository itself is stale: taken over without a mount', async () => {
    const store = new MemoryStateStore();
    await ticket(await new BlobClaims(store, fast).acquire(req('team/a'), async () => true)).done('team/a');
    ticket(await new BlobClaims(store, fast).acquire(req('team/a'), async () => assert.fail('no mount from itself')));
  });

  test('a failing store means uploading unclaimed, with one warning', async () => {
    const broken: StateStore = {
      where: 'broken',
      get: async () => {
        throw new Error('throttled');
      },
      put: async () => {
        throw new Error('throttled');
      },
      add: async () => assert.fail(),
      delete: async () => assert.fail(),
      query: async () => [],
    };
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, m: string) => warnings.push(m), info() {}, debug() {} } as never;
    const claims = new BlobClaims(broken, { ...fast, logger });
    assert.deepEqual(await claims.acquire(req('team/a'), async () => true), { unclaimed: 'store' });
    assert.deepEqual(await claims.acquire(req('team/b'), async () => true), { unclaimed: 'store' });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /blob claims unavailable, uploading unclaimed: throttled/);
  });

  test('an abort ends the wait with the abort', async () => {
    const store = new MemoryStateStore();
    ticket(await new BlobClaims(store, fast).acquire(req('team/a'), async () => true));
    const stop = new AbortController();
    const waiting = new BlobClaims(store, fast).acquire(req('team/b'), async () => true, stop.signal);
    await tick();
    stop.abort(new Error('deadline'));
    await assert.rejects(waiting, /deadline/);
  });
});
