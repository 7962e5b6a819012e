// `swr-migrate status` with the deployment's state table (issue 14, item 2), through the real CLI
// against local-aws-sqs and dynalite (AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL_DYNAMODB, dummy
// credentials): the last runs, newest first, with what they enqueued and how they settled, from
// --state-table or SWRM_STATE_TABLE; a missing table is one line naming it and the action.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoStateStore } from '../../lib/state/dynamo-store.js';
import { RunTracker, newRunId } from '../../lib/state/runs.js';
import { type CliResult, runCli } from '../helpers/run-cli.js';
import { type DynamoServerHandle, startDynamoServer } from '../helpers/dynamo-server.js';
import { type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';

const TABLE = 'swr-migrate-cli-state';

describe('status with the state table', () => {
  let sqs: SqsServerHandle;
  let dynamo: DynamoServerHandle;
  let queueUrl: string;
  let awsEnv: Record<string, string>;
  const ids = [newRunId(new Date(Date.now() - 2 * 86_400_000)), newRunId(new Date(Date.now() - 3_600_000))];

  before(async () => {
    [sqs, dynamo] = await Promise.all([startSqsServer(), startDynamoServer()]);
    await dynamo.createStateTable(TABLE);
    queueUrl = (await sqs.createQueuePair('cli-state')).queueUrl;
    awsEnv = {
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ACCESS_KEY_ID: 'test-access-key',
      AWS_SECRET_ACCESS_KEY: 'test-secret-key',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      SWRM_STATE_TABLE: '',
    };
    // Two runs as the planner and copiers record them: yesterday's done, today's under way.
    const runs = new RunTracker(new DynamoStateStore({ table: TABLE }));
    const body = (run: string, i: number) => JSON.stringify({ v: 1, kind: 'copy-image', source: `s/a:${i}`, destination: `d/a:${i}`, run });
    await runs.start(ids[0]!, 2, { images: 2, repositories: 0, started: new Date(Date.now() - 2 * 86_400_000) });
    await runs.settled(ids[0]!, body(ids[0]!, 1), 'copied');
    await runs.settled(ids[0]!, body(ids[0]!, 2), 'failed');
    await runs.start(ids[1]!, 3, { images: 3, repositories: 0, started: new Date(Date.now() - 3_600_000) });
    await runs.settled(ids[1]!, body(ids[1]!, 1), 'skipped');
  });
  after(async () => {
    await sqs?.stop();
    await dynamo?.stop();
  });

  const cli = (args: string[], env: Record<string, string> = {}): Promise<CliResult> => runCli(args, { ...awsEnv, ...env });

  test('--state-table: the last runs, newest first, in progress or done', async () => {
    const r = await cli(['status', '--queue-url', queueUrl, '--state-table', TABLE]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const at = lines.indexOf(`last runs in ${TABLE}:`);
    assert.ok(at > 0, r.stdout);
    assert.match(lines[at + 1]!, new RegExp(`^  run ${ids[1]} started \\S+: 3 enqueued, 1 settled \\(1 skipped\\); in progress$`));
    assert.match(lines[at + 2]!, new RegExp(`^  run ${ids[0]} started \\S+: 2 enqueued, 2 settled \\(1 copied, 1 failed\\); done$`));
  });

  test('SWRM_STATE_TABLE, and --json', async () => {
    const r = await cli(['status', '--queue-url', queueUrl, '--json'], { SWRM_STATE_TABLE: TABLE });
    assert.equal(r.code, 0, r.stderr);
    const js = JSON.parse(r.stdout) as { runs: { table: string; last: { id: string; enqueued: number; settledTotal: number; inProgress: boolean; settled: Record<string, number> }[] } };
    assert.equal(js.runs.table, TABLE);
    assert.deepEqual(
      js.runs.last.map((x) => [x.id, x.enqueued, x.settledTotal, x.inProgress, x.settled.failed]),
      [
        [ids[1], 3, 1, true, 0],
        [ids[0], 2, 2, false, 1],
      ],
    );
  });

  test('without a table, no runs; a missing table is one line naming it and the action', async () => {
    const plain = await cli(['status', '--queue-url', queueUrl]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout, /runs/);
    const missing = await cli(['status', '--queue-url', queueUrl, '--state-table', 'swr-migrate-gone-state']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'swr-migrate: state table swr-migrate-gone-state does not exist (dynamodb:Query: ResourceNotFoundException) [SWRM_STATE]\n');
    const bad = await cli(['status', '--queue-url', queueUrl, '--state-table', 'x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^swr-migrate: --state-table must name a DynamoDB table/);
  });
});
