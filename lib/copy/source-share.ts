// One pull, many destinations (issue 15, item 4). A rule with several destination registries makes
// one copy-image message per (image, destination); each copies its blobs on its own, so without this
// every destination registry GETs every source blob again.
//
// The choice: share only what is known to be wanted again. The planner writes `fanOut` (the rule's
// destination registries, 2+) into each copy message; a transfer of such an image's blob that finds
// no share for (source registry, digest) downloads it and tees the verified bytes to a spool. A
// transfer of the same digest that comes while that download runs waits for it to finish (the
// download goes at its own upload's pace; streaming to both at once would tie the faster
// destination to the slower); one that comes later reads the spool. Joining only downloads in
// flight would miss the common case (the copy to B starts after the copy to A finished a small
// blob), and spooling every blob would fill the disk.
// A spool is dropped once `fanOut - 1` readers read it through (the other destinations), and all
// are dropped when the run ends (close(); a Lambda copier: when its batches end, enter()). A
// destination that had the blob never reads it, so a spool may live until then. Small blobs are
// held in memory (bounded in total), larger ones in a temp file under the OS temp dir; past the
// disk bound nothing more is spooled.
//
// A spool never fails a copy: a failed write, a failed or mismatching read, a failed download are
// each a reason to GET the source as before. Reads are verified against the digest like a GET.
import { createReadStream, createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Descriptor } from '../oci/manifest.js';
import { verifiedStream } from './verified-stream.js';
import { untilAborted } from '../registry/limits/waiters.js';

export interface SourceShareOptions {
  /** A blob up to this size is spooled in memory. */
  memoryBlobBytes?: number;
  /** Bytes in memory spools at once; past it blobs go to disk. */
  memoryBytes?: number;
  /** Bytes in disk spools at once; past it nothing more is spooled. */
  diskBytes?: number;
}

export const SPOOL_MEMORY_BLOB = 4 * 1024 * 1024;
export const SPOOL_MEMORY = 64 * 1024 * 1024;
export const SPOOL_DISK = 8 * 1024 * 1024 * 1024;

interface Spool {
  key: string;
  size: number;
  /** Destinations expected besides the downloader (the largest fanOut seen, less one). */
  wanted: number;
  read: number;
  active: number;
  /** Settles true when the spool holds the verified blob, false when it never will. */
  ready: Promise<boolean>;
  settle: (ok: boolean) => void;
  state: 'writing' | 'ready' | 'gone';
  chunks?: Buffer[];
  file?: string;
}

/** The downloader's side: `tee` the verified stream into the spool. */
export interface SpoolWriter {
  tee(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array>;
  /** The transfer is over: a spool not written through is dropped (its waiters GET the source). */
  close(): void;
}

/** A reader's side: the verified bytes; `failed` when the spool (not the upload) broke. */
export interface SpoolReader {
  body: AsyncGenerator<Uint8Array>;
  failed: boolean;
  /** The transfer is over: a body never read releases the spool. */
  close(): void;
}

export class SourceBlobShare {
  private readonly spools = new Map<string, Spool>();
  private memory = 0;
  private disk = 0;
  private dir: string | undefined;
  private closed = false;
  private batches = 0;
  /** Spools written and reads served, for tests and logs. */
  readonly stats = { spooled: 0, served: 0 };

  constructor(private readonly opts: SourceShareOptions = {}) {}

  /**
   * For a transfer of `desc` from `registry` in an image copied to `fanOut` destination registries:
   * a reader of a spool (waiting for one being written), a writer for a new spool, or nothing (GET
   * the source, unshared).
   */
  async take(registry: string, desc: Descriptor, fanOut: number, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<SpoolReader | SpoolWriter | undefined> {
    const key = `${registry}\n${desc.digest}`;
    for (;;) {
      if (this.closed) return undefined;
      const spool = this.spools.get(key);
      if (!spool) return fanOut > 1 ? this.writer(key, desc, fanOut) : undefined;
      spool.wanted = Math.max(spool.wanted, fanOut - 1);
      if (spool.state === 'writing' && !(await untilAborted(spool.ready, signal))) continue;
      if (spool.state !== 'ready') continue;
      return this.reader(spool, desc, onBytes);
    }
  }

  /** Drop every spool (the run is over); later takes share nothing. */
  close(): void {
    this.closed = true;
    this.clear();
  }

  /**
   * A Lambda batch begins; call the returned function when it ends. When no batch is left running,
   * every spool goes: a frozen warm container keeps nothing in /tmp. The CLI's local workers run
   * batches at once on one context, so one batch's end must not drop what another still reads.
   */
  enter(): () => void {
    this.batches++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.batches === 0) this.clear();
    };
  }

