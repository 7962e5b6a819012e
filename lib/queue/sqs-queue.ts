// The WorkQueue port on Amazon SQS (or local-aws-sqs). Same semantics as the embedded queue, which
// imitates SQS: receipt handles, visibility for backoff, RedrivePolicy's maxReceiveCount. The DLQ
// is the queue's RedrivePolicy target (sqs-dlq.ts).
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type QueueAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { QueueError } from '../errors.js';
import { isAbort, isStaleHandle, SQS_MAX_BATCH, sqsCall, sqsClient, sqsText, visibilitySeconds, waitSeconds } from './sqs-client.js';
import { type KnownDeadLetterQueue, SqsDeadLetterStore } from './sqs-dlq.js';
import { sendBodies, type SendOptions } from './sqs-send.js';
import { checkedDelaySeconds, type FailureReason, type QueueCounts, type QueueMessage, type SendOptions as QueueSendOptions, type WorkQueue } from './types.js';

export interface SqsWorkQueueOptions {
  queueUrl: string;
  /** Default: sqsClient() (AWS_REGION, AWS_ENDPOINT_URL_SQS, the SDK's credential chain). */
  client?: SQSClient;
  /** SendMessageBatch tuning (batches in flight, tries for `Failed[]` entries). */
  send?: SendOptions;
  /**
   * drained(): consecutive all-zero readings of the approximate counts it takes, and the pause
   * between them. SQS's counts lag (AWS: "approximate", settling within about a minute), so one
   * zero reading can precede a message that is merely not counted yet. Default 3 readings, 1 s apart;
   * an exact stand-in can use 1.
   */
  drainedReadings?: number;
  drainedIntervalMs?: number;
  /** The DLQ when known (Lambda: from the environment); default: found from the RedrivePolicy. */
  deadLetterQueue?: KnownDeadLetterQueue;
}

export class SqsWorkQueue implements WorkQueue {
  readonly queueUrl: string;
  readonly client: SQSClient;
  private readonly sendOptions: SendOptions;
  private readonly drainedReadings: number;
  private readonly drainedIntervalMs: number;
  private dlq: Promise<SqsDeadLetterStore> | undefined;
  private readonly knownDlq: KnownDeadLetterQueue | undefined;

  constructor(options: SqsWorkQueueOptions) {
    if (!options.queueUrl) throw new QueueError('', 'no SQS queue URL given (--queue-url or SWRM_QUEUE_URL)');
    this.queueUrl = options.queueUrl;
    this.client = options.client ?? sqsClient();
    this.sendOptions = options.send ?? {};
    this.drainedReadings = Math.max(1, options.drainedReadings ?? 3);
    this.drainedIntervalMs = Math.max(0, options.drainedIntervalMs ?? 1000);
    this.knownDlq = options.deadLetterQueue;
  }

  /** The queue's DLQ: the known one, else found once from its RedrivePolicy (SWRM_NO_DLQ naming the queue if none). */
  deadLetters(): Promise<SqsDeadLetterStore> {
    const known = this.knownDlq;
    if (known) {
      this.dlq ??= Promise.resolve(new SqsDeadLetterStore({ client: this.client, queueUrl: this.queueUrl, ...known, maxReceiveCount: known.maxReceiveCount ?? 0 }));
      return this.dlq;
    }
    this.dlq ??= SqsDeadLetterStore.forQueue(this.client, this.queueUrl);
    // A failed lookup is not cached: a queue fixed meanwhile is found on the next call.
    this.dlq.catch(() => (this.dlq = undefined));
    return this.dlq;
  }

  send(bodies: string[], opts: QueueSendOptions = {}): Promise<void> {
    const delaySeconds = checkedDelaySeconds(opts.delaySeconds);
    return sendBodies(this.client, this.queueUrl, bodies, delaySeconds ? { ...this.sendOptions, delaySeconds } : this.sendOptions);
  }

