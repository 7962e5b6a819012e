// The SQS stand-in must count as SQS does (test/helpers/local-aws-sqs-fixed.ts): a
// ChangeMessageVisibility (a retry's backoff) is not a receive, so a message released twice comes
// back as receive 2 and 3, and the RedrivePolicy moves it only after maxReceiveCount receives.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';

let sqs: SqsServerHandle;
before(async () => {
  sqs = await startSqsServer();
});
after(() => sqs.stop());

test('ApproximateReceiveCount counts receives only, not visibility changes', async () => {
  const q = await sqs.createQueuePair('counts', { maxReceiveCount: 3 });
  await sqs.client.send(new SendMessageCommand({ QueueUrl: q.queueUrl, MessageBody: 'x' }));
  const receive = async (queueUrl = q.queueUrl) =>
    (await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'], AttributeNames: ['All'] }))).Messages ?? [];
  const counts: string[] = [];
  for (let i = 0; i < 3; i++) {
    const [m] = await receive();
    assert.ok(m, `receive ${i + 1} got nothing`);
    counts.push(m.Attributes!.ApproximateReceiveCount!);
    await sqs.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: q.queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
  }
  assert.deepEqual(counts, ['1', '2', '3']);
});
