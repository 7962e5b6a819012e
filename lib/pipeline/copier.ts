// A copier worker: takes one queue message and settles it. Success: ack. A passing failure:
// release with backoff until maxReceiveCount. A permanent one (manifest or repository unknown,
// denied, an invalid message): straight to the DLQ with the error's code. Nothing a message
// contains can crash the worker.
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { copyImage } from '../copy/copy-image.js';
import type { CopyContext } from '../copy/context.js';
import { errorMessage, failureCode, isRetryable } from '../errors.js';
import { parseReference } from '../oci/reference.js';
import { type TagLister, copyMessagesFor, ruleFromExpand } from '../plan/planner.js';
import { invalidTags, selectTags } from '../plan/tags.js';
import { type CopyImageMessage, type ExpandRepositoryMessage, decodeMessage, encodeMessage } from '../queue/messages.js';
import type { FailureReason, QueueMessage, WorkQueue } from '../queue/types.js';
import type { ClientPool } from '../registry/pool.js';
import { backoffDelay } from '../registry/retry.js';
import type { DigestMemo } from '../state/digest-memo.js';
import { maskBody } from '../secrets.js';

export interface ImageOutcome {
  /** The message body it settled (replay matches dead letters by it). */
  body: string;
  kind: 'copy-image' | 'expand-repository' | 'invalid';
  source: string;
  destination: string;
  status: 'copied' | 'skipped' | 'expanded' | 'retrying' | 'failed';
  digest?: string;
  sourceDigest?: string;
  conversion?: string;
  bytes: number;
  durationMs: number;
  attempt: number;
  error?: FailureReason;
}

export interface CopierDeps {
  queue: WorkQueue;
  pool: ClientPool;
  ctx: CopyContext;
  /** Deliveries before a failing message goes to the DLQ (retries + 1). */
  maxReceiveCount: number;
  list: TagLister;
  logger?: Logger;
  signal?: AbortSignal;
  onOutcome?: (o: ImageOutcome) => void;
  /** Tasks added by expanding a repository. */
  onPlanned?: (count: number) => void;
  /** Digests a platform filter produced, kept across runs (see state/digest-memo.ts). */
  memo?: DigestMemo;
}

/** Backoff between deliveries of a failing message: 1 s, 2 s, 4 s ... capped at 60 s. */
const MESSAGE_BACKOFF = { attempts: Infinity, baseDelayMs: 1000, maxDelayMs: 60_000 };

export async function handleMessage(msg: QueueMessage, deps: CopierDeps): Promise<void> {
  const started = performance.now();
  const base = { body: msg.body, attempt: msg.receiveCount, bytes: 0 };
  let kind: ImageOutcome['kind'] = 'invalid';
  let source = '';
  let destination = '';
  try {
    const body = decodeMessage(msg.body);
    kind = body.kind;
    source = body.source;
    if (body.kind === 'copy-image') {
      destination = body.destination;
      const outcome = await copyOne(body, deps);
      await deps.queue.ack(msg);
      deps.onOutcome?.({ ...base, kind, source, ...outcome, durationMs: performance.now() - started });
    } else {
      destination = body.destinations.join(', ');
      const count = await expandOne(body, deps);
      await deps.queue.ack(msg);
      deps.onPlanned?.(count);
      deps.onOutcome?.({ ...base, kind, source, destination, status: 'expanded', durationMs: performance.now() - started });
    }
  } catch (err) {
    // Interrupted: leave the message as it is; the caller keeps it replayable.
    if (deps.signal?.aborted) return;
    const error: FailureReason = { code: failureCode(err), message: errorMessage(err) };
    const log = deps.logger?.child({ messageId: msg.id, source, destination });
    const outcome = { ...base, kind, source, destination, error, durationMs: performance.now() - started };
    if (isRetryable(err) && msg.receiveCount < deps.maxReceiveCount) {
      const delay = backoffDelay(MESSAGE_BACKOFF, msg.receiveCount, err);
      log?.warn({ err: error.message, attempt: msg.receiveCount, delayMs: delay }, 'image failed, will retry');
      await deps.queue.release(msg, delay);
      deps.onOutcome?.({ ...outcome, status: 'retrying' });
    } else {
      log?.error({ err: error.message, code: error.code, attempt: msg.receiveCount }, 'image failed, sent to the DLQ');
      // A body that failed to decode may be anything a producer sent, secrets included (issue 6).
      await deps.queue.deadLetter(msg, error, kind === 'invalid' ? maskBody(msg.body) : undefined);
      deps.onOutcome?.({ ...outcome, status: 'failed' });
    }
  }
}

async function copyOne(m: CopyImageMessage, deps: CopierDeps): Promise<Pick<ImageOutcome, 'status' | 'destination' | 'digest' | 'sourceDigest' | 'conversion' | 'bytes'>> {
  const src = parseReference(m.source);
  const dst = parseReference(m.destination);
  const result = await copyImage(
    deps.ctx,
    { client: deps.pool.client(src.registry, src.repository, 'source'), ref: src },
    { client: deps.pool.client(dst.registry, dst.repository, 'destination'), ref: dst },
    { platforms: m.platforms, memo: deps.memo },
  );
  return {
    status: result.status,
    // What was pushed: a digest destination names the filtered digest, not the source's.
    destination: result.destination,
    digest: result.digest,
    bytes: result.counters.bytesUploaded,
    ...(result.conversion ? { conversion: result.conversion, sourceDigest: result.sourceDigest } : {}),
  };
}

async function expandOne(m: ExpandRepositoryMessage, deps: CopierDeps): Promise<number> {
  const rule = ruleFromExpand(m);
  const tags = await deps.list(rule.source.registry, rule.source.repository, deps.signal);
  const invalid = invalidTags(tags);
  if (invalid.length) deps.logger?.warn({ source: m.source, origin: rule.origin, tags: invalid }, 'skipped listed tags that are not valid tags');
  const messages = copyMessagesFor(rule, selectTags(tags, rule.filter), m.platforms);
  await deps.queue.send(messages.map(encodeMessage));
  return messages.length;
}

/**
 * Run `n` copier loops until `done` aborts (the planner is done and the queue is empty) or the run's
 * signal does. `done` also cuts short a long poll, so the last image is not followed by idle waits.
 */
export async function runCopiers(n: number, deps: CopierDeps, done: AbortSignal): Promise<void> {
  // A loop only fails when the queue itself does (e.g. the DLQ cannot be written): then all stop,
  // and the caller saves what is left, instead of the others waiting on a message that never settles.
  const broken = new AbortController();
  const stop = AbortSignal.any([done, broken.signal, ...(deps.signal ? [deps.signal] : [])]);
  // Each loop's long poll listens on `stop`: n listeners, by design (MaxListenersExceededWarning at 16).
  setMaxListeners(0, stop);
  const loop = async () => {
    try {
      while (!stop.aborted) {
        const [msg] = await deps.queue.receive(1, 1000, stop);
        if (msg) await handleMessage(msg, deps);
      }
    } catch (err) {
      broken.abort();
      throw err;
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: n }, loop));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}
