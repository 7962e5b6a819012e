// The SQS dead-letter queue as a DeadLetterStore. It is the queue's RedrivePolicy target, so SQS
// itself moves a message there after maxReceiveCount receives (silently: such a letter has no
// reason attributes), and our copiers send permanent failures there with the reason attached.
// Replay is SQS's own redrive (StartMessageMoveTask), not list + resend + remove.
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
  type Message,
  type MessageAttributeValue,
  type QueueAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ErrorCode, QueueError } from '../errors.js';
import { maskSecretText } from '../secrets.js';
import { printable } from '../text.js';
import { MAX_RECEIVES_CODE } from './embedded.js';
import { byImage, census, deadLetterBody, type DeadLetterCensus, type DeadLetterGroup } from './letters.js';
import { isStaleHandle, parseQueueArn, SQS_MAX_BATCH, SQS_MAX_BYTES, sqsCall, sqsText } from './sqs-client.js';
import type { DeadLetter, DeadLetterStore, Redrivable, RedriveStatus } from './types.js';

export type { DeadLetterCensus, DeadLetterGroup };

/** Message attribute names of a dead letter (the reason travels beside the body, not inside it). */
export const DLQ_ATTR = { code: 'swrm-code', message: 'swrm-message', at: 'swrm-at', receiveCount: 'swrm-receive-count', id: 'swrm-id' } as const;
/** The reason's message is cut to this many characters (attributes count against 256 KiB). */
const MAX_REASON = 1000;
/** How long list() hides a page of letters while it reads the next (they are unhidden after). */
const LIST_HIDE_S = 30;

export interface SqsDeadLetterStoreOptions {
  client: SQSClient;
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  dlqArn: string;
  maxReceiveCount: number;
}

/**
 * A DLQ known beforehand (the Lambda functions get it from their environment, serverless.yml), so
 * nothing is looked up: no GetQueueAttributes, and no GetQueueUrl, which is an IAM action of its
 * own that the functions' roles do not grant (issue 14).
 */
export interface KnownDeadLetterQueue {
  dlqUrl: string;
  dlqArn: string;
  /** The work queue's ARN: a redrive's destination (StartMessageMoveTask DestinationArn). */
  queueArn: string;
  /** RedrivePolicy.maxReceiveCount, for the reason of letters SQS moved itself; 0 if unknown. */
  maxReceiveCount?: number;
}

/**
 * The queue's DLQ from its RedrivePolicy: URL, ARN, maxReceiveCount, and the queue's own ARN. The
 * CLI's way (`--queue-url`): it costs sqs:GetQueueAttributes on the queue and sqs:GetQueueUrl on the DLQ.
 */
export async function findDeadLetterQueue(client: SQSClient, queueUrl: string): Promise<SqsDeadLetterStoreOptions> {
  const res = await sqsCall(queueUrl, 'GetQueueAttributes', () =>
    client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'RedrivePolicy'] })),
  );
  const queueArn = res.Attributes?.QueueArn ?? '';
  const raw = res.Attributes?.RedrivePolicy;
  const noDlq = (why: string) => new QueueError(queueUrl, `SQS queue ${queueUrl} ${why}: give it a RedrivePolicy with a deadLetterTargetArn`, ErrorCode.NO_DLQ);
  if (!raw) throw noDlq('has no dead-letter queue (no RedrivePolicy)');
  let policy: { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
  try {
    policy = JSON.parse(raw) as typeof policy;
  } catch {
    throw noDlq('has a RedrivePolicy that is not JSON');
  }
  const dlqArn = typeof policy.deadLetterTargetArn === 'string' ? policy.deadLetterTargetArn : '';
  const parts = parseQueueArn(dlqArn);
  if (!parts) throw noDlq(`has a RedrivePolicy whose deadLetterTargetArn "${printable(dlqArn, 200)}" is not an SQS ARN`);
  const url = await sqsCall(queueUrl, 'GetQueueUrl', () =>
    client.send(new GetQueueUrlCommand({ QueueName: parts.name, ...(parts.account ? { QueueOwnerAWSAccountId: parts.account } : {}) })),
  ).catch((err: unknown) => {
    throw new QueueError(queueUrl, `the dead-letter queue ${dlqArn} of ${queueUrl} cannot be found: ${(err as Error).message}`, ErrorCode.NO_DLQ, { cause: err });
  });
  if (!url.QueueUrl) throw noDlq(`names a dead-letter queue ${dlqArn} that has no URL`);
  return { client, queueUrl, queueArn, dlqUrl: url.QueueUrl, dlqArn, maxReceiveCount: Number(policy.maxReceiveCount) || 0 };
}

