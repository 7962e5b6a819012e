import { isRetryable } from '../errors.js';
// A counting semaphore: bounds concurrent work (blob transfers, child manifests) without a queue
// library. FIFO, so earlier images finish first and their manifests can be committed early.

export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`limit must be a positive integer, got ${size}`);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * Wait for every promise and throw the first failure: the root cause, not an abort it caused. A
 * permanent failure aborts the siblings (a failed image does not keep streaming its other layers);
 * a passing one (a 503, a reset) lets them finish, because what they commit is progress that the
 * next delivery need not repeat (pipeline/attempts.ts): under a flaky registry an image then moves
 * forward on every delivery instead of losing every sibling to one unlucky request.
 * The abort carries the failure as its reason, so a caller further up that sees a sibling's abort
 * first (an index whose other child was cut short) still reports the root cause.
 */
export async function allOrAbort<T>(promises: Promise<T>[], abort?: AbortController): Promise<T[]> {
  let first: { error: unknown } | undefined;
  for (const p of promises) {
    p.catch((error: unknown) => {
      first ??= { error };
      if (abort && !abort.signal.aborted && !isRetryable(error)) abort.abort(error);
    });
  }
  const settled = await Promise.allSettled(promises);
  if (first) throw rootCause(first.error, abort?.signal);
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** An abort caused by a failure elsewhere reports that failure. */
function rootCause(error: unknown, signal: AbortSignal | undefined): unknown {
  if (!signal?.aborted || !isAbort(error)) return error;
  const reason: unknown = signal.reason;
  return reason !== undefined && !isAbort(reason) ? reason : error;
}

function isAbort(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/** Map with bounded concurrency; see allOrAbort for failures. */
export function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>, abort?: AbortController): Promise<R[]> {
  const limiter = new Limiter(Math.max(1, Math.min(limit, items.length || 1)));
  return allOrAbort(
    items.map((item, i) => limiter.run(() => fn(item, i))),
    abort,
  );
}
