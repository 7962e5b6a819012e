// Issue 14, item 4, end to end on local-aws-sqs: the copier handler as the Lambda builds it from its
// environment (QUEUE_URL, LONG_QUEUE_URL; lib/lambda/handlers.ts with the SQS factory), fed SQS events
// with a deadline too short for the image. Cut on two deliveries, the image moves to the long-haul
// queue with its reason in message attributes; `status --long-queue-url` shows it waiting; `work
// --queue-url LONG_QUEUE_URL --until-empty` (no deadline) copies it, digest-exact, and leaves both
// the long-haul queue and the DLQ empty.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSBatchResponse } from 'aws-lambda';
import { pino } from 'pino';
import { DEFAULTS, type LoadedConfig } from '../../lib/config/types.js';
import { ErrorCode } from '../../lib/errors.js';
import { DEFAULT_MARGIN_MS } from '../../lib/lambda/copier-batch.js';
import { copierFromEnv } from '../../lib/lambda/handlers.js';
import { sqsQueues } from '../../lib/lambda/queue-factory.js';
import { SqsDeadLetterStore } from '../../lib/queue/sqs-dlq.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { startProxy, type ProxyHandle } from '../helpers/proxy.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';
import { lambdaContext, sqsEvent } from '../helpers/sqs-events.js';