  /** Drop every spool and the temp dir; later takes start new ones. */
  clear(): void {
    for (const s of [...this.spools.values()]) this.drop(s);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private writer(key: string, desc: Descriptor, fanOut: number): SpoolWriter | undefined {
    const inMemory = desc.size <= (this.opts.memoryBlobBytes ?? SPOOL_MEMORY_BLOB) && this.memory + desc.size <= (this.opts.memoryBytes ?? SPOOL_MEMORY);
    if (!inMemory && this.disk + desc.size > (this.opts.diskBytes ?? SPOOL_DISK)) return undefined;
    let settle!: (ok: boolean) => void;
    const ready = new Promise<boolean>((r) => (settle = r));
    const spool: Spool = { key, size: desc.size, wanted: fanOut - 1, read: 0, active: 0, ready, settle, state: 'writing' };
    let out: WriteStream | undefined;
    try {
      if (inMemory) spool.chunks = [];
      else {
        this.dir ??= mkdtempSync(join(tmpdir(), 'swrm-spool-'));
        spool.file = join(this.dir, desc.digest.replace(':', '-'));
        out = createWriteStream(spool.file);
        out.on('error', () => undefined);
      }
    } catch {
      return undefined;
    }
    if (inMemory) this.memory += desc.size;
    else this.disk += desc.size;
    this.spools.set(key, spool);
    const share = this;
    return {
      close: () => {
        if (spool.state === 'writing') {
          out?.destroy();
          share.drop(spool);
        }
      },
      async *tee(stream) {
        let broken = false;
        let seen = 0;
        try {
          for await (const chunk of stream) {
            seen += chunk.length;
            if (!broken) {
              try {
                if (spool.chunks) spool.chunks.push(Buffer.from(chunk));
                else if (!out!.write(chunk)) await drained(out!);
              } catch {
                broken = true;
              }
            }
            // The last chunk comes only once the digest matched (verified-stream.ts): the spool is
            // complete before the upload has it, whether or not the upload asks for the end.
            if (seen === spool.size && !broken && (!out || (await closed(out))) && spool.state === 'writing') {
              spool.state = 'ready';
              share.stats.spooled++;
              spool.settle(true);
            }
            yield chunk;
          }
        } finally {
          if (spool.state === 'writing') {
            out?.destroy();
            share.drop(spool);
          }
        }
      },
    };
  }

  private reader(spool: Spool, desc: Descriptor, onBytes?: (n: number) => void): SpoolReader {
    spool.active++;
    const share = this;
    let started = false;
    const chunks = spool.chunks;
    const file = spool.file;
    const release = (complete: boolean) => {
      spool.active--;
      if (complete) {
        share.stats.served++;
        spool.read++;
      }
      if (spool.read >= spool.wanted && spool.active === 0) share.drop(spool);
    };
    const reader: SpoolReader = {
      failed: false,
      close: () => {
        if (!started) {
          started = true;
          release(false);
        } else void reader.body.return(undefined); // an upload that stopped reading: its finally releases
      },
      body: undefined as unknown as AsyncGenerator<Uint8Array>,
    };
    reader.body = (async function* () {
      if (started) return;
      started = true;
      let complete = false;
      const raw = chunks ? fromChunks(chunks) : createReadStream(file!);
      try {
        yield* verifiedStream(raw, desc.digest, desc.size, onBytes);
        complete = true;
      } catch (err) {
        reader.failed = true;
        share.drop(spool);
        throw err;
      } finally {
        if (!complete && 'destroy' in raw) raw.destroy();
        release(complete);
      }
    })();
    return reader;
  }

  private drop(spool: Spool): void {
    if (spool.state === 'gone') return;
    const wasWriting = spool.state === 'writing';
    spool.state = 'gone';
    if (this.spools.get(spool.key) === spool) this.spools.delete(spool.key);
    if (spool.chunks) {
      this.memory -= spool.size;
      spool.chunks = [];
    } else {
      this.disk -= spool.size;
      // An open reader keeps its file descriptor; the name goes now.
      if (spool.file) rmSync(spool.file, { force: true });
    }
    if (wasWriting) spool.settle(false);
  }
}

export function isReader(s: object | undefined): s is SpoolReader {
  return s !== undefined && 'failed' in s;
}

async function* fromChunks(chunks: readonly Buffer[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield c;
}

function drained(out: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    out.once('drain', resolve);
    out.once('error', reject);
  });
}

function closed(out: WriteStream): Promise<boolean> {
  return new Promise((resolve) => {
    out.once('error', () => resolve(false));
    out.end(() => resolve(!out.errored));
  });
}
