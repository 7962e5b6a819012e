// The CLI's local workers as Lambda's SQS event source mapping: records shaped as Lambda delivers
// them, successes deleted after the handler returns and failures left alone, and a visibility
// heartbeat for the messages the handler still holds, never for one it already settled.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSEvent } from 'aws-lambda';
import { HeldMessages, recordFor, runBatch, runLocalWorkers } from '../../lib/lambda/local-workers.js';
import type { QueueMessage, WorkQueue } from '../../lib/queue/types.js';

function fakeQueue(inbox: QueueMessage[] = []) {
  const calls: string[] = [];
  const queue: WorkQueue & { ackMany(ms: readonly QueueMessage[]): Promise<void> } = {
    send: async () => undefined,
    receive: async () => inbox.splice(0, 1),
    ack: async (m) => void calls.push(`ack ${m.id}`),
    ackMany: async (ms) => void calls.push(`ackMany ${ms.map((m) => m.id).join(',')}`),
    release: async (m, d) => void calls.push(`release ${m.id} ${d}`),
    deadLetter: async (m) => void calls.push(`dead ${m.id}`),
    counts: async () => ({ visible: inbox.length, inFlight: 0, delayed: 0 }),
    drained: async () => inbox.length === 0,
  };
  return { queue, calls };
}
const msg = (id: string, receiveCount = 1): QueueMessage => ({ id, body: `{"id":"${id}"}`, receiptHandle: `h-${id}-${receiveCount}`, receiveCount });

describe('local workers', () => {
  test('records carry what Lambda gives: id, handle, body, receive count as a string, the queue ARN', () => {
    const r = recordFor(msg('m1', 3), 'arn:aws:sqs:eu-west-1:123456789012:work');
    assert.equal(r.messageId, 'm1');
    assert.equal(r.receiptHandle, 'h-m1-3');
    assert.equal(r.body, '{"id":"m1"}');
    assert.equal(r.attributes.ApproximateReceiveCount, '3');
    assert.equal(r.eventSourceARN, 'arn:aws:sqs:eu-west-1:123456789012:work');
    assert.equal(r.awsRegion, 'eu-west-1');
    assert.equal(r.eventSource, 'aws:sqs');
  });

  test('the records not reported as failures are deleted in one batch; the failures are left', async () => {
    const { queue, calls } = fakeQueue();
    let seen: SQSEvent | undefined;
    let remaining = 0;
    const failed = await runBatch(
      {
        queue,
        handler: async (event, context) => {
          seen = event;
          remaining = context.getRemainingTimeInMillis();
          return { batchItemFailures: [{ itemIdentifier: 'b' }] };
        },
      },
      [msg('a'), msg('b'), msg('c')],
    );
    assert.deepEqual([...failed], ['b']);
    assert.deepEqual(calls, ['ackMany a,c']);
    assert.equal(seen?.Records.length, 3);
    assert.ok(remaining > 15 * 60_000, `a local worker has no Lambda deadline (got ${remaining} ms)`);
  });

  test('the heartbeat extends what the handler holds, and never a message it settled', async () => {
    const { queue, calls } = fakeQueue();
    const held = new HeldMessages();
    const settling = held.wrap(queue);
    const a = msg('a');
    const b = msg('b');
    await runBatch(
      {
        queue,
        held,
        visibilityMs: 2000,
        handler: async () => {
          await settling.release(a, 5000); // a retry with its backoff, settled at once
          await new Promise((r) => setTimeout(r, 2300)); // b takes longer than the visibility timeout
          await settling.ack(b);
          return { batchItemFailures: [{ itemIdentifier: 'a' }] };
        },
      },
      [a, b],
    );
    const beats = calls.filter((c) => c === 'release b 2000').length;
    assert.ok(beats >= 2, `b extended every second while held: ${calls.join('; ')}`);
    assert.deepEqual(calls.filter((c) => c.startsWith('release a')), ['release a 5000'], 'the backoff of a is not overridden');
    const after = calls.length;
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(calls.length, after, 'no beat after the batch');
  });

  test('workers stop on the signal, and a queue failure stops them all and is thrown', async () => {
    const { queue } = fakeQueue([msg('a'), msg('b')]);
    const stop = new AbortController();
    const handled: string[] = [];
    await runLocalWorkers({
      queue,
      workers: 2,
      stop: stop.signal,
      handler: async (e) => {
        handled.push(...e.Records.map((r) => r.messageId));
        if (handled.length === 2) stop.abort();
        return { batchItemFailures: [] };
      },
    });
    assert.deepEqual(handled.sort(), ['a', 'b']);

    const broken = { ...queue, receive: async () => Promise.reject(new Error('queue gone')) };
    await assert.rejects(runLocalWorkers({ queue: broken, workers: 3, stop: new AbortController().signal, handler: async () => ({ batchItemFailures: [] }) }), /queue gone/);
  });
});