describe('an image too long for Lambda: long-haul queue, status, work', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let slow: ProxyHandle;
  let sqs: SqsServerHandle;
  let awsEnv: Record<string, string>;
  let previousEndpoint: string | undefined;
  before(async () => {
    [src, dst, sqs] = await Promise.all([startRegistry(), startRegistry(), startSqsServer()]);
    // 1 MB at 160 kB/s: about 6.5 s, far more than the 700 ms the handler gets.
    slow = await startProxy(src, { trickleBlobs: { bytes: 8 * 1024, everyMs: 50 } });
    // The handler runs in this process, as in Lambda: its SQS client finds the stand-in by the SDK's
    // endpoint setting (a DLQ lookup has no queue URL to take the host from).
    previousEndpoint = process.env.AWS_ENDPOINT_URL_SQS;
    process.env.AWS_ENDPOINT_URL_SQS = sqs.endpoint;
    awsEnv = {
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ACCESS_KEY_ID: 'test-access-key',
      AWS_SECRET_ACCESS_KEY: 'test-secret-key',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
  });
  after(async () => {
    if (previousEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_SQS;
    else process.env.AWS_ENDPOINT_URL_SQS = previousEndpoint;
    await slow?.stop();
    await sqs?.stop();
    await stopAll();
  });
  const cli = (args: string[]): Promise<CliResult> => runCli(args, awsEnv);

  test('cut twice, moved with its reason; status shows it; work copies it and both queues end empty', async () => {
    const img = await pushImage(src, 'huge/app', 'v1', { format: 'oci', layers: [randomLayer(1024 * 1024)] });
    // The stack's shape (infra/queue.yml): work and long-haul queues, both dead-lettering into one DLQ.
    const q = await sqs.createQueuePair('lh-work', { visibilityTimeoutS: 60, maxReceiveCount: 10 });
    const long = await sqs.createQueue('lh-work-long', { VisibilityTimeout: '60', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: q.dlqArn, maxReceiveCount: 10 }) });
    const work = new SqsWorkQueue({ queueUrl: q.queueUrl, client: sqs.client });
    const config: LoadedConfig = { source: 'test', defaults: { ...DEFAULTS }, registries: [], resolve: () => ({ insecure: true }), rules: [] };
    const handler = copierFromEnv({
      env: { QUEUE_URL: q.queueUrl, DLQ_URL: q.dlqUrl, LONG_QUEUE_URL: long.queueUrl, MAX_RECEIVE_COUNT: '10' },
      handlerDir: tempDir('swrm-long-handler-'),
      queues: sqsQueues,
      load: async () => config,
      logger: pino({ level: 'silent' }),
      writeMetrics: () => undefined,
    });
    const body = encodeMessage({ v: 1, kind: 'copy-image', source: `${slow.host}/huge/app:v1`, destination: `${dst.host}/huge/app:v1` });
    await work.send([body]);
    const deliver = async () => {
      const msgs = await work.receive(1, 1000);
      assert.equal(msgs.length, 1);
      return { count: msgs[0]!.receiveCount, res: (await handler(sqsEvent(msgs), lambdaContext(DEFAULT_MARGIN_MS + 700))) as SQSBatchResponse };
    };
    const first = await deliver();
    assert.equal(first.count, 1);
    assert.equal(first.res.batchItemFailures.length, 1, 'the first cut comes back');
    const second = await deliver();
    assert.equal(second.count, 2);
    assert.deepEqual(second.res, { batchItemFailures: [] }, 'the second cut is settled by the move');
    assert.equal((await work.counts()).inFlight + (await work.counts()).visible, 0, 'gone from the work queue');

    // Its reason travels as a dead letter's does (peeked: nothing consumed).
    const peek = new SqsDeadLetterStore({ client: sqs.client, queueUrl: long.queueUrl, queueArn: long.queueArn, dlqUrl: long.queueUrl, dlqArn: long.queueArn, maxReceiveCount: 10 });
    const [letter, ...more] = await peek.list();
    assert.equal(more.length, 0);
    assert.equal(letter!.body, body);
    assert.equal(letter!.reason.code, ErrorCode.LAMBDA_DEADLINE);
    assert.match(letter!.reason.message, /unfinished at the Lambda deadline on delivery 2/);

    const st = await cli(['status', '--queue-url', q.queueUrl, '--long-queue-url', long.queueUrl]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, new RegExp(`long-haul queue ${long.queueUrl.replace(/[.?]/g, '\\$&')}: 1 message\\(s\\): images too long for the Lambda copier; 'swr-migrate work --queue-url ${long.queueUrl.replace(/[.?]/g, '\\$&')}' copies them`));
    // LONG_QUEUE_URL, the functions' variable, does instead of the flag.
    const js = JSON.parse((await runCli(['status', '--queue-url', q.queueUrl, '--json'], { ...awsEnv, LONG_QUEUE_URL: long.queueUrl })).stdout) as { longHaul: { url: string; visible: number } };
    assert.equal(js.longHaul.url, long.queueUrl);
    assert.equal(js.longHaul.visible, 1);

    const auth = writeFile(tempDir('swrm-long-auth-'), 'auth.json', { [slow.host]: { insecure: true }, [dst.host]: { insecure: true } });
    const drained = await cli(['work', '--auth', auth, '--queue-url', long.queueUrl, '--until-empty']);
    assert.equal(drained.code, 0, drained.stdout + drained.stderr);
    assert.match(drained.stdout, /^work: 1 image\(s\): 1 copied/m);
    assert.equal((await getManifest(dst, 'huge/app', 'v1'))?.digest, img.digest, 'copied digest-exact');
    const emptied = await cli(['status', '--queue-url', q.queueUrl, '--long-queue-url', long.queueUrl]);
    assert.match(emptied.stdout, /long-haul queue \S+: 0 message\(s\)$/m);
    assert.match(emptied.stdout, /-dlq: 0 message\(s\)/);
  });

  test('--long-queue-url (or LONG_QUEUE_URL) must be a queue URL: a usage error naming where it came from', async () => {
    const q = await sqs.createQueuePair('lh-bad');
    const r = await cli(['status', '--queue-url', q.queueUrl, '--long-queue-url', 'my-long-queue']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--long-queue-url must be an SQS queue URL/);
    const env = await runCli(['status', '--queue-url', q.queueUrl], { ...awsEnv, LONG_QUEUE_URL: 'my-long-queue' });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /LONG_QUEUE_URL must be an SQS queue URL/);
  });
});
