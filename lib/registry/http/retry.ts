// Retry with exponential backoff and full jitter (AWS architecture blog, "Exponential Backoff And
// Jitter"), honouring a registry's Retry-After. The decision *whether* to retry is always
// `isRetryable()` from the one error module.
//
// The attempt budget (issue 6, item 7). Three layers may retry, and no layer retries what a layer
// below it already retried, so the counts add up instead of multiplying:
//   - the HTTP layer (transport.ts) retries a request it can replay, i.e. an idempotent method
//     (GET, HEAD, PUT, DELETE) with no body or a body in memory: HTTP_RETRY.attempts in all;
//   - the blob layer (copy/blob-copy.ts) retries a transfer only for a failure the HTTP layer could
//     not retry (the streamed PUT, the upload POST, a download that broke or failed verification
//     mid-body): BLOB_RETRY.attempts in all, reusing the upload session when no PUT was sent on it;
//   - the message layer (pipeline/copier.ts) retries the whole image: `retries + 1` deliveries.
// So against a registry that always answers 503, a blob costs HTTP_RETRY.attempts (3) failed
// requests per delivery, 3 x (retries + 1) in all: 3 with --retries 0, 9 with the default 2.
//
// Busy answers (issue 8, item 7). SWR answers 503 (or its "system busy" codes) whenever a tenant is
// over its push limits, not because anything is broken: a policy with `busyMaxMs` waits such an
// answer out without spending an attempt, for as long as its busy waits add up to less than
// busyMaxMs (then they count as usual). Used for SWR destinations only (registry/pool.ts,
// copy/blob-copy.ts), so the budget above is unchanged everywhere else.
import { setTimeout as sleep } from 'node:timers/promises';
import { isBusy, isRetryable, retryAfterMs } from '../../errors.js';

export interface RetryPolicy {
  /** Attempts in total, the first one included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Total wait on busy answers (isBusy) that spends no attempt; unset: busy answers are ordinary. */
  busyMaxMs?: number;
}

/** Attempts of one replayable, idempotent HTTP request. */
export const HTTP_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 250, maxDelayMs: 20_000 };
/** Attempts of one blob transfer, for failures the HTTP layer cannot retry. */
// Three: the streamed upload PUT and a body cut mid-way have no other retry in a delivery, and a
// registry that faults one request in four fails two attempts in a row one time in ten (issue 13,
// chaos suite). It does not touch the always-503 bound: an error the HTTP layer retried is final.
export const BLOB_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 250, maxDelayMs: 20_000 };
/**
 * How long a push to SWR waits out busy answers before they count as failures: 10 minutes. SWR's
 * busy spells under a migration's load last seconds; ten minutes of nothing but 503 is an outage,
 * and the image then fails (and is retried) like any other.
 */
export const BUSY_MAX_MS = 10 * 60_000;
/** The longest single wait on a busy answer, Retry-After included: SWR's limits are per second. */
export const BUSY_MAX_DELAY_MS = 10_000;

/** `policy` with busy answers waited out for up to `busyMaxMs`. */
export function busyTolerant(policy: RetryPolicy, busyMaxMs = BUSY_MAX_MS): RetryPolicy {
  return { ...policy, busyMaxMs };
}

// Errors that already went through a retry loop. A layer above must not retry them again: that is
// what multiplied the attempts (30 blob GETs for 2 blobs with --retries 0).
const retriedBelow = new WeakSet<object>();

/** Mark an error as already retried by its layer (see the budget above). */
export function markRetried(err: unknown): void {
  if (typeof err === 'object' && err !== null) retriedBelow.add(err);
}

/** True when a lower layer already spent its attempts on this error. */
export function wasRetried(err: unknown): boolean {
  return typeof err === 'object' && err !== null && retriedBelow.has(err);
}

/** Delay before attempt `attempt + 1` (attempt counts from 1). */
export function backoffDelay(policy: RetryPolicy, attempt: number, err?: unknown, random = Math.random): number {
  const asked = retryAfterMs(err);
  if (asked !== undefined) return Math.min(asked, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Full jitter, but never less than a quarter of the ceiling so retries do not hammer at once.
  return Math.round(ceiling / 4 + random() * (ceiling * 0.75));
}

/** Delay before re-sending after the n-th busy answer: backoff with jitter, Retry-After honoured, both capped. */
export function busyDelay(policy: RetryPolicy, busyCount: number, err?: unknown, random = Math.random): number {
  const capped = { ...policy, maxDelayMs: Math.min(policy.maxDelayMs, BUSY_MAX_DELAY_MS) };
  return backoffDelay(capped, Math.min(busyCount, 30), err, random);
}

/**
 * Run `fn` until it succeeds, fails with an error `isRetryable()` refuses or a lower layer already
 * retried, or runs out of attempts. Whatever it throws is marked as retried, for the layers above.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void,
  signal?: AbortSignal,
): Promise<T> {
  let busyWaited = 0;
  let busyCount = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (policy.busyMaxMs !== undefined && isBusy(err) && !wasRetried(err) && !signal?.aborted) {
        const delay = busyDelay(policy, ++busyCount, err);
        if (busyWaited + delay < policy.busyMaxMs) {
          busyWaited += delay;
          onRetry?.(err, attempt, delay);
          await sleep(delay, undefined, signal ? { signal } : undefined);
          attempt--; // a busy answer spends no attempt
          continue;
        }
      }
      if (attempt >= policy.attempts || !isRetryable(err) || wasRetried(err) || signal?.aborted) {
        markRetried(err);
        throw err;
      }
      const delay = backoffDelay(policy, attempt, err);
      onRetry?.(err, attempt, delay);
      await sleep(delay, undefined, signal ? { signal } : undefined);
    }
  }
}
