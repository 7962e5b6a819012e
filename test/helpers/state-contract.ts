// The behaviour every StateStore adapter must have (lib/state/store.ts), as one suite that the
// memory and file adapters (test/unit) and the DynamoDB adapter on dynalite (test/integration) run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StateStore } from '../../lib/state/store.js';

export interface ContractStore {
  store: StateStore;
  /** Moves the store's clock on by this many seconds. */
  advance(seconds: number): void;
}

let n = 0;
/** A group no other test of the run uses. */
const fresh = () => `g${process.pid}-${++n}`;

export function stateContract(make: () => Promise<ContractStore>): void {
  test('get and put: absent, written, replaced; groups are apart', async () => {
    const { store } = await make();
    const group = fresh();
    assert.equal(await store.get({ group, id: 'a' }), undefined);
    assert.equal(await store.put({ group, id: 'a' }, { s: 'one', n: 1, b: true }), true);
    const got = await store.get({ group, id: 'a' });
    assert.deepEqual(got?.data, { s: 'one', n: 1, b: true });
    assert.equal(got?.group, group);
    assert.equal(got?.id, 'a');
    assert.ok(got?.version);
    await store.put({ group, id: 'a' }, { s: 'two' });
    assert.deepEqual((await store.get({ group, id: 'a' }))?.data, { s: 'two' }, 'a put replaces the whole item');
    assert.equal(await store.get({ group: fresh(), id: 'a' }), undefined);
  });

  test('put if absent: only the first of two writes; an expired item counts as absent (a lapsed lease)', async () => {
    const { store, advance } = await make();
    const key = { group: fresh(), id: 'claim' };
    assert.equal(await store.put(key, { owner: 'a' }, { ifAbsent: true, ttlSeconds: 60 }), true);
    assert.equal(await store.put(key, { owner: 'b' }, { ifAbsent: true, ttlSeconds: 60 }), false);
    assert.equal((await store.get(key))?.data.owner, 'a');
    advance(61);
    assert.equal(await store.get(key), undefined, 'expired items read as absent');
    assert.equal(await store.put(key, { owner: 'b' }, { ifAbsent: true, ttlSeconds: 60 }), true);
    assert.equal((await store.get(key))?.data.owner, 'b');
  });

  test('put if the version matches: a stale version writes nothing', async () => {
    const { store } = await make();
    const key = { group: fresh(), id: 'x' };
    await store.put(key, { step: 1 });
    const v1 = (await store.get(key))!.version;
    assert.equal(await store.put(key, { step: 2 }, { ifVersion: v1 }), true);
    const v2 = (await store.get(key))!.version;
    assert.notEqual(v2, v1);
    assert.equal(await store.put(key, { step: 3 }, { ifVersion: v1 }), false, 'v1 is stale');
    assert.deepEqual((await store.get(key))?.data, { step: 2 });
    assert.equal(await store.put({ group: key.group, id: 'none' }, { step: 1 }, { ifVersion: v2 }), false, 'no item, no version');
  });

  test('add: creates at 0, adds, subtracts, sets fields; its ttl only fills a missing expiry', async () => {
    const { store, advance } = await make();
    const key = { group: fresh(), id: 'run' };
    const first = await store.add(key, { copied: 1, failed: 0 }, { set: { started: 'today' }, ttlSeconds: 100 });
    assert.deepEqual(first.data, { copied: 1, failed: 0, started: 'today' });
    const exp = first.expiresAt!;
    assert.ok(exp > 0);
    advance(10);
    const second = await store.add(key, { copied: 2, failed: 1, skipped: 1 }, { ttlSeconds: 100 });
    assert.deepEqual(second.data, { copied: 3, failed: 1, skipped: 1, started: 'today' });
    assert.equal(second.expiresAt, exp, 'an existing expiry is kept');
    const third = await store.add(key, { failed: -1, copied: 1 });
    assert.deepEqual((await store.get(key))?.data, third.data);
    assert.deepEqual(third.data, { copied: 4, failed: 0, skipped: 1, started: 'today' });
  });

  test('add: concurrent additions are all counted', async () => {
    const { store } = await make();
    const key = { group: fresh(), id: 'counter' };
    await Promise.all(Array.from({ length: 40 }, (_, i) => store.add(key, { n: 1, m: i % 2 })));
    assert.deepEqual((await store.get(key))?.data, { n: 40, m: 20 });
  });

  test('delete: gone; with a stale version nothing is deleted; deleting the absent is fine', async () => {
    const { store } = await make();
    const key = { group: fresh(), id: 'd' };
    await store.put(key, { a: 1 });
    const v = (await store.get(key))!.version;
    await store.put(key, { a: 2 });
    assert.equal(await store.delete(key, { ifVersion: v }), false);
    assert.ok(await store.get(key));
    assert.equal(await store.delete(key), true);
    assert.equal(await store.get(key), undefined);
    assert.equal(await store.delete(key), true);
  });

  test('query: ids in order or reversed, by prefix, limited, without expired items', async () => {
    const { store, advance } = await make();
    const group = fresh();
    for (const id of ['r-2', 'r-1', 'r-3', 'x-1']) await store.put({ group, id }, { id });
    await store.put({ group, id: 'r-4' }, { id: 'r-4' }, { ttlSeconds: 5 });
    assert.deepEqual((await store.query(group, { prefix: 'r-' })).map((r) => r.id), ['r-1', 'r-2', 'r-3', 'r-4']);
    advance(6);
    assert.deepEqual((await store.query(group, { prefix: 'r-', descending: true })).map((r) => r.id), ['r-3', 'r-2', 'r-1']);
    assert.deepEqual((await store.query(group, { descending: true, limit: 2 })).map((r) => r.id), ['x-1', 'r-3']);
    assert.deepEqual((await store.query(group, { limit: 1 }))[0]?.data, { id: 'r-1' });
    assert.deepEqual(await store.query(fresh()), []);
  });
}
