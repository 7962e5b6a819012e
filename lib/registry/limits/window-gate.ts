// The windows of one registry (issue 15, item 3): one AIMD window (window.ts) per kind of request,
// held by the transport from the moment a request is sent until its response body is read or
// dropped. Kinds are separate because a registry limits them separately (SWR: pushes, Docker Hub:
// manifest GETs) and because one kind waiting on another must not deadlock: a transfer holds its
// blob GET while its upload PUT waits, and the PUT's window is not the GET's.
// One RegistryWindows per registry host, shared by every client of a run (registry/pool.ts), so the
// windows, not the number of images in flight, decide the load each registry sees. The config's
// per-registry `concurrency` (else the connections per origin) bounds every window.
import { AimdWindow, type Sent, type WindowStats } from './window.js';
import type { Clock } from './push-budget.js';
import { Waiters } from './waiters.js';

/**
 * What a request does, for its window. Every request to the registry has one, so that none is
 * outside the bound; token requests go to the realm, not the registry, and have none.
 */
export type RequestAction = 'ping' | 'manifest' | 'manifest-put' | 'blob' | 'blob-head' | 'upload' | 'mount' | 'listing' | 'other';

/**
 * The window a request belongs to, from its method and path (distribution spec's endpoints).
 * Upload locations are opaque URLs, so anything not recognised that is not a GET/HEAD is taken for
 * a step of an upload.
 */
export function requestAction(method: string, pathname: string, search = ''): RequestAction {
  if (pathname === '/v2/' || pathname === '/v2') return 'ping';
  if (/\/manifests\/[^/]+$/.test(pathname)) return method === 'GET' || method === 'HEAD' ? 'manifest' : 'manifest-put';
  if (/\/blobs\/uploads\/?$/.test(pathname) && method === 'POST') return /[?&]mount=/.test(search) ? 'mount' : 'upload';
  if (/\/blobs\/[^/]+$/.test(pathname) && !pathname.includes('/blobs/uploads/')) return method === 'HEAD' ? 'blob-head' : 'blob';
  if (/\/tags\/list$/.test(pathname) || pathname.endsWith('/_catalog')) return 'listing';
  return method === 'GET' || method === 'HEAD' ? 'other' : 'upload';
}

/** A request let through its window: say how it was answered, then release it once its body is done. */
export interface WindowSlot {
  /** The registry answered 429 or 503: a throttle. Returns the new limit when this cut the window (once per epoch). */
  congested(): number | undefined;
  /** The request is over (body read, dropped or failed); `ok`: it was answered, not refused or lost. */
  release(ok: boolean): void;
}

/** One window with its requests in flight and, FIFO, those waiting for room. */
export class WindowGate {
  readonly window: AimdWindow;
  private inFlight = 0;
  private peakInFlight = 0;
  private readonly waiting = new Waiters<number>();

  constructor(max: number, clock?: Pick<Clock, 'now'>) {
    this.window = new AimdWindow({ max, clock });
  }

  get active(): number {
    return this.inFlight;
  }

  get peak(): number {
    return this.peakInFlight;
  }

  async acquire(signal?: AbortSignal): Promise<WindowSlot> {
    signal?.throwIfAborted();
    // A waiter is let in by wake(), which counts it in flight for it: no other acquire can take
    // the room between the wake and this one resuming.
    const level = this.inFlight >= this.window.limit || this.waiting.length > 0 ? await this.wait(signal) : this.take();
    const sent: Sent = this.window.sent(level);
    let refused = false;
    let released = false;
    return {
      congested: () => {
        if (refused) return undefined;
        refused = true;
        return this.window.congested(sent) ? this.window.limit : undefined;
      },
      release: (ok) => {
        if (released) return;
        released = true;
        // Full when it ended, or others waited: the window was what held them back.
        const saturated = this.inFlight >= this.window.limit || this.waiting.length > 0;
        if (ok && !refused) this.window.succeeded(sent, saturated);
        this.inFlight--;
        this.wake();
      },
    };
  }

  stats(): WindowStats & { inFlight: number; peak: number } {
    return { ...this.window.stats(), inFlight: this.inFlight, peak: this.peakInFlight };
  }

  /** Resolves with the in-flight level the waiter was let in at. */
  private wait(signal?: AbortSignal): Promise<number> {
    return this.waiting.wait(signal);
  }

  /** Count one more in flight; returns the level it is sent at. */
  private take(): number {
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    return this.inFlight;
  }

  /** Let waiters in while the window has room (it may have grown by more than one). */
  private wake(): void {
    while (this.inFlight < this.window.limit && this.waiting.length > 0) {
      const level = this.take();
      this.waiting.wakeFirst(level);
    }
  }
}

/** The windows of one registry host, one per action, all under the same upper bound. */
export class RegistryWindows {
  private readonly gates = new Map<RequestAction, WindowGate>();
  private max: number;

  constructor(
    readonly host: string,
    max: number,
    private readonly clock?: Pick<Clock, 'now'>,
  ) {
    this.max = max;
  }

  /** A smaller bound from another entry of the same host: the smallest wins (it only tightens). */
  tighten(max: number): void {
    if (max >= this.max) return;
    this.max = max;
    for (const g of this.gates.values()) g.window.tighten(max);
  }

  gate(action: RequestAction): WindowGate {
    let g = this.gates.get(action);
    if (!g) this.gates.set(action, (g = new WindowGate(this.max, this.clock)));
    return g;
  }

  stats(): Partial<Record<RequestAction, ReturnType<WindowGate['stats']>>> {
    return Object.fromEntries([...this.gates].map(([a, g]) => [a, g.stats()]));
  }
}
