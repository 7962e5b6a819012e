// An overall deadline per request (issue 6, item 4). undici's headersTimeout and bodyTimeout are idle
// timeouts: a server that sends one byte every few seconds resets them forever and holds a copier.
//
// The deadline is `timeout + bytes / MIN_BODY_RATE`, where `bytes` is the declared body size (the
// request's Content-Length for an upload, the response's for a download). A 50 GB layer legitimately
// takes hours, so a fixed deadline would either kill it or be useless for small requests; scaling by
// size keeps small requests at `timeout` and lets a big blob run as long as it moves at least
// MIN_BODY_RATE on average. 256 KiB/s (2 Mbit/s) is far below any link a migration runs on, and
// still ends a trickling server: 1 GiB may take 68 min, 50 GB 2.2 days (raise `--timeout` for
// slower links). A response without Content-Length must be done within the plain `timeout`: those
// are JSON bodies (tag lists, tokens); registries and object stores send a length with every blob.
// The clock starts when the request is handed to undici, so a wait for a free connection counts:
// the limiters in copy/context.ts keep that wait short.
import { RequestTimeoutError } from '../../errors.js';

/** Bytes per second a body must average to stay within its deadline. */
export const MIN_BODY_RATE = 256 * 1024;
/** Seconds; the config's `defaults.timeout` (`--timeout`) replaces it. Also undici's idle timeouts. */
export const DEFAULT_TIMEOUT_S = 120;
// Node's timers overflow past 2^31 - 1 ms (24.8 days) and would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The whole time a request may take, with `bytes` of body to move. */
export function deadlineMs(timeoutMs: number, bytes?: number): number {
  const extra = bytes !== undefined && Number.isFinite(bytes) && bytes > 0 ? Math.ceil((bytes / MIN_BODY_RATE) * 1000) : 0;
  return Math.min(timeoutMs + extra, MAX_TIMER_MS);
}

/**
 * An AbortSignal that fires at the deadline (with a RequestTimeoutError as its reason, which undici
 * rejects with) or when the caller's signal does. `clear()` once the response body is done.
 */
export class RequestDeadline {
  private readonly controller = new AbortController();
  private readonly started = performance.now();
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (performance.now() ms); undefined once cleared. */
  private dueAt: number | undefined;
  private readonly onParentAbort: () => void;

  constructor(
    private readonly timeoutMs: number,
    private readonly expired: (seconds: number) => RequestTimeoutError,
    private readonly parent?: AbortSignal,
    bytes?: number,
  ) {
    this.onParentAbort = () => this.abort(parent?.reason);
    if (parent?.aborted) this.controller.abort(parent.reason);
    else parent?.addEventListener('abort', this.onParentAbort, { once: true });
    this.arm(deadlineMs(timeoutMs, bytes));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Allow for a body of `bytes` (known once the response headers are in), from the request's start. */
  extend(bytes: number | undefined): void {
    if (this.controller.signal.aborted || bytes === undefined || !(bytes > 0)) return;
    this.arm(deadlineMs(this.timeoutMs, bytes) - (performance.now() - this.started));
  }

  /**
   * Move the deadline `ms` later: time the request spent held back by the registry's bandwidth cap
   * (limits/bandwidth.ts) is not the registry being slow.
   */
  postpone(ms: number): void {
    if (this.controller.signal.aborted || this.dueAt === undefined || !(ms > 0)) return;
    this.arm(Math.min(this.dueAt - performance.now() + ms, MAX_TIMER_MS));
  }

  clear(): void {
    this.dueAt = undefined;
    clearTimeout(this.timer);
    this.parent?.removeEventListener('abort', this.onParentAbort);
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.dueAt = performance.now() + ms;
    const total = Math.round(ms + performance.now() - this.started);
    this.timer = setTimeout(() => this.abort(this.expired(Math.max(1, Math.round(total / 1000)))), Math.max(0, ms));
    // A body nobody finished reading must not keep the process alive.
    this.timer.unref();
  }

  private abort(reason: unknown): void {
    this.clear();
    this.controller.abort(reason);
  }
}

/**
 * A dispatch that gives up when its signal aborts, even while undici is still connecting: undici 7
 * leaves a request whose TLS handshake hangs (a port that accepts and never answers) pending until
 * its connect timeout, whatever the signal says, so Ctrl-C took 15 s. The late response, if any, is
 * drained so its connection is freed.
 */
export function abortable<T extends { body: { dump(): Promise<unknown> } }>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    void pending.then((res) => res.body.dump(), () => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      void pending.then((res) => res.body.dump(), () => undefined);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (res) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        resolve(res);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        reject(err);
      },
    );
  });
}
