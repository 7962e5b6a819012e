// A registry's bandwidth cap (`maxBytesPerSecond`, as Harbor's per-policy speed limit): blob bytes
// downloaded from it, and blob bytes uploaded to it, each at most that many per second, for a
// migration that shares a WAN link with production traffic. A token bucket of bytes, one per
// (registry, direction) and shared by every transfer of a run (registry/pool.ts), so sixteen
// transfers share the rate instead of each getting it.
// The bucket runs into debt rather than splitting chunks: a chunk larger than the bucket passes
// and the ones after it wait until the debt is paid, so over a transfer the rate is exact and a
// chunk is never copied or cut.
import { Transform, type Readable, pipeline } from 'node:stream';
import { type Clock, realClock } from './push-budget.js';

/** The burst a bucket allows after idling: a tenth of a second's worth, so a short pause is not made up for. */
const BURST_S = 0.1;

export class ByteBucket {
  private tokens: number;
  private last: number;
  private readonly burst: number;

  constructor(
    readonly bytesPerSecond: number,
    private readonly clock: Clock = realClock,
  ) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) throw new RangeError(`bytes per second must be above 0, got ${bytesPerSecond}`);
    this.burst = bytesPerSecond * BURST_S;
    this.tokens = this.burst;
    this.last = clock.now();
  }

  /** Milliseconds to wait before `bytes` may go; the bytes are counted now (FIFO by arrival). */
  reserve(bytes: number): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
    this.last = now;
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.bytesPerSecond;
  }

  /** Wait until `bytes` may go; `onWait` is told how long first (a request's deadline moves by it). */
  async take(bytes: number, signal?: AbortSignal, onWait?: (ms: number) => void): Promise<void> {
    const wait = this.reserve(bytes);
    if (wait <= 0) return;
    onWait?.(wait);
    await this.clock.sleep(wait, signal);
  }
}

/** What pacing a request's bodies needs from it: its signal, and a deadline that waits may move. */
export interface PacedRequest {
  signal: AbortSignal;
  postpone(ms: number): void;
}

/** An upload body paced by the bucket: each chunk goes once the bucket lets it. */
export async function* pacedChunks(source: AsyncIterable<Uint8Array>, bucket: ByteBucket, req: PacedRequest): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    await bucket.take(chunk.length, req.signal, (ms) => req.postpone(ms));
    yield chunk;
  }
}

/**
 * A download body paced by the bucket. The response itself stays under the pipeline: destroying
 * the paced stream destroys it (and ends its request's deadline and window slot), an error in it
 * reaches the paced stream.
 */
export function pacedReadable(body: Readable, bucket: ByteBucket, req: PacedRequest): Readable {
  const paced = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bucket.take(chunk.length, req.signal, (ms) => req.postpone(ms)).then(() => done(null, chunk), done);
    },
  });
  return pipeline(body, paced, () => {});
}

/**
 * A response whose blob body (200) is paced by the bucket; any other answer as it is. Its body is
 * then read as a stream only (blob GETs): the paced one has no `dump()`, which the redirect and
 * error paths use on the other statuses.
 */
export function pacedBody<R extends { statusCode: number; body: Readable }>(res: R, bucket: ByteBucket, req: PacedRequest): R {
  if (res.statusCode !== 200) return res;
  return { ...res, body: pacedReadable(res.body, bucket, req) };
}
