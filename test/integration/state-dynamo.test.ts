// The state port's DynamoDB adapter through the real @aws-sdk/client-dynamodb against dynalite on
// 127.0.0.1 (issue 14, item 2): the same contract as the local adapters, found through
// AWS_ENDPOINT_URL_DYNAMODB as on AWS, every call made through awsClient (observable), and a
// missing table or a refused action is one line naming the table and the action (SWRM_STATE).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { observeAwsCalls, type AwsCall } from '../../lib/aws/clients.js';
import { DynamoStateStore } from '../../lib/state/dynamo-store.js';
import { RunTracker } from '../../lib/state/runs.js';
import { StoreDigestMemo } from '../../lib/state/digest-memo.js';
import { type DynamoServerHandle, startDynamoServer } from '../helpers/dynamo-server.js';
import { stateContract } from '../helpers/state-contract.js';

const TABLE = 'swr-migrate-test-state';
let dynamo: DynamoServerHandle;

before(async () => {
  dynamo = await startDynamoServer();
  await dynamo.createStateTable(TABLE);
});
after(() => dynamo?.stop());

describe('state store on DynamoDB (dynalite): the contract', () => {
  stateContract(async () => {
    let now = Date.UTC(2025, 0, 1);
    return { store: new DynamoStateStore({ table: TABLE, clock: () => now }), advance: (s) => void (now += s * 1000) };
  });
});

describe('state store on DynamoDB (dynalite)', () => {
  test('reached through AWS_ENDPOINT_URL_DYNAMODB; every call is observable with its table', async () => {
    const calls: AwsCall[] = [];
    const stop = observeAwsCalls((c) => calls.push(c));
    try {
      const store = new DynamoStateStore({ table: TABLE });
      await store.probe();
      await store.put({ group: 'obs', id: 'a' }, { n: 1 });
      await store.get({ group: 'obs', id: 'a' });
      await store.add({ group: 'obs', id: 'a' }, { n: 1 });
      await store.query('obs');
      await store.delete({ group: 'obs', id: 'a' });
    } finally {
      stop();
    }
    assert.deepEqual(calls.map((c) => `${c.client}.${c.operation}`), [
      'DynamoDBClient.GetItem',
      'DynamoDBClient.PutItem',
      'DynamoDBClient.GetItem',
      'DynamoDBClient.UpdateItem',
      'DynamoDBClient.Query',
      'DynamoDBClient.DeleteItem',
    ]);
    assert.ok(calls.every((c) => c.input.TableName === TABLE));
  });

  test('a run counted by concurrent copiers: each message once, none lost', async () => {
    const runs = new RunTracker(new DynamoStateStore({ table: TABLE }));
    await runs.start('20250101T000000000Z-aaaaaa', 20, { images: 20, repositories: 0 });
    const body = (i: number) => JSON.stringify({ v: 1, kind: 'copy-image', source: `s/a:${i}`, destination: `d/a:${i}`, run: '20250101T000000000Z-aaaaaa' });
    // Two copiers settle all 20, each message twice, at once.
    await Promise.all([...Array.from({ length: 20 }, (_, i) => runs.settled('20250101T000000000Z-aaaaaa', body(i), 'copied')), ...Array.from({ length: 20 }, (_, i) => runs.settled('20250101T000000000Z-aaaaaa', body(i), i % 2 ? 'skipped' : 'copied'))]);
    const [run] = await runs.last(1);
    assert.equal(run!.settled.copied + run!.settled.skipped, 20);
    assert.equal(run!.enqueued, 20);
  });

  test('the digest memo on the table: a second memo (another container) knows the first one\'s facts', async () => {
    const dig = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
    await new StoreDigestMemo(new DynamoStateStore({ table: TABLE })).put(dig(1), 'format=docker', { digest: dig(2), detail: 'converted to Docker media types' });
    assert.deepEqual(await new StoreDigestMemo(new DynamoStateStore({ table: TABLE })).get(dig(1), 'format=docker'), { digest: dig(2), detail: 'converted to Docker media types' });
  });

  test('a missing table is one line naming it and the action', async () => {
    const store = new DynamoStateStore({ table: 'swr-migrate-nope-state' });
    await assert.rejects(store.probe(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SWRM_STATE');
      assert.equal(err.message, 'state table swr-migrate-nope-state does not exist (dynamodb:GetItem: ResourceNotFoundException)');
      return true;
    });
  });

  test('an action the role may not call is one line naming the table and the action', async () => {
    dynamo.refuse.add('UpdateItem');
    try {
      await assert.rejects(new DynamoStateStore({ table: TABLE }).add({ group: 'x', id: 'y' }, { n: 1 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'SWRM_STATE');
        assert.equal(err.message, `state table ${TABLE}: dynamodb:UpdateItem refused (AccessDeniedException)`);
        return true;
      });
    } finally {
      dynamo.refuse.clear();
    }
  });
});
