// Issue 14: on Lambda the DLQ comes from the environment (DLQ_URL, DLQ_ARN, QUEUE_ARN), so a dead
// letter, a listing or a replay makes no GetQueueAttributes/GetQueueUrl call first: GetQueueUrl is
// an IAM action of its own that no role grants, and every DLQ use failed on it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { ConfigError } from '../../lib/errors.js';
import { deadLetterQueueFrom } from '../../lib/lambda/env.js';
import { sqsQueuesFrom } from '../../lib/lambda/queue-factory.js';
import type { SqsDeadLetterStore } from '../../lib/queue/sqs-dlq.js';

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/swr-migrate-dev';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/swr-migrate-dev-dlq';
const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:swr-migrate-dev';
const DLQ_ARN = 'arn:aws:sqs:eu-west-1:123456789012:swr-migrate-dev-dlq';
const ENV = { QUEUE_URL, QUEUE_ARN, DLQ_URL, DLQ_ARN, MAX_RECEIVE_COUNT: '10' };

/** An SQS client that answers every command and records its name and input. */
function recordingClient() {
  const sent: { op: string; input: Record<string, unknown> }[] = [];
  const client = {
    send: async (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => {
      sent.push({ op: cmd.constructor.name.replace(/Command$/, ''), input: cmd.input });
      return { Results: [{ Status: 'RUNNING', ApproximateNumberOfMessagesMoved: 0 }], Failed: [] };
    },
  };
  return { client: client as unknown as SQSClient, sent };
}

describe('the DLQ from the environment', () => {
  test('DLQ_URL, DLQ_ARN and QUEUE_ARN together; none: undefined (the RedrivePolicy then); some: one line naming the rest', () => {
    assert.deepEqual(deadLetterQueueFrom(ENV), { dlqUrl: DLQ_URL, dlqArn: DLQ_ARN, queueArn: QUEUE_ARN, maxReceiveCount: 10 });
    assert.equal(deadLetterQueueFrom({ QUEUE_URL }), undefined);
    assert.throws(() => deadLetterQueueFrom({ QUEUE_URL, DLQ_URL }), (e: unknown) => e instanceof ConfigError && /^DLQ_ARN and QUEUE_ARN are not set: /.test(e.message) && !e.message.includes('\n'));
    assert.throws(() => deadLetterQueueFrom({ ...ENV, DLQ_ARN: DLQ_URL }), /DLQ_ARN and QUEUE_ARN must be SQS queue ARNs/);
  });

  test('a dead letter, a redrive and its status: no look-up call, only the calls themselves', async () => {
    const { client, sent } = recordingClient();
    const queues = sqsQueuesFrom(ENV, { client });
    const queue = queues.workQueue(QUEUE_URL);
    await queue.deadLetter({ id: 'm1', body: '{"v":1}', receiptHandle: 'h1', receiveCount: 3 }, { code: 'MANIFEST_UNKNOWN', message: 'gone' });
    const dlq = await queues.deadLetters(QUEUE_URL);
    await dlq.redrive();
    assert.deepEqual(
      sent.map((s) => [s.op, s.input.QueueUrl ?? s.input.SourceArn, s.input.DestinationArn].filter(Boolean)),
      [
        ['SendMessage', DLQ_URL],
        ['DeleteMessage', QUEUE_URL],
        ['StartMessageMoveTask', DLQ_ARN, QUEUE_ARN],
        ['ListMessageMoveTasks', DLQ_ARN],
      ],
    );
    assert.equal((dlq as SqsDeadLetterStore).maxReceiveCount, 10, 'letters SQS moved itself name the RedrivePolicy count');
  });

  test('another queue (a --queue-url of the CLI) still finds its DLQ from its RedrivePolicy', async () => {
    const { client, sent } = recordingClient();
    const other = 'https://sqs.eu-west-1.amazonaws.com/123456789012/other';
    await sqsQueuesFrom(ENV, { client }).deadLetters(other).catch(() => undefined);
    assert.deepEqual(sent.map((s) => s.op), ['GetQueueAttributes']);
  });
});
