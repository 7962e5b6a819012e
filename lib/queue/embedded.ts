// The in-process work queue. It must behave like the SQS queue + DLQ it stands in for, so that the
// copier workers cannot tell them apart: visibility timeouts, receipt handles that only the latest
// delivery owns, ChangeMessageVisibility for backoff, and RedrivePolicy's maxReceiveCount.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { checkedDelaySeconds, type DeadLetterStore, type FailureReason, type QueueCounts, type QueueMessage, type SendOptions, type WorkQueue } from './types.js';

/** Reason code of a message moved by the redrive policy (SQS does this silently; we say why). */
export const MAX_RECEIVES_CODE = 'SWRM_MAX_RECEIVES';
/** SQS's message size limit; enforced here too so the planner cannot rely on more in one process. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** setTimeout's largest delay; a later due time is simply re-armed when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface EmbeddedQueueOptions {
  /** SQS VisibilityTimeout: how long a received message stays hidden before it is re-delivered. */
  visibilityTimeoutMs: number;
  /** SQS RedrivePolicy.maxReceiveCount: deliveries allowed before the message goes to the DLQ. */
  maxReceiveCount: number;
  dlq: DeadLetterStore;
  /** Clock for visibility (tests inject one); long-poll waits always use real time. */
  now?: () => number;
  /**
   * Where messages are kept outside the process (serve's journal, lib/serve/journal.ts), so that a
   * restart picks up what was not settled. Without it (sync) nothing is written anywhere.
   */
  journal?: QueueJournal;
}

/** A queue's messages outside the process: told before a message is enqueued, and once it has left. */
export interface QueueJournal {
  /** Before the messages become visible: a send that cannot be journalled enqueues nothing. */
  added(entries: readonly { id: string; body: string }[]): Promise<void>;
  /** Acked, or safely in the DLQ. Never throws: a removal that failed only means the message runs again after a restart. */
  removed(id: string): Promise<void>;
}

interface Entry {
  id: string;
  body: string;
  receiveCount: number;
  /** The only handle that may ack/release/dead-letter it; undefined until first received. */
  receiptHandle: string | undefined;
  /** For hidden entries: when it becomes visible again. */
  visibleAt: number;
  /** Why it is hidden: received (in flight) or released with a delay (backoff). */
  hiddenAs: 'inFlight' | 'delayed';
}

export class EmbeddedQueue implements WorkQueue {
  private readonly visibilityTimeoutMs: number;
  private readonly maxReceiveCount: number;
  private readonly dlq: DeadLetterStore;
  private readonly now: () => number;
  private readonly journal: QueueJournal | undefined;
  /** Visible messages; Map insertion order gives best-effort FIFO, like a standard SQS queue. */
  private readonly ready = new Map<string, Entry>();
  /** In flight or delayed. Small (bounded by workers + pending retries), so scans are cheap. */
  private readonly hidden = new Map<string, Entry>();
  /** Messages being written to the DLQ: neither in the queue nor safely stored yet. */
  private moving = 0;
  private readonly wakers = new Set<() => void>();
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private idleWaiters: (() => void)[] = [];

  constructor(options: EmbeddedQueueOptions) {
    if (!(options.visibilityTimeoutMs >= 0)) throw new RangeError('visibilityTimeoutMs must be >= 0');
    if (!(options.maxReceiveCount >= 1)) throw new RangeError('maxReceiveCount must be >= 1');
    this.visibilityTimeoutMs = options.visibilityTimeoutMs;
    this.maxReceiveCount = options.maxReceiveCount;
    this.dlq = options.dlq;
    this.now = options.now ?? Date.now;
    this.journal = options.journal;
  }

  async send(bodies: string[], opts: SendOptions = {}): Promise<void> {
    // Validate the whole batch first so a bad body enqueues nothing (no half-sent batch to untangle).
    for (const body of bodies) {
      const size = Buffer.byteLength(body);
      if (size > MAX_BODY_BYTES) throw new RangeError(`message body is ${size} bytes; SQS allows ${MAX_BODY_BYTES}`);
    }
    const delayMs = checkedDelaySeconds(opts.delaySeconds) * 1000;
    const entries = bodies.map((body) => ({ id: randomUUID(), body }));
    if (this.journal && entries.length) await this.journal.added(entries);
    this.restore(entries, delayMs);
  }