export class SqsDeadLetterStore implements DeadLetterStore, Redrivable {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
  /** RedrivePolicy.maxReceiveCount of the queue (0 when SQS did not say). */
  readonly maxReceiveCount: number;
  private readonly client: SQSClient;
  /** Latest receipt handle per DLQ message id, from list(): remove() deletes by it. */
  private readonly handles = new Map<string, string>();

  constructor(options: SqsDeadLetterStoreOptions) {
    this.client = options.client;
    this.queueUrl = options.queueUrl;
    this.queueArn = options.queueArn;
    this.dlqUrl = options.dlqUrl;
    this.dlqArn = options.dlqArn;
    this.maxReceiveCount = options.maxReceiveCount;
  }

  /** The store for `queueUrl`'s DLQ; fails with SWRM_NO_DLQ naming the queue when it has none. */
  static async forQueue(client: SQSClient, queueUrl: string): Promise<SqsDeadLetterStore> {
    return new SqsDeadLetterStore(await findDeadLetterQueue(client, queueUrl));
  }

  async add(letter: DeadLetter): Promise<void> {
    const str = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });
    // Whoever calls: a valid message byte for byte (replay runs it), anything else masked, since a
    // secret must never reach a queue message (issue 6). SQS cannot replace a letter in place: a
    // second letter for the same image is counted as a duplicate (census) and dropped before a
    // replay (dropDuplicates).
    const body = deadLetterBody(letter.body);
    const attributes: Record<string, MessageAttributeValue> = {
      [DLQ_ATTR.code]: str(printable(letter.reason.code, 100) || 'SWRM_INTERNAL'),
      [DLQ_ATTR.message]: str(maskSecretText(printable(letter.reason.message, MAX_REASON)) || '-'),
      [DLQ_ATTR.at]: str(letter.at),
      [DLQ_ATTR.receiveCount]: { DataType: 'Number', StringValue: String(letter.receiveCount) },
      [DLQ_ATTR.id]: str(letter.id),
    };
    // SQS's 256 KiB counts the attributes' names, types and values too: a body near the limit
    // (it fitted the work queue alone) gets a shorter reason message instead of being refused.
    const over = Buffer.byteLength(body) + attributeBytes(attributes) - SQS_MAX_BYTES;
    if (over > 0) {
      const msg = attributes[DLQ_ATTR.message]!.StringValue!;
      const room = Buffer.byteLength(msg) - over;
      if (room < 1) throw new QueueError(this.dlqUrl, `dead letter ${printable(letter.id, 100)} does not fit the 256 KiB of ${this.dlqUrl} with its reason`);
      attributes[DLQ_ATTR.message] = str(Buffer.from(msg).subarray(0, room).toString('utf8').replace(/\uFFFD$/, '') || '-');
    }
    await sqsCall(this.dlqUrl, 'SendMessage', () => this.client.send(new SendMessageCommand({ QueueUrl: this.dlqUrl, MessageBody: body, MessageAttributes: attributes })));
  }

  /**
   * Peek at up to `max` letters without consuming them. A receive with VisibilityTimeout 0 would
   * hand back the same first 10 every time (seen on local-aws-sqs; SQS may do the same), so each
   * page is hidden for `LIST_HIDE_S` while the next is read, and every letter seen is made visible
   * again (ChangeMessageVisibilityBatch 0) before returning. A crash in between hides them for at
   * most that long. A DLQ larger than `max` gives its first `max` (for `status`).
   */
  async list(max = 1000): Promise<DeadLetter[]> {
    const seen = new Map<string, DeadLetter>();
    try {
      while (seen.size < max) {
        const res = await sqsCall(this.dlqUrl, 'ReceiveMessage', () =>
          this.client.send(
            new ReceiveMessageCommand({
              QueueUrl: this.dlqUrl,
              MaxNumberOfMessages: Math.min(SQS_MAX_BATCH, max - seen.size),
              VisibilityTimeout: LIST_HIDE_S,
              WaitTimeSeconds: 0,
              MessageAttributeNames: ['All'],
              AttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'] as unknown as QueueAttributeName[],
              MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
            }),
          ),
        );
        const before = seen.size;
        for (const m of res.Messages ?? []) {
          if (!m.MessageId || !m.ReceiptHandle) continue;
          this.handles.set(m.MessageId, m.ReceiptHandle);
          if (!seen.has(m.MessageId)) seen.set(m.MessageId, this.toLetter(m));
        }
        if (seen.size === before) break;
      }
    } finally {
      await this.unhide([...seen.keys()]);
    }
    return [...seen.values()];
  }

  /** Make listed letters visible again at once; their receipt handles stay valid for remove(). */
  private async unhide(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += SQS_MAX_BATCH) {
      const entries = ids.slice(i, i + SQS_MAX_BATCH).map((id, j) => ({ Id: String(j), ReceiptHandle: this.handles.get(id)!, VisibilityTimeout: 0 }));
      await sqsCall(this.dlqUrl, 'ChangeMessageVisibilityBatch', () => this.client.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.dlqUrl, Entries: entries })));
    }
  }

  /** Delete letters listed by list() (ids without a known receipt handle are skipped). */
  async remove(ids: readonly string[]): Promise<void> {
    const entries = ids.flatMap((id) => {
      const handle = this.handles.get(id);
      return handle ? [{ id, handle }] : [];
    });
    for (let i = 0; i < entries.length; i += SQS_MAX_BATCH) {
      const chunk = entries.slice(i, i + SQS_MAX_BATCH);
      const res = await sqsCall(this.dlqUrl, 'DeleteMessageBatch', () =>
        this.client.send(new DeleteMessageBatchCommand({ QueueUrl: this.dlqUrl, Entries: chunk.map((e, j) => ({ Id: String(j), ReceiptHandle: e.handle })) })),
      );
      const failed = (res.Failed ?? []).filter((f) => !isStaleHandle({ name: f.Code }));
      if (failed.length) {
        throw new QueueError(this.dlqUrl, `SQS did not delete ${failed.length} letter(s) from ${this.dlqUrl}: ${[...new Set(failed.map((f) => sqsText(f.Code, 60)))].join(', ')}`);
      }
      for (const e of chunk) this.handles.delete(e.id);
    }
  }

  /** Reasons grouped by code, most frequent first, without consuming the letters. */
  async reasons(max = 1000): Promise<DeadLetterGroup[]> {
    return (await this.census(max)).reasons;
  }

  /**
   * Letters, distinct images and duplicates, and the reasons by code counting each image once (by
   * its newest letter), without consuming anything. SQS cannot replace a letter, so an image can
   * have several: planned by two runs (a scheduled planner and a `sync --queue-url`), delivered
   * twice at once, or a crash between the DLQ send and the delete (sqs-queue.ts deadLetter).
   */
  async census(max = 1000): Promise<DeadLetterCensus> {
    return census(await this.list(max));
  }

  /**
   * Delete every letter but the newest of each image among the first `max` (before a redrive, so
   * each image goes back onto the queue once). Returns what the listing saw and how many it deleted.
   */
  async dropDuplicates(max = 1000): Promise<{ letters: number; images: number; dropped: number }> {
    const letters = await this.list(max);
    const { newest, duplicates } = byImage(letters);
    if (duplicates.length) await this.remove(duplicates.map((l) => l.id));
    return { letters: letters.length, images: newest.length, dropped: duplicates.length };
  }

  /** StartMessageMoveTask from the DLQ back onto the queue. SQS allows one active task per DLQ. */
  async redrive(maxPerSecond?: number): Promise<RedriveStatus> {
    await sqsCall(this.dlqUrl, 'StartMessageMoveTask', () =>
      this.client.send(
        new StartMessageMoveTaskCommand({ SourceArn: this.dlqArn, DestinationArn: this.queueArn, ...(maxPerSecond ? { MaxNumberOfMessagesPerSecond: maxPerSecond } : {}) }),
      ),
    );
    return (await this.redriveStatus()) ?? { status: 'RUNNING', moved: 0 };
  }

  /** The latest move task of this DLQ (ListMessageMoveTasks), or undefined if there never was one. */
  async redriveStatus(): Promise<RedriveStatus | undefined> {
    const res = await sqsCall(this.dlqUrl, 'ListMessageMoveTasks', () => this.client.send(new ListMessageMoveTasksCommand({ SourceArn: this.dlqArn, MaxResults: 1 })));
    const t = res.Results?.[0];
    if (!t) return undefined;
    const out: RedriveStatus = { status: t.Status ?? 'UNKNOWN', moved: t.ApproximateNumberOfMessagesMoved ?? 0 };
    if (t.ApproximateNumberOfMessagesToMove !== undefined) out.toMove = t.ApproximateNumberOfMessagesToMove;
    if (t.FailureReason) out.failureReason = sqsText(t.FailureReason);
    return out;
  }

  /** Start a redrive and poll until it leaves RUNNING/CANCELLING, or `timeoutMs` passes. */
  async redriveAndWait(timeoutMs = 15 * 60_000, intervalMs = 1000): Promise<RedriveStatus> {
    let status = await this.redrive();
    const deadline = Date.now() + timeoutMs;
    while ((status.status === 'RUNNING' || status.status === 'CANCELLING') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
      status = (await this.redriveStatus()) ?? status;
    }
    return status;
  }

  private toLetter(m: Message): DeadLetter {
    const attr = (name: string) => m.MessageAttributes?.[name]?.StringValue;
    const sqsCount = Number(m.Attributes?.ApproximateReceiveCount ?? 0);
    const sent = Number(m.Attributes?.SentTimestamp);
    const code = attr(DLQ_ATTR.code);
    // No reason attributes: SQS moved it by the RedrivePolicy (receives exhausted), or someone
    // else sent it. Same code as the embedded queue uses for its redrive.
    const reason = code
      ? { code: sqsText(code, 100), message: sqsText(attr(DLQ_ATTR.message), MAX_REASON) }
      : { code: MAX_RECEIVES_CODE, message: `moved to the DLQ by the RedrivePolicy of ${this.queueUrl} (maxReceiveCount ${this.maxReceiveCount})` };
    return {
      id: m.MessageId!,
      body: m.Body ?? '',
      receiveCount: Number(attr(DLQ_ATTR.receiveCount)) || (code ? 0 : this.maxReceiveCount || sqsCount),
      reason,
      at: attr(DLQ_ATTR.at) ?? (Number.isFinite(sent) ? new Date(sent).toISOString() : new Date(0).toISOString()),
    };
  }
}

/** An attribute's share of the message size: name, data type and value, in UTF-8 bytes (SQS docs). */
export function attributeBytes(attributes: Record<string, MessageAttributeValue>): number {
  let n = 0;
  for (const [name, v] of Object.entries(attributes)) n += Buffer.byteLength(name) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? '');
  return n;
}
