// Waiting, abortably: a FIFO of callers waiting for room (a push slot, a window's slot). A waiter whose signal aborts
// leaves the queue at once, so a cancelled copy never takes a slot it no longer wants; the one let
// in is told a value (e.g. the in-flight level it was let in at).
export class Waiters<T> {
  private readonly queue: { resolve: (value: T) => void; reject: (err: unknown) => void }[] = [];

  get length(): number {
    return this.queue.length;
  }

  /** Wait for `wakeFirst`; rejects with the signal's reason when it aborts first. */
  wait(signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        resolve: (value: T) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject,
      };
      const onAbort = (): void => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  /** Let the longest waiting caller in; false when none waits. */
  wakeFirst(value: T): boolean {
    const first = this.queue.shift();
    first?.resolve(value);
    return first !== undefined;
  }
}

/**
 * `p`, or the signal's reason as soon as it aborts: a copier waiting on a probe, a push slot or
 * another copier's download stops on Ctrl-C, while what it waited for goes on for the others.
 */
export function untilAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