  /**
   * Messages journalled by an earlier process, back on the queue as never delivered (not journalled
   * again); `delayMs`: hidden as delayed until then, as SQS counts a DelaySeconds message.
   */
  restore(entries: readonly { id: string; body: string }[], delayMs = 0): void {
    for (const { id, body } of entries) {
      const entry: Entry = { id, body, receiveCount: 0, receiptHandle: undefined, visibleAt: 0, hiddenAs: 'inFlight' };
      if (delayMs > 0) this.hidden.set(id, { ...entry, visibleAt: this.now() + delayMs, hiddenAs: 'delayed' });
      else this.ready.set(id, entry);
    }
    if (delayMs > 0) this.changed();
    else if (entries.length) this.notify();
  }

  async receive(max: number, waitMs: number, signal?: AbortSignal): Promise<QueueMessage[]> {
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`receive: max must be a positive integer, got ${max}`);
    // SQS long polling (WaitTimeSeconds): answer as soon as something is visible, else at the deadline.
    const deadline = performance.now() + Math.max(0, waitMs);
    for (;;) {
      // An aborted poll takes nothing: a message handed to a worker that is shutting down would sit
      // invisible for a whole visibility timeout.
      if (signal?.aborted) return [];
      const got = await this.take(max);
      if (got.length) return got;
      const left = deadline - performance.now();
      if (left <= 0) return [];
      await this.waitForChange(left, signal);
    }
  }

  async ack(message: QueueMessage): Promise<void> {
    // Stale handle (re-delivered since): ignore silently. SQS DeleteMessage with an old handle may or
    // may not delete; a newer delivery is being worked on, so the safe choice is to leave it alone.
    const entry = this.current(message);
    if (!entry) return;
    this.ready.delete(entry.id);
    this.hidden.delete(entry.id);
    this.changed();
    await this.journal?.removed(entry.id);
  }

  async release(message: QueueMessage, delayMs: number): Promise<void> {
    // ChangeMessageVisibility. Stale handle → no-op, as for ack. The handle stays valid afterwards.
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new RangeError(`release: bad delay ${delayMs}`);
    const entry = this.current(message);
    if (!entry) return;
    if (delayMs === 0) {
      if (this.hidden.delete(entry.id)) this.ready.set(entry.id, entry);
    } else {
      this.ready.delete(entry.id);
      entry.visibleAt = this.now() + delayMs;
      entry.hiddenAs = 'delayed';
      this.hidden.set(entry.id, entry);
    }
    this.changed();
    if (delayMs === 0) this.notify();
  }

  async deadLetter(message: QueueMessage, reason: FailureReason, body?: string): Promise<void> {
    // Stale handle → no-op: the newer delivery reaches its own verdict (and would be dead-lettered
    // twice otherwise).
    const entry = this.current(message);
    if (!entry) return;
    if (body !== undefined) entry.body = body;
    await this.store(entry, reason, this.detach(entry));
  }

  async counts(): Promise<QueueCounts> {
    this.promote();
    let inFlight = 0;
    let delayed = 0;
    for (const e of this.hidden.values()) {
      if (e.hiddenAs === 'delayed') delayed++;
      else inFlight++;
    }
    return { visible: this.ready.size, inFlight, delayed };
  }

  /** No message left anywhere: nothing visible, in flight, delayed or on its way to the DLQ. */
  idle(): boolean {
    return this.ready.size === 0 && this.hidden.size === 0 && this.moving === 0;
  }

  /** Resolves once idle() is true (immediately if it already is): `sync` waits for the drain. */
  async drained(): Promise<boolean> {
    const c = await this.counts();
    return c.visible + c.inFlight + c.delayed === 0;
  }

  onIdle(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Every message not yet acked or dead-lettered (for Ctrl-C: the CLI saves them to the DLQ). */
  remaining(): { id: string; body: string; receiveCount: number }[] {
    return [...this.ready.values(), ...this.hidden.values()].map(({ id, body, receiveCount }) => ({ id, body, receiveCount }));
  }

  /** The entry if `message` holds its latest receipt handle, else undefined. */
  private current(message: QueueMessage): Entry | undefined {
    const entry = this.hidden.get(message.id) ?? this.ready.get(message.id);
    return entry && entry.receiptHandle === message.receiptHandle ? entry : undefined;
  }

  /** Hidden messages whose time has come become visible, appended behind those already waiting. */
  private promote(): void {
    const now = this.now();
    for (const e of this.hidden.values()) {
      if (e.visibleAt <= now) {
        this.hidden.delete(e.id);
        this.ready.set(e.id, e);
      }
    }
  }

  private async take(max: number): Promise<QueueMessage[]> {
    this.promote();
    const out: QueueMessage[] = [];
    const redrive: Entry[] = [];
    const hideUntil = this.now() + this.visibilityTimeoutMs;
    // Everything up to the first await is synchronous, so two concurrent receives never get the
    // same delivery nor redrive the same message twice.
    for (const e of this.ready.values()) {
      if (out.length >= max) break;
      if (e.receiveCount >= this.maxReceiveCount) {
        // RedrivePolicy: a message received maxReceiveCount times moves to the DLQ when it would be
        // delivered again, instead of being delivered.
        this.detach(e);
        redrive.push(e);
        continue;
      }
      this.ready.delete(e.id);
      e.receiveCount++;
      e.receiptHandle = randomUUID(); // older handles stop working, as in SQS
      e.visibleAt = hideUntil;
      e.hiddenAs = 'inFlight';
      this.hidden.set(e.id, e);
      out.push({ id: e.id, body: e.body, receiptHandle: e.receiptHandle, receiveCount: e.receiveCount });
    }
    if (out.length) this.changed();
    // If a DLQ write fails that message is back in the queue and the error propagates; messages
    // taken above reappear after their visibility timeout, like a lost ReceiveMessage response.
    let failure: { err: unknown } | undefined;
    for (const e of redrive) {
      const reason = {
        code: MAX_RECEIVES_CODE,
        message: `received ${e.receiveCount} times without being deleted (maxReceiveCount ${this.maxReceiveCount})`,
      };
      await this.store(e, reason, false).catch((err: unknown) => void (failure ??= { err }));
    }
    if (failure) throw failure.err;
    return out;
  }

  /** Take the entry out of the queue (synchronously) before its DLQ write; returns where it was. */
  private detach(entry: Entry): boolean {
    const wasHidden = this.hidden.delete(entry.id);
    this.ready.delete(entry.id);
    this.moving++;
    return wasHidden;
  }

  private async store(entry: Entry, reason: FailureReason, wasHidden: boolean): Promise<void> {
    try {
      await this.dlq.add({ id: entry.id, body: entry.body, receiveCount: entry.receiveCount, reason, at: new Date(this.now()).toISOString() });
    } catch (err) {
      // Nothing is lost: put it back where it was (an in-flight one returns after its timeout).
      (wasHidden ? this.hidden : this.ready).set(entry.id, entry);
      throw err;
    } finally {
      this.moving--;
      this.changed();
    }
    await this.journal?.removed(entry.id);
  }

  /** After any change: resolve onIdle waiters, re-arm the visibility timer. */
  private changed(): void {
    if (this.idle() && this.idleWaiters.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    this.armWakeTimer();
  }

  private notify(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /** Resolves on a send/release, on the next hidden message's visibility, after `ms`, or on abort. */
  private waitForChange(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wakers.delete(done);
        this.armWakeTimer();
        resolve();
      };
      // Deliberately ref'd, like the socket of an SQS long poll: an awaited receive() is pending
      // work, and an unref'd timer would let Node exit under a worker's feet with the promise
      // unsettled. Nothing outlives the call, so an idle queue never holds the process open.
      const timer = setTimeout(done, Math.min(ms, MAX_TIMER_MS));
      signal?.addEventListener('abort', done, { once: true });
      this.wakers.add(done);
      this.armWakeTimer();
    });
  }

  /** One timer for the earliest hidden message, only while someone is long-polling. */
  private armWakeTimer(): void {
    let next = Infinity;
    if (this.wakers.size) for (const e of this.hidden.values()) next = Math.min(next, e.visibleAt);
    if (next === this.wakeAt) return;
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = next;
    if (next === Infinity) return;
    const delay = Math.min(Math.max(0, next - this.now()), MAX_TIMER_MS);
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      this.notify();
      this.armWakeTimer();
    }, delay);
  }
}
