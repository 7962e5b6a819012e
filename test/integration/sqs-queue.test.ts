// The SQS adapter against local-aws-sqs on 127.0.0.1 (test/helpers/sqs-server.ts), through the
// real SDK client. SDK middlewares count requests and, for the Failed[] cases, turn entries into
// failures before they reach the server, as a partial SendMessageBatch answer from SQS would.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { ErrorCode, isRetryable, NetworkError, QueueError } from '../../lib/errors.js';
import { MAX_RECEIVES_CODE } from '../../lib/queue/embedded.js';
import { sqsClient } from '../../lib/queue/sqs-client.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { startSqsServer, type SqsServerHandle } from '../helpers/sqs-server.js';

let sqs: SqsServerHandle;
let n = 0;
before(async () => {
  sqs = await startSqsServer();
});
after(() => sqs.stop());

/** A queue pair with its own client, so middlewares of one test never see another's requests. */
async function pair(options: { maxReceiveCount?: number; visibilityTimeoutS?: number } = {}) {
  const p = await sqs.createQueuePair(`q${++n}`, options);
  const client = sqsClient({ endpoint: sqs.endpoint, credentials: { accessKeyId: 't', secretAccessKey: 't' }, maxAttempts: 1 });
  const calls = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.set(context.commandName!, (calls.get(context.commandName!) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const queue = new SqsWorkQueue({ queueUrl: p.queueUrl, client, drainedReadings: 1, send: { backoffMs: 5 } });
  return { ...p, client, queue, calls };
}

/**
 * Every body on the queue, received and deleted (VisibilityTimeout 30 s: no repeats). It stops on
 * the counts, not on the first empty receive: a receive with WaitTimeSeconds 0 may come back
 * empty while messages remain (SQS samples servers; a loaded stand-in can be late too).
 */
async function drain(queue: SqsWorkQueue): Promise<string[]> {
  const out: string[] = [];
  for (let empty = 0; empty < 50; ) {
    const got = await queue.receive(10, 0);
    if (got.length) {
      empty = 0;
      out.push(...got.map((m) => m.body));
      await queue.ackMany(got);
      continue;
    }
    const c = await queue.counts();
    if (c.visible + c.inFlight + c.delayed === 0) return out;
    empty++;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`queue did not drain: ${out.length} received, counts ${JSON.stringify(await queue.counts())}`);
}

/** Entries whose body matches `fail` are taken out of the request and reported in Failed[]. */
function failEntries(client: SQSClient, fail: (body: string, call: number) => boolean, senderFault = false): void {
  let call = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'SendMessageBatchCommand') return next(args);
      call++;
      const input = args.input as { Entries: { Id: string; MessageBody: string }[] };
      const failed = input.Entries.filter((e) => fail(e.MessageBody, call));
      input.Entries = input.Entries.filter((e) => !failed.includes(e));
      const res = (input.Entries.length ? await next(args) : { output: { Successful: [], Failed: [] }, response: {} }) as { output: { Failed?: unknown[] } };
      res.output.Failed = [...(res.output.Failed ?? []), ...failed.map((e) => ({ Id: e.Id, Code: 'InternalError', Message: 'injected', SenderFault: senderFault }))];
      return res as never;
    },
    { step: 'initialize', name: 'failEntries' },
  );
}

