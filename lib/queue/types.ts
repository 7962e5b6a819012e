// The work-queue port. Two adapters: the embedded one (one process, SQS semantics) and, with the
// Lambda deployment, SQS itself. Same shape as powertools' persistence layer: one interface, a cloud
// implementation and an in-memory one with the same behaviour.

export interface QueueMessage {
  /** Stable across receives (SQS MessageId). */
  id: string;
  body: string;
  /** Valid for the latest receive only (SQS ReceiptHandle). */
  receiptHandle: string;
  /** 1 on the first delivery (SQS ApproximateReceiveCount). */
  receiveCount: number;
}

export interface FailureReason {
  /** A stable error code: SWRM_* or the registry's (MANIFEST_UNKNOWN, ...). */
  code: string;
  message: string;
}

export interface DeadLetter {
  id: string;
  body: string;
  receiveCount: number;
  reason: FailureReason;
  /** ISO time it was dead-lettered. */
  at: string;
}

export interface QueueCounts {
  visible: number;
  inFlight: number;
  delayed: number;
}

export interface SendOptions {
  delaySeconds?: number;
}

/** SQS's DelaySeconds range, 0 to 900 (15 minutes); a programming error otherwise. */
export function checkedDelaySeconds(v: number | undefined): number {
  const d = v ?? 0;
  if (!Number.isInteger(d) || d < 0 || d > 900) throw new RangeError(`delaySeconds must be a whole number from 0 to 900, got ${v}`);
  return d;
}

export interface WorkQueue {
  /**
   * Enqueue message bodies (the SQS adapter sends batches of 10 and checks `Failed[]`).
   * `delaySeconds` (SQS DelaySeconds, 0-900): invisible until then (an event's re-check waits out its burst).
   */
  send(bodies: string[], opts?: SendOptions): Promise<void>;
  /** Up to `max` messages, waiting up to `waitMs` for one to become visible. */
  receive(max: number, waitMs: number, signal?: AbortSignal): Promise<QueueMessage[]>;
  /** Done: delete the message. */
  ack(message: QueueMessage): Promise<void>;
  /** Make the message visible again after `delayMs` (a retry with backoff). */
  release(message: QueueMessage, delayMs: number): Promise<void>;
  /** Straight to the dead-letter queue with a reason (a permanent failure); `body` replaces the stored body (masked). */
  deadLetter(message: QueueMessage, reason: FailureReason, body?: string): Promise<void>;
  counts(): Promise<QueueCounts>;
  /**
   * True when nothing is visible, in flight or delayed. On SQS the counts are approximate (they may
   * lag by a minute): an adapter decides how many consecutive empty readings it takes.
   */
  drained(): Promise<boolean>;
}

/** A move of dead letters back onto their queue (SQS StartMessageMoveTask). */
export interface RedriveStatus {
  /** SQS task states: RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED. */
  status: string;
  moved: number;
  /** Messages to move when the task started, where known. */
  toMove?: number;
  failureReason?: string;
}

/**
 * An optional ability of a dead-letter store (regclient style: small extra interfaces): one that
 * can move its letters back itself, as SQS redrives a DLQ, instead of list + resend + remove.
 */
export interface Redrivable {
  redrive(): Promise<RedriveStatus>;
  redriveStatus(): Promise<RedriveStatus | undefined>;
}

/** Where dead letters live: a JSON-lines file for the embedded queue, the DLQ for SQS. */
export interface DeadLetterStore {
  add(letter: DeadLetter): Promise<void>;
  list(): Promise<DeadLetter[]>;
  /** Remove letters by id (after a successful replay). */
  remove(ids: readonly string[]): Promise<void>;
}
