// A TCP proxy on 127.0.0.1 that makes a loopback registry look far away: every chunk is delivered
// `delayMs` after it was read, in each direction, in order (so a request/response costs 2 x delayMs,
// a WAN round trip), and a new connection pays one extra round trip before its first byte arrives,
// as a TCP handshake would. Bandwidth is not limited beyond a per-direction buffer cap: a real WAN
// is latency-bound for the small requests of a registry sync, and loopback bandwidth times 20 ms
// stays well under the cap. Used by the bench's `wan` workload; byte-transparent, so the registry
// sees the proxy's Host header and its absolute Location URLs point back at the proxy.
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { track } from './cleanup.js';

export interface DelayProxyHandle {
  /** host:port clients should use instead of the target's. */
  host: string;
  /** Connections accepted so far (each one paid the handshake round trip). */
  connections(): number;
  stop(): Promise<void>;
}

export interface DelayProxyOptions {
  /** One-way delay per direction; the round trip is twice this. */
  delayMs: number;
  /** Extra round trip before a new connection's first byte (a TCP handshake). Default true. */
  handshake?: boolean;
  /** Bytes in flight per direction before the reading side is paused. Default 16 MiB. */
  maxBuffered?: number;
}

/** One direction of one connection: a FIFO of chunks, each with the time it may be written. */
class DelayedPipe {
  private readonly queue: { at: number; chunk: Buffer | null }[] = [];
  private buffered = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Delivery times never go backwards, so order is kept even if the clock or `notBefore` moves. */
  private last = 0;
  private ended = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly delayMs: number,
    private readonly notBefore: number,
    private readonly maxBuffered: number,
  ) {
    from.on('data', (chunk: Buffer) => this.push(chunk));
    // A half-close is forwarded after the same delay as the data before it (HTTP/1.1 rarely
    // half-closes, but a client that does must see the response first).
    from.on('end', () => this.push(null));
    // Destroyed without a FIN (a client aborting a request): still end the other side, or the
    // registry would keep its half open until its idle timeout.
    from.on('close', () => this.ended || this.push(null));
  }

  private push(chunk: Buffer | null): void {
    if (chunk === null) this.ended = true;
    this.last = Math.max(this.last, performance.now() + this.delayMs, this.notBefore);
    this.queue.push({ at: this.last, chunk });
    if (chunk) {
      this.buffered += chunk.length;
      if (this.buffered >= this.maxBuffered) this.from.pause();
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, this.queue[0]!.at - performance.now()));
  }

  private flush(): void {
    this.timer = undefined;
    const now = performance.now();
    // Timers fire up to ~1 ms early or late; anything due within half a millisecond goes now.
    while (this.queue.length && this.queue[0]!.at <= now + 0.5) {
      const { chunk } = this.queue.shift()!;
      if (this.to.destroyed) return;
      if (chunk === null) {
        this.to.end();
        continue;
      }
      this.buffered -= chunk.length;
      this.to.write(chunk);
    }
    if (this.buffered < this.maxBuffered && this.from.isPaused()) this.from.resume();
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }
}

export async function startDelayProxy(target: string, opts: DelayProxyOptions): Promise<DelayProxyHandle> {
  const [targetHost, targetPort] = target.split(':');
  // Loopback only, in both directions: the bench and tests never send a byte off this machine.
  if (!targetHost?.startsWith('127.')) throw new Error(`delay proxy: target ${target} is not on 127.0.0.0/8`);
  const maxBuffered = opts.maxBuffered ?? 16 * 1024 * 1024;
  const sockets = new Set<Socket>();
  let accepted = 0;

  // allowHalfOpen: a FIN from one side is forwarded (delayed, after the data before it) instead of
  // closing both at once, so a registry's last response before `Connection: close` is not lost.
  const server: Server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    accepted++;
    const upstream = connect({ host: targetHost, port: Number(targetPort), noDelay: true, allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    // The first byte from the client would arrive one round trip (SYN, SYN-ACK) plus one way late.
    const ready = performance.now() + (opts.handshake === false ? 0 : 2 * opts.delayMs);
    const pipes = [
      new DelayedPipe(client, upstream, opts.delayMs, ready + opts.delayMs, maxBuffered),
      new DelayedPipe(upstream, client, opts.delayMs, 0, maxBuffered),
    ];
    // A reset or refusal on either side ends the pair at once (the peer of a real WAN would see
    // a reset too, or a timeout).
    const abort = (): void => {
      for (const p of pipes) p.stop();
      client.destroy();
      upstream.destroy();
    };
    client.on('error', abort);
    upstream.on('error', abort);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  let stopped = false;
  const stopSync = (): void => {
    stopped = true;
    for (const s of sockets) s.destroy();
    sockets.clear();
    server.close();
  };
  const untrack = track({ stopSync });
  return {
    host: `127.0.0.1:${port}`,
    connections: () => accepted,
    stop: async () => {
      if (stopped) return;
      const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
      stopSync();
      await closed;
      untrack();
    },
  };
}
