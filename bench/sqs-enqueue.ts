// `npm run bench:sqs [-- --messages N] [-- --concurrency N] [-- --json FILE]`: the issue 7 target
// "enqueue 10,000 messages into local-aws-sqs with at most 1,000 SendMessageBatch calls". Starts
// local-aws-sqs on 127.0.0.1, sends N copy-image messages (the planner's real encoding) through
// SqsWorkQueue.send, counts the SendMessageBatch requests with an SDK middleware, checks that the
// queue holds exactly N, and prints the time.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { encodeMessage } from '../lib/queue/messages.js';
import { sqsClient } from '../lib/queue/sqs-client.js';
import { SqsWorkQueue } from '../lib/queue/sqs-queue.js';
import { startSqsServer } from '../test/helpers/sqs-server.js';

const TARGET_CALLS_PER_10K = 1000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { messages: { type: 'string', default: '10000' }, concurrency: { type: 'string', default: '8' }, json: { type: 'string' } },
  });
  const count = Number(values.messages);
  const concurrency = Number(values.concurrency);
  if (!(Number.isInteger(count) && count > 0) || !(Number.isInteger(concurrency) && concurrency > 0)) throw new Error('--messages and --concurrency take positive integers');

  const sqs = await startSqsServer();
  try {
    const { queueUrl } = await sqs.createQueuePair('bench-enqueue');
    const client = sqsClient({ endpoint: sqs.endpoint, credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
    let calls = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageBatchCommand') calls++;
        return next(args);
      },
      { step: 'initialize', name: 'countBatches' },
    );
    const queue = new SqsWorkQueue({ queueUrl, client, send: { concurrency } });
    const bodies = Array.from({ length: count }, (_, i) =>
      encodeMessage({
        v: 1,
        kind: 'copy-image',
        source: `registry.example.com/team-${i % 100}/app-${Math.floor(i / 100)}:v1.${i % 37}.0`,
        destination: `swr.cn-north-4.myhuaweicloud.com/mirror/app-${Math.floor(i / 100)}:v1.${i % 37}.0`,
        origin: `rules[${i % 100}]`,
      }),
    );
    const bytes = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0);
    const t0 = performance.now();
    await queue.send(bodies);
    const ms = performance.now() - t0;
    const onQueue = (await queue.counts()).visible;
    client.destroy();

    const limit = Math.ceil((count / 10_000) * TARGET_CALLS_PER_10K);
    const ok = calls <= limit && onQueue === count;
    const rate = Math.round(count / (ms / 1000));
    console.log(`sqs-enqueue: ${count} messages (${(bytes / 1024).toFixed(0)} KiB), ${calls} SendMessageBatch calls (target <= ${limit}), ${concurrency} in flight`);
    console.log(`sqs-enqueue: ${ms.toFixed(0)} ms, ${rate} messages/s; on the queue: ${onQueue}; ${ok ? 'target met' : 'TARGET MISSED'}`);
    if (values.json) writeFileSync(values.json, `${JSON.stringify({ messages: count, bytes, calls, limit, concurrency, ms: Math.round(ms), onQueue, ok }, null, 2)}\n`);
    if (!ok) process.exitCode = 1;
  } finally {
    await sqs.stop();
  }
}

main().catch((err: unknown) => {
  console.error(`sqs-enqueue: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
