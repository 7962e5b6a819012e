// Copiers on any machine (the CLI's `sync --queue-url` and `work`): each worker receives from the
// SQS queue, builds the event Lambda's SQS event source mapping would deliver, and calls the same
// middy copier handler the Lambda runs. So the handler is exercised locally, and a copy too long
// for Lambda's 15 minutes can run on EC2 or in a container. After the handler returns, the worker
// does what the event source mapping does: it deletes the records not listed in
// `batchItemFailures` and leaves the failures, whose visibility the handler already set.
import { setMaxListeners } from 'node:events';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { QueueMessage, WorkQueue } from '../queue/types.js';

export type CopierLambda = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface LocalWorkersOptions {
  queue: WorkQueue & { ackMany?(messages: readonly QueueMessage[]): Promise<void> };
  handler: CopierLambda;
  workers: number;
  /** Messages per receive (1-10). Default 1: local-aws-sqs holds a poll for more than one for the whole wait. */
  batch?: number;
  /** Long-poll wait per receive. Default 1 s, so a stop is noticed quickly. */
  waitMs?: number;
  /** eventSourceARN of the records (the queue's ARN). */
  queueArn?: string;
  /** What getRemainingTimeInMillis starts from. Default 24 h: a local worker has no Lambda deadline. */
  remainingMs?: number;
  /**
   * The queue's visibility timeout. While the handler holds a message, its visibility is extended
   * to this every half of it, so a copy longer than the timeout (the reason to run `work` on EC2)
   * is not handed to a second copier meanwhile. Needs `held`. Default: no heartbeat.
   */
  visibilityMs?: number;
  /** The messages the handler holds, told apart from those it settled (see HeldMessages). */
  held?: HeldMessages;
  /** Where the receives in progress are recorded (see PendingPolls). */
  polls?: PendingPolls;
  stop: AbortSignal;
}

/**
 * The long polls that may still hand out a message. Aborting a ReceiveMessage only closes our side:
 * SQS (and local-aws-sqs, measured) goes on waiting and can give the next visible message to the
 * closed connection, where it stays invisible for the whole visibility timeout (90 minutes on the
 * stack's work queue). So a message released at a stop must not be visible before the polls this
 * process abandoned have run out: `quietInMs()` says how long that is.
 */
export class PendingPolls {
  private readonly open = new Map<symbol, number>();

  /** A receive of `waitMs` starts; call the returned function when SQS has answered it. */
  begin(waitMs: number): () => void {
    const id = Symbol('poll');
    // The request reaches SQS a little after this; a second covers the trip.
    this.open.set(id, Date.now() + waitMs + 1000);
    return () => void this.open.delete(id);
  }

  /** `queue`, whose release at once (delay 0: a copy cut short by a stop) waits out the open polls. */
  wrap(queue: WorkQueue): WorkQueue {
    return {
      send: (bodies) => queue.send(bodies),
      receive: (max, waitMs, signal) => queue.receive(max, waitMs, signal),
      ack: (m) => queue.ack(m),
      release: (m, delayMs) => queue.release(m, delayMs > 0 ? delayMs : this.quietInMs()),
      deadLetter: (m, reason, body) => queue.deadLetter(m, reason, body),
      counts: () => queue.counts(),
      drained: () => queue.drained(),
    };
  }

  /** Milliseconds until no receive this process gave up on can still take a message (0: none). */
  quietInMs(): number {
    const now = Date.now();
    let last = now;
    for (const [id, until] of this.open) {
      if (until <= now) this.open.delete(id);
      else last = Math.max(last, until);
    }
    return last - now;
  }
}

/**
 * Which received messages the handler has not settled yet. The handler settles through `wrap()`'s
 * queue, so a message it acked, released for a retry or dead-lettered is no longer extended: the
 * heartbeat never overrides a retry's backoff visibility.
 */
export class HeldMessages {
  private readonly held = new Map<string, QueueMessage>();

  hold(messages: readonly QueueMessage[]): void {
    for (const m of messages) this.held.set(m.receiptHandle, m);
  }

  drop(messages: readonly QueueMessage[]): void {
    for (const m of messages) this.held.delete(m.receiptHandle);
  }

