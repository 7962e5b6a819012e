// A FIFO of callers waiting for room (a push slot, a window's slot). A waiter whose signal aborts
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
