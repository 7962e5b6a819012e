// SendMessageBatch for a whole plan: groups of at most 10 entries and 256 KiB (REFERENCE 4: the
// limit is on the batch's total payload, not only per message), several batches in flight, and a
// retry of the entries a 200 answer still lists in `Failed[]`.
import { SendMessageBatchCommand, type SQSClient, type SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { QueueError } from '../errors.js';
import { maskSecretText } from '../secrets.js';
import { printable } from '../text.js';
import { SQS_MAX_BATCH, SQS_MAX_BYTES, sqsCall, sqsText } from './sqs-client.js';

export interface SendOptions {
  /** Batches in flight at once. Default 8: enough to hide a round trip, few enough not to be throttled. */
  concurrency?: number;
  /** SQS DelaySeconds on every entry (0-900). */
  delaySeconds?: number;
  /** Tries per entry listed in `Failed[]` before giving up. Default 4. */
  attempts?: number;
  /** First backoff after a partial failure, doubled each time (with jitter). Default 200 ms. */
  backoffMs?: number;
  /** Payload limit per message and per batch. Default 256 KiB. */
  maxBytes?: number;
  /** Called once per SendMessageBatch request (the bench and tests count them). */
  onBatch?: (entries: number, bytes: number) => void;
}

/**
 * Indexes of `bodies` grouped into batches: at most 10 each, at most `maxBytes` in total, in order.
 * A body over `maxBytes` on its own is an error naming it (its index and first characters).
 */
export function batchIndexes(bodies: readonly string[], maxBytes = SQS_MAX_BYTES, queueUrl = 'the queue'): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let curBytes = 0;
  bodies.forEach((body, i) => {
    const size = Buffer.byteLength(body);
    if (size > maxBytes) {
      const head = maskSecretText(printable(body.slice(0, 60), 60));
      throw new QueueError(queueUrl, `message ${i} (${head}...) is ${size} bytes; SQS allows ${maxBytes} per message on ${queueUrl}`);
    }
    if (size === 0) throw new QueueError(queueUrl, `message ${i} is empty; SQS refuses empty bodies (${queueUrl})`);
    if (cur.length === SQS_MAX_BATCH || curBytes + size > maxBytes) {
      out.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(i);
    curBytes += size;
  });
  if (cur.length) out.push(cur);
  return out;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Send every body. Resolves when all are on the queue; rejects with a QueueError naming the queue
 * and the failure codes when an entry keeps failing. Batches already sent stay sent (SQS has no
 * transaction): a planner that retries the whole send may enqueue some messages twice, which the
 * copier tolerates (a copy is idempotent).
 */
export async function sendBodies(client: SQSClient, queueUrl: string, bodies: readonly string[], options: SendOptions = {}): Promise<void> {
  const maxBytes = options.maxBytes ?? SQS_MAX_BYTES;
  const batches = batchIndexes(bodies, maxBytes, queueUrl);
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 8, batches.length));
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < batches.length) {
      const batch = batches[next++]!;
      try {
        await sendBatch(client, queueUrl, batch.map((i) => bodies[i]!), options);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failed !== undefined) throw failed;
}

async function sendBatch(client: SQSClient, queueUrl: string, bodies: string[], options: SendOptions): Promise<void> {
  const attempts = Math.max(1, options.attempts ?? 4);
  const backoffMs = options.backoffMs ?? 200;
  // Entry ids only need to be unique within one request: the index in this batch.
  let pending: SendMessageBatchRequestEntry[] = bodies.map((MessageBody, i) => ({ Id: String(i), MessageBody, ...(options.delaySeconds ? { DelaySeconds: options.delaySeconds } : {}) }));
  for (let attempt = 1; ; attempt++) {
    options.onBatch?.(pending.length, pending.reduce((n, e) => n + Buffer.byteLength(e.MessageBody ?? ''), 0));
    const res = await sqsCall(queueUrl, 'SendMessageBatch', () => client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending })));
    const failures = res.Failed ?? [];
    if (failures.length === 0) return;
    const codes = [...new Set(failures.map((f) => sqsText(f.Code, 60)))].join(', ');
    const why = sqsText(failures[0]?.Message, 120);
    // SenderFault: SQS says the entry itself is wrong (bad characters, too large); sending it again
    // cannot succeed, so stop now instead of after the backoff.
    if (failures.some((f) => f.SenderFault)) {
      throw new QueueError(queueUrl, `SQS rejected ${failures.length} message(s) sent to ${queueUrl}: ${codes}${why ? ` (${why})` : ''}`);
    }
    if (attempt >= attempts) {
      throw new QueueError(queueUrl, `SQS kept failing ${failures.length} message(s) sent to ${queueUrl} after ${attempts} tries: ${codes}${why ? ` (${why})` : ''}`);
    }
    const retry = new Set(failures.map((f) => f.Id));
    pending = pending.filter((e) => retry.has(e.Id));
    const base = backoffMs * 2 ** (attempt - 1);
    await sleep(base / 2 + Math.random() * (base / 2));
  }
}