  /** Those of `messages` still held. */
  of(messages: readonly QueueMessage[]): QueueMessage[] {
    return messages.filter((m) => this.held.has(m.receiptHandle));
  }

  wrap(queue: WorkQueue): WorkQueue {
    const settle = <T>(m: QueueMessage, call: () => Promise<T>) => {
      this.held.delete(m.receiptHandle);
      return call();
    };
    return {
      send: (bodies) => queue.send(bodies),
      receive: (max, waitMs, signal) => queue.receive(max, waitMs, signal),
      ack: (m) => settle(m, () => queue.ack(m)),
      release: (m, delayMs) => settle(m, () => queue.release(m, delayMs)),
      deadLetter: (m, reason, body) => settle(m, () => queue.deadLetter(m, reason, body)),
      counts: () => queue.counts(),
      drained: () => queue.drained(),
    };
  }
}

/** A Lambda-like context: only the deadline matters to the copier handler. */
export function localContext(remainingMs: number, name = 'swr-migrate-local-copier'): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    memoryLimitInMB: '0',
    awsRequestId: `local-${Date.now().toString(36)}`,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The record Lambda would deliver for a received message (attributes as strings, as SQS gives them). */
export function recordFor(msg: QueueMessage, queueArn = 'arn:aws:sqs:local:000000000000:queue'): SQSRecord {
  const now = String(Date.now());
  return {
    messageId: msg.id,
    receiptHandle: msg.receiptHandle,
    body: msg.body,
    attributes: { ApproximateReceiveCount: String(msg.receiveCount), SentTimestamp: now, SenderId: 'local', ApproximateFirstReceiveTimestamp: now },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? 'local',
  };
}

/** One batch: handler, then delete what it did not report as failed. Returns the ids that came back. */
export async function runBatch(
  opts: Pick<LocalWorkersOptions, 'queue' | 'handler' | 'queueArn' | 'remainingMs' | 'visibilityMs' | 'held'>,
  messages: QueueMessage[],
): Promise<Set<string>> {
  const event: SQSEvent = { Records: messages.map((m) => recordFor(m, opts.queueArn)) };
  const { held, visibilityMs } = opts;
  let beat: NodeJS.Timeout | undefined;
  if (held && visibilityMs && visibilityMs >= 2000) {
    held.hold(messages);
    beat = setInterval(() => {
      for (const m of held.of(messages)) opts.queue.release(m, visibilityMs).catch(() => undefined);
    }, visibilityMs / 2);
    beat.unref();
  }
  let res;
  try {
    res = await opts.handler(event, localContext(opts.remainingMs ?? 24 * 3600_000));
  } finally {
    if (beat) clearInterval(beat);
    held?.drop(messages);
  }
  const failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  const succeeded = messages.filter((m) => !failed.has(m.id));
  // The handler acks what it copied already; the mapping's delete is then a no-op on SQS (a stale
  // handle is ignored), but it is what Lambda does, and it covers a handler that only reports.
  if (succeeded.length) {
    if (opts.queue.ackMany) await opts.queue.ackMany(succeeded);
    else for (const m of succeeded) await opts.queue.ack(m);
  }
  return failed;
}

/** Run `workers` receive loops until `stop` aborts. A queue failure stops all of them and is thrown. */
export async function runLocalWorkers(opts: LocalWorkersOptions): Promise<void> {
  const broken = new AbortController();
  const stop = AbortSignal.any([opts.stop, broken.signal]);
  // Each worker's long poll listens on `stop`: one listener per worker, by design.
  setMaxListeners(0, stop);
  const batch = Math.min(10, Math.max(1, opts.batch ?? 1));
  const loop = async () => {
    try {
      const waitMs = opts.waitMs ?? 1000;
      while (!stop.aborted) {
        const answered = opts.polls?.begin(waitMs);
        const messages = await opts.queue.receive(batch, waitMs, stop);
        // An aborted receive returns nothing but may still be waiting on SQS's side: it stays open.
        if (!stop.aborted) answered?.();
        if (messages.length) await runBatch(opts, messages);
      }
    } catch (err) {
      broken.abort();
      throw err;
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, opts.workers) }, loop));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}
