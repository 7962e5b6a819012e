import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isRetryable, NetworkError, QueueError } from '../../lib/errors.js';
import { parseQueueArn, sqsError, visibilitySeconds, waitSeconds, SQS_MAX_BYTES } from '../../lib/queue/sqs-client.js';
import { batchIndexes } from '../../lib/queue/sqs-send.js';

const URL_ = 'https://sqs.eu-west-1.amazonaws.com/123456789012/work';

describe('SQS batching (pure)', () => {
  test('groups of at most 10, in order', () => {
    const b = batchIndexes(Array.from({ length: 25 }, (_, i) => `m${i}`));
    assert.deepEqual(b.map((x) => x.length), [10, 10, 5]);
    assert.deepEqual(b.flat(), Array.from({ length: 25 }, (_, i) => i));
  });

  test('a batch never totals more than 256 KiB: 10 bodies of 30 KiB split 8 + 2', () => {
    const bodies = Array.from({ length: 10 }, () => 'x'.repeat(30 * 1024));
    const b = batchIndexes(bodies);
    assert.deepEqual(b.map((x) => x.length), [8, 2]);
    for (const batch of b) assert.ok(batch.reduce((n, i) => n + Buffer.byteLength(bodies[i]!), 0) <= SQS_MAX_BYTES);
  });

  test('bytes, not characters: multi-byte bodies are counted in UTF-8', () => {
    const body = 'é'.repeat(70 * 1024); // 140 KiB in UTF-8
    assert.deepEqual(batchIndexes([body, body]).map((x) => x.length), [1, 1]);
  });

  test('a body of exactly 256 KiB is allowed alone; one byte more names the message and the queue', () => {
    assert.deepEqual(batchIndexes(['a', 'x'.repeat(SQS_MAX_BYTES)]), [[0], [1]]);
    assert.throws(
      () => batchIndexes(['ok', `{"kind":"copy"${' '.repeat(SQS_MAX_BYTES)}}`], SQS_MAX_BYTES, URL_),
      (err: unknown) => err instanceof QueueError && err.code === ErrorCode.QUEUE && /message 1 \(\{"kind":"copy"/.test(err.message) && err.message.includes(URL_) && !err.message.includes('\n'),
    );
  });

  test('an empty body is refused (SQS requires at least one character)', () => {
    assert.throws(() => batchIndexes(['a', '']), /message 1 is empty/);
  });
});

describe('SQS values', () => {
  test('visibility: whole seconds rounded up, clamped to 0-43200', () => {
    assert.equal(visibilitySeconds(0), 0);
    assert.equal(visibilitySeconds(-5), 0);
    assert.equal(visibilitySeconds(1), 1);
    assert.equal(visibilitySeconds(1500), 2);
    assert.equal(visibilitySeconds(10 ** 9), 43_200);
    assert.equal(visibilitySeconds(Number.NaN), 0);
  });

  test('long poll: 0-20 s', () => {
    assert.equal(waitSeconds(0), 0);
    assert.equal(waitSeconds(200), 1);
    assert.equal(waitSeconds(60_000), 20);
  });

  test('queue ARNs', () => {
    assert.deepEqual(parseQueueArn('arn:aws:sqs:us-east-1:123456789012:work-dlq'), { region: 'us-east-1', account: '123456789012', name: 'work-dlq' });
    assert.deepEqual(parseQueueArn('arn:aws-cn:sqs:cn-north-1:1:q.fifo'), { region: 'cn-north-1', account: '1', name: 'q.fifo' });
    assert.equal(parseQueueArn('arn:aws:sns:us-east-1:1:topic'), undefined);
    assert.equal(parseQueueArn('work-dlq'), undefined);
  });
});

describe('SQS error mapping', () => {
  const sdk = (name: string, status: number | undefined, fault?: 'client' | 'server', message = 'm') =>
    Object.assign(new Error(message), { name, $fault: fault, $metadata: { httpStatusCode: status } });

  test('throttling and 5xx are retryable NetworkErrors naming the queue', () => {
    for (const e of [sdk('RequestThrottled', 400, 'client'), sdk('ThrottlingException', 400, 'client'), sdk('InternalError', 500, 'server'), sdk('ServiceUnavailable', 503, 'server')]) {
      const m = sqsError(e, URL_, 'SendMessageBatch');
      assert.ok(m instanceof NetworkError, e.name);
      assert.ok(isRetryable(m));
      assert.match(m.message, /sqs\.eu-west-1\.amazonaws\.com/);
      assert.ok(m.message.includes(URL_));
    }
  });

  test('a refused connection (no HTTP answer) is a retryable NetworkError', () => {
    const e = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const m = sqsError(e, 'http://127.0.0.1:9/1/q', 'ReceiveMessage');
    assert.ok(m instanceof NetworkError && isRetryable(m));
    assert.match(m.message, /ECONNREFUSED/);
  });

  test('a missing queue and access denied are permanent one-line QueueErrors naming the URL', () => {
    const missing = sqsError(sdk('QueueDoesNotExist', 400, 'client'), URL_, 'ReceiveMessage');
    assert.ok(missing instanceof QueueError && !isRetryable(missing));
    assert.equal(missing.message, `SQS queue ${URL_} does not exist (ReceiveMessage)`);
    const denied = sqsError(sdk('AccessDenied', 403, 'client', 'User: arn:aws:iam::1:user/x is not authorized\nline2'), URL_, 'SendMessage');
    assert.ok(denied instanceof QueueError && !isRetryable(denied));
    assert.match(denied.message, /^SQS denied sqs:SendMessage on https:\/\/sqs\.eu-west-1\.amazonaws\.com\/123456789012\/work: AccessDenied/);
    assert.ok(!denied.message.includes('\n'));
  });

  test('secrets in an SDK message are masked', () => {
    const m = sqsError(sdk('InvalidParameterValue', 400, 'client', 'bad header Authorization: Bearer abc.def.ghi'), URL_, 'SendMessage');
    assert.ok(!m.message.includes('abc.def.ghi'));
  });
});