  async receive(max: number, waitMs: number, signal?: AbortSignal): Promise<QueueMessage[]> {
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`receive: max must be a positive integer, got ${max}`);
    if (signal?.aborted) return [];
    let res;
    try {
      res = await sqsCall(this.queueUrl, 'ReceiveMessage', () =>
        this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: Math.min(max, SQS_MAX_BATCH),
            WaitTimeSeconds: waitSeconds(waitMs),
            // AttributeNames is deprecated in favour of MessageSystemAttributeNames, but
            // local-aws-sqs reads only the old one: send both (issue 7, measured quirk).
            AttributeNames: ['ApproximateReceiveCount'] as unknown as QueueAttributeName[],
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          signal ? { abortSignal: signal } : {},
        ),
      );
    } catch (err) {
      // An aborted long poll takes nothing (as for the embedded queue); what SQS may have handed
      // out meanwhile comes back after its visibility timeout.
      if (isAbort(err) || signal?.aborted) return [];
      throw err;
    }
    // local-aws-sqs can deliver one message twice in one response when its visibility timeout is
    // shorter than the wait: keep one delivery per id, the later one (its handle is the valid one).
    const byId = new Map<string, QueueMessage>();
    for (const m of res.Messages ?? []) {
      if (!m.MessageId || !m.ReceiptHandle || m.Body === undefined) continue;
      byId.delete(m.MessageId);
      byId.set(m.MessageId, {
        id: m.MessageId,
        body: m.Body,
        receiptHandle: m.ReceiptHandle,
        receiveCount: Math.max(1, Number(m.Attributes?.ApproximateReceiveCount) || 1),
      });
    }
    return [...byId.values()];
  }

  async ack(message: QueueMessage): Promise<void> {
    try {
      await sqsCall(this.queueUrl, 'DeleteMessage', () => this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.receiptHandle })));
    } catch (err) {
      // A handle from an older delivery: a newer one owns the message now (embedded: no-op too).
      if (!isStaleHandle((err as { cause?: unknown }).cause)) throw err;
    }
  }

  /** Delete many in DeleteMessageBatch requests of 10; stale handles are skipped as in ack(). */
  async ackMany(messages: readonly QueueMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += SQS_MAX_BATCH) {
      const chunk = messages.slice(i, i + SQS_MAX_BATCH);
      const res = await sqsCall(this.queueUrl, 'DeleteMessageBatch', () =>
        this.client.send(new DeleteMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.receiptHandle })) })),
      );
      const failed = (res.Failed ?? []).filter((f) => !isStaleHandle({ name: f.Code }));
      if (failed.length) {
        throw new QueueError(this.queueUrl, `SQS did not delete ${failed.length} message(s) from ${this.queueUrl}: ${[...new Set(failed.map((f) => sqsText(f.Code, 60)))].join(', ')}`);
      }
    }
  }

  async release(message: QueueMessage, delayMs: number): Promise<void> {
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new RangeError(`release: bad delay ${delayMs}`);
    try {
      await sqsCall(this.queueUrl, 'ChangeMessageVisibility', () =>
        this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.receiptHandle, VisibilityTimeout: visibilitySeconds(delayMs) })),
      );
    } catch (err) {
      if (!isStaleHandle((err as { cause?: unknown }).cause)) throw err;
    }
  }

  /**
   * Send to the DLQ with the reason in message attributes, then delete from the queue. A crash
   * between the two leaves the letter in the DLQ and the message back on the queue after its
   * visibility timeout, so a letter can exist twice: replay tolerates it (copies are idempotent).
   */
  async deadLetter(message: QueueMessage, reason: FailureReason, body?: string): Promise<void> {
    const dlq = await this.deadLetters();
    await dlq.add({ id: message.id, body: body ?? message.body, receiveCount: message.receiveCount, reason, at: new Date().toISOString() });
    await this.ack(message);
  }

  async counts(): Promise<QueueCounts> {
    const res = await sqsCall(this.queueUrl, 'GetQueueAttributes', () =>
      this.client.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      ),
    );
    const n = (name: string) => Number(res.Attributes?.[name as keyof typeof res.Attributes] ?? 0) || 0;
    return { visible: n('ApproximateNumberOfMessages'), inFlight: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
  }

  /** `drainedReadings` consecutive empty readings (see the option); false at the first non-empty one. */
  async drained(): Promise<boolean> {
    for (let i = 0; i < this.drainedReadings; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, this.drainedIntervalMs));
      const c = await this.counts();
      if (c.visible + c.inFlight + c.delayed > 0) return false;
    }
    return true;
  }
}