describe('SqsWorkQueue.send', () => {
  test('25 bodies take 3 SendMessageBatch calls, 1000 take 100, and all arrive once', async () => {
    const q = await pair();
    await q.queue.send(Array.from({ length: 25 }, (_, i) => `a${i}`));
    assert.equal(q.calls.get('SendMessageBatchCommand'), 3);
    await q.queue.send(Array.from({ length: 1000 }, (_, i) => `b${i}`));
    assert.equal(q.calls.get('SendMessageBatchCommand'), 103);
    assert.equal((await q.queue.counts()).visible, 1025);
    const bodies = await drain(q.queue);
    assert.equal(bodies.length, 1025, `received ${bodies.length}`);
    assert.equal(new Set(bodies).size, 1025);
    assert.ok(await q.queue.drained());
  });

  test('an entry listed in Failed[] of a 200 answer is sent again, once', async () => {
    const q = await pair();
    failEntries(q.client, (body, call) => body === 'm3' && call === 1);
    await q.queue.send(Array.from({ length: 10 }, (_, i) => `m${i}`));
    assert.equal(q.calls.get('SendMessageBatchCommand'), 2);
    assert.deepEqual((await drain(q.queue)).sort(), Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
  });

  test('an entry that keeps failing gives up after 4 tries, naming the queue and the code', async () => {
    const q = await pair();
    failEntries(q.client, (body) => body === 'bad');
    await assert.rejects(q.queue.send(['ok', 'bad']), (err: unknown) => {
      assert.ok(err instanceof QueueError && err.code === ErrorCode.QUEUE);
      assert.equal(err.message, `SQS kept failing 1 message(s) sent to ${q.queueUrl} after 4 tries: InternalError (injected)`);
      return true;
    });
    assert.equal(q.calls.get('SendMessageBatchCommand'), 4);
    assert.deepEqual(await drain(q.queue), ['ok']);
  });

  test('delaySeconds rides on every entry: the message stays hidden until then', async () => {
    const q = await pair();
    await q.queue.send(['late'], { delaySeconds: 1 });
    assert.deepEqual(await q.queue.receive(1, 0), []);
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual((await q.queue.receive(1, 0)).map((m) => m.body), ['late']);
  });

  test('a sender fault is not retried', async () => {
    const q = await pair();
    failEntries(q.client, (body) => body === 'bad', true);
    await assert.rejects(q.queue.send(['bad']), /SQS rejected 1 message\(s\) sent to .*: InternalError/);
    assert.equal(q.calls.get('SendMessageBatchCommand'), 1);
  });

  test('payloads near 256 KiB: 10 bodies of 60 KiB go in 3 batches; one over 256 KiB sends nothing', async () => {
    const q = await pair();
    const bytes: number[] = [];
    const queue = new SqsWorkQueue({ queueUrl: q.queueUrl, client: q.client, send: { onBatch: (_n, b) => bytes.push(b) } });
    await queue.send(Array.from({ length: 10 }, (_, i) => `${i}`.padEnd(60 * 1024, 'x')));
    assert.equal(q.calls.get('SendMessageBatchCommand'), 3);
    assert.ok(bytes.every((b) => b <= 256 * 1024), String(bytes));
    assert.equal((await drain(queue)).length, 10);
    await assert.rejects(queue.send(['small', 'y'.repeat(256 * 1024 + 1)]), /message 1 \(y+\.\.\.\) is 262145 bytes; SQS allows 262144/);
    assert.equal(q.calls.get('SendMessageBatchCommand'), 3);
    assert.equal((await queue.counts()).visible, 0);
  });
});

describe('SqsWorkQueue delivery', () => {
  // local-aws-sqs counts a ChangeMessageVisibility as a receive (ApproximateReceiveCount + 1) and
  // its ApproximateNumberOfMessages includes in-flight ones; real SQS does neither. So receive
  // counts are driven by visibility expiry here, and the tests assert only what both agree on.
  test('receive count grows with each delivery; release hides for the delay; ack deletes', async () => {
    const q = await pair({ visibilityTimeoutS: 1 });
    await q.queue.send(['one']);
    const [m1] = await q.queue.receive(1, 0);
    assert.equal(m1!.receiveCount, 1);
    assert.equal((await q.queue.counts()).inFlight, 1);
    assert.equal(await q.queue.drained(), false);
    await new Promise((r) => setTimeout(r, 1200)); // visibility timeout expires
    const [m2] = await q.queue.receive(1, 0);
    assert.equal(m2!.id, m1!.id);
    assert.equal(m2!.receiveCount, 2);
    await q.queue.release(m2!, 2000); // ChangeMessageVisibility 2
    await new Promise((r) => setTimeout(r, 1200)); // past the queue's own 1 s: still hidden
    assert.deepEqual(await q.queue.receive(1, 0), []);
    await new Promise((r) => setTimeout(r, 1000));
    const [m3] = await q.queue.receive(1, 0);
    assert.equal(m3!.id, m1!.id);
    assert.ok(m3!.receiveCount > 2);
    await q.queue.ack(m3!);
    assert.deepEqual(await q.queue.counts(), { visible: 0, inFlight: 0, delayed: 0 });
    assert.ok(await q.queue.drained());
  });

  test('after maxReceiveCount receives SQS moves the message to the DLQ; listed as SWRM_MAX_RECEIVES', async () => {
    const q = await pair({ maxReceiveCount: 2, visibilityTimeoutS: 1 });
    await q.queue.send(['poison']);
    for (let i = 1; i <= 2; i++) {
      const [m] = await q.queue.receive(1, 0);
      assert.equal(m!.receiveCount, i);
      await new Promise((r) => setTimeout(r, 1200));
    }
    assert.deepEqual(await q.queue.receive(1, 0), []);
    const letters = await (await q.queue.deadLetters()).list();
    assert.equal(letters.length, 1);
    assert.equal(letters[0]!.body, 'poison');
    assert.equal(letters[0]!.reason.code, MAX_RECEIVES_CODE);
    assert.match(letters[0]!.reason.message, /maxReceiveCount 2/);
  });

  test('deadLetter: the reason travels in attributes, masked; the message leaves the queue', async () => {
    const q = await pair();
    await q.queue.send(['{"v":1,"kind":"copy"}']);
    const [m] = await q.queue.receive(1, 0);
    await q.queue.deadLetter(m!, { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown; token=s3cr3t\nnext line' });
    assert.ok(await q.queue.drained());
    const [letter] = await (await q.queue.deadLetters()).list();
    assert.equal(letter!.body, '{"v":1,"kind":"copy"}');
    assert.equal(letter!.reason.code, 'MANIFEST_UNKNOWN');
    assert.ok(!letter!.reason.message.includes('s3cr3t') && !letter!.reason.message.includes('\n'), letter!.reason.message);
    assert.equal(letter!.receiveCount, 1);
    assert.ok(!Number.isNaN(Date.parse(letter!.at)));
  });

  test('a body near 256 KiB still fits the DLQ: the reason message is cut so body + attributes fit', async () => {
    const q = await pair();
    // JSON of short strings: maskBody keeps it byte for byte (it cuts single strings over 16 KiB).
    const head = JSON.stringify({ v: 1, pad: Array.from({ length: 261 }, () => 'z'.repeat(998)) });
    const body = head.slice(0, -2) + ',"' + 'y'.repeat(256 * 1024 - 300 - head.length - 3) + '"]}';
    assert.equal(Buffer.byteLength(body), 256 * 1024 - 300);
    await q.queue.send([body]);
    const [m] = await q.queue.receive(1, 0);
    await q.queue.deadLetter(m!, { code: 'SWRM_PROTOCOL', message: 'w'.repeat(900) });
    const [letter] = await (await q.queue.deadLetters()).list();
    assert.equal(letter!.body, body);
    assert.ok(letter!.reason.message.length < 300 && letter!.reason.message.length > 0, String(letter!.reason.message.length));
  });

  test('deadLetter masks a secret in the stored body (a foreign producer\'s message)', async () => {
    const q = await pair();
    await q.queue.send(['{"kind":"x","password":"hunter2"}']);
    const [m] = await q.queue.receive(1, 0);
    await q.queue.deadLetter(m!, { code: 'SWRM_INVALID_MESSAGE', message: 'invalid message' });
    const [letter] = await (await q.queue.deadLetters()).list();
    assert.ok(!letter!.body.includes('hunter2'), letter!.body);
    assert.match(letter!.body, /"kind":"x"/);
  });

  test('one message twice in one response (local-aws-sqs, short visibility) is delivered once, with the later handle', async () => {
    const q = await pair();
    q.client.middlewareStack.add(
      (next, context) => async (args) => {
        const res = (await next(args)) as { output: { Messages?: { MessageId?: string; ReceiptHandle?: string }[] } };
        const first = res.output.Messages?.[0];
        if (context.commandName === 'ReceiveMessageCommand' && first) res.output.Messages!.push({ ...first, ReceiptHandle: 'later-handle' });
        return res as never;
      },
      { step: 'initialize', name: 'repeatMessage' },
    );
    await q.queue.send(['x']);
    const got = await q.queue.receive(10, 0);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.receiptHandle, 'later-handle');
  });

  test('drained() needs every reading empty: a message sent between readings makes it false', async () => {
    const q = await pair();
    const queue = new SqsWorkQueue({ queueUrl: q.queueUrl, client: q.client, drainedReadings: 2, drainedIntervalMs: 400 });
    assert.equal(await queue.drained(), true);
    const verdict = queue.drained();
    setTimeout(() => void queue.send(['late']), 100);
    assert.equal(await verdict, false);
  });

  test('an aborted long poll returns nothing at once', async () => {
    const q = await pair();
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 100);
    assert.deepEqual(await q.queue.receive(1, 20_000, ac.signal), []);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  });
});

describe('SqsDeadLetterStore', () => {
  test('found from RedrivePolicy', async () => {
    const q = await pair({ maxReceiveCount: 7 });
    const dlq = await q.queue.deadLetters();
    assert.equal(dlq.dlqUrl, q.dlqUrl);
    assert.equal(dlq.dlqArn, q.dlqArn);
    assert.equal(dlq.queueArn, q.queueArn);
    assert.equal(dlq.maxReceiveCount, 7);
  });

  test('a queue without RedrivePolicy: SWRM_NO_DLQ naming the queue, also from deadLetter()', async () => {
    const plain = await sqs.createQueue(`plain${++n}`);
    const queue = new SqsWorkQueue({ queueUrl: plain.queueUrl, client: sqs.client });
    const check = (err: unknown) => {
      assert.ok(err instanceof QueueError && err.code === ErrorCode.NO_DLQ && !isRetryable(err));
      assert.equal(err.message, `SQS queue ${plain.queueUrl} has no dead-letter queue (no RedrivePolicy): give it a RedrivePolicy with a deadLetterTargetArn`);
      return true;
    };
    await assert.rejects(queue.deadLetters(), check);
    await queue.send(['x']);
    const [m] = await queue.receive(1, 0);
    await assert.rejects(queue.deadLetter(m!, { code: 'X', message: 'y' }), check);
  });

  test('a queue that does not exist, and an unreachable endpoint, name the queue', async () => {
    const missing = new SqsWorkQueue({ queueUrl: `${sqs.endpoint}/123456789012/nope`, client: sqs.client });
    await assert.rejects(missing.counts(), (err: unknown) => err instanceof QueueError && !isRetryable(err) && err.message.includes('/123456789012/nope'));
    const down = new SqsWorkQueue({ queueUrl: 'http://127.0.0.1:9/123456789012/q', client: sqsClient({ endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 't', secretAccessKey: 't' }, maxAttempts: 1 }) });
    await assert.rejects(down.counts(), (err: unknown) => err instanceof NetworkError && isRetryable(err) && err.message.includes('http://127.0.0.1:9/123456789012/q'));
  });

  test('reasons() groups by code without consuming; redrive moves the letters back', async () => {
    const q = await pair();
    await q.queue.send(['a', 'b', 'c']);
    const got = await q.queue.receive(10, 0);
    assert.equal(got.length, 3);
    const codes = ['MANIFEST_UNKNOWN', 'SWRM_INVALID_MESSAGE', 'MANIFEST_UNKNOWN'];
    for (const [i, m] of got.entries()) await q.queue.deadLetter(m, { code: codes[i]!, message: `why ${m.body}` });
    const dlq = await q.queue.deadLetters();
    const reasons = await dlq.reasons();
    assert.deepEqual(reasons.map((r) => [r.code, r.count]), [['MANIFEST_UNKNOWN', 2], ['SWRM_INVALID_MESSAGE', 1]]);
    assert.match(reasons[0]!.example, /^why [ac]$/);
    assert.equal((await dlq.list()).length, 3); // still there
    assert.equal(await dlq.redriveStatus(), undefined);
    const done = await dlq.redriveAndWait(10_000, 100);
    assert.equal(done.status, 'COMPLETED');
    assert.equal(done.moved, 3);
    assert.deepEqual(await dlq.list(), []);
    assert.deepEqual((await drain(q.queue)).sort(), ['a', 'b', 'c']);
  });

  test('list() pages past 10 letters and leaves them all visible (a redrive moves all 25 at once)', async () => {
    const q = await pair();
    const dlq = await q.queue.deadLetters();
    for (let i = 0; i < 25; i++) await dlq.add({ id: `x${i}`, body: `b${i}`, receiveCount: 1, reason: { code: `C${i % 3}`, message: 'm' }, at: new Date().toISOString() });
    assert.equal((await dlq.list()).length, 25);
    assert.deepEqual((await dlq.reasons()).map((r) => [r.code, r.count]), [['C0', 9], ['C1', 8], ['C2', 8]]);
    assert.equal((await dlq.list(12)).length, 12);
    const done = await dlq.redriveAndWait(10_000, 100);
    assert.equal(done.moved, 25);
    assert.equal((await drain(q.queue)).length, 25);
  });

  test('remove() deletes listed letters by receipt handle', async () => {
    const q = await pair();
    await q.queue.send(['a', 'b']);
    for (const m of await q.queue.receive(10, 0)) await q.queue.deadLetter(m, { code: 'X', message: m.body });
    const dlq = await q.queue.deadLetters();
    const letters = await dlq.list();
    await dlq.remove([letters.find((l) => l.body === 'a')!.id]);
    assert.deepEqual((await dlq.list()).map((l) => l.body), ['b']);
  });
});

describe('sqsClient', () => {
  test('honours AWS_ENDPOINT_URL_SQS (the SDK reads it; we pass no endpoint)', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_SQS;
    process.env.AWS_ENDPOINT_URL_SQS = sqs.endpoint;
    try {
      const p = await sqs.createQueuePair(`env${++n}`);
      const client = sqsClient();
      const { GetQueueUrlCommand } = await import('@aws-sdk/client-sqs');
      // GetQueueUrl carries no queue URL, so it can only reach the stand-in through the env endpoint.
      const res = await client.send(new GetQueueUrlCommand({ QueueName: `env${n}` }));
      assert.equal(res.QueueUrl, p.queueUrl);
      client.destroy();
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SQS;
      else process.env.AWS_ENDPOINT_URL_SQS = saved;
    }
  });
});
