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
 * Wait for every promise; on the first failure abort the siblings (so a failed image does not keep
 * streaming its other layers), and throw that first failure: the root cause, not an abort it caused.
 */
export async function allOrAbort<T>(promises: Promise<T>[], abort?: AbortController): Promise<T[]> {
  let first: { error: unknown } | undefined;
  for (const p of promises) {
    p.catch((error: unknown) => {
      first ??= { error };
      abort?.abort();
    });
  }
  const settled = await Promise.allSettled(promises);
  if (first) throw first.error;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** Map with bounded concurrency; see allOrAbort for failures. */
export function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>, abort?: AbortController): Promise<R[]> {
  const limiter = new Limiter(Math.max(1, Math.min(limit, items.length || 1)));
  return allOrAbort(
    items.map((item, i) => limiter.run(() => fn(item, i))),
    abort,
  );
}
