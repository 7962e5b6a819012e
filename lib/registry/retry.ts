// Retry with exponential backoff and full jitter (AWS architecture blog, "Exponential Backoff And
// Jitter"), honouring a registry's Retry-After. The decision *whether* to retry is always
// `isRetryable()` from the one error module.
import { setTimeout as sleep } from 'node:timers/promises';
import { isRetryable, retryAfterMs } from '../errors.js';

export interface RetryPolicy {
  /** Attempts in total, the first one included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 20_000 };

/** Delay before attempt `attempt + 1` (attempt counts from 1). */
export function backoffDelay(policy: RetryPolicy, attempt: number, err?: unknown, random = Math.random): number {
  const asked = retryAfterMs(err);
  if (asked !== undefined) return Math.min(asked, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Full jitter, but never less than a quarter of the ceiling so retries do not hammer at once.
  return Math.round(ceiling / 4 + random() * (ceiling * 0.75));
}

export async function withRetry<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !isRetryable(err) || signal?.aborted) throw err;
      const delay = backoffDelay(policy, attempt, err);
      onRetry?.(err, attempt, delay);
      await sleep(delay, undefined, signal ? { signal } : undefined);
    }
  }
}
