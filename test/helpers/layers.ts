// Big test layers (64 MiB .. 1 GiB) generated on the fly: a tar with one random file, wrapped in
// gzip using deflate *stored* blocks written by hand. Stored blocks cost no compression CPU (the
// machine has 2 shared cores) and make the output size exactly computable, so a layer can be
// made exactly `size` bytes and streamed with a known Content-Length, never held in memory.
import { createHash, randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { expectStatus, headerValue, registryRequest, withDigest, type Target } from './client.js';
import type { PushedBlob } from './push.js';

const STORED_MAX = 65_535;    // max payload of one deflate stored block
const BLOCK_OVERHEAD = 5;     // 1 header byte (BFINAL, BTYPE=00, byte-aligned) + LEN + NLEN
const GZIP_OVERHEAD = 18;     // 10-byte header + CRC32 + ISIZE
const BATCH = 16;             // stored blocks per yielded chunk (~1 MiB)

/** A ustar header for a regular file. */
export function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const field = (off: number, len: number, value: string): void => { h.write(value, off, len, 'ascii'); };
  const octal = (off: number, len: number, n: number): void => field(off, len, n.toString(8).padStart(len - 1, '0'));
  field(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size); // 11 octal digits: up to 8 GiB
  octal(136, 12, 1_700_000_000);
  field(148, 8, '        '); // checksum is computed with this field as spaces
  field(156, 1, '0');
  field(257, 8, 'ustar\u000000');
  let sum = 0;
  for (const b of h) sum += b;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\u0000 `);
  return h;
}

/**
 * Picks file size D (a multiple of 512, so the tar has no padding) and a number of extra empty
 * stored blocks so that 18 + tar + 5 * blocks == size exactly. Since 512 mod 5 = 2, stepping D
 * down reaches every residue within 5 steps, so there are at most a few hundred empty blocks.
 */
function layout(size: number): { fileSize: number; tarSize: number; emptyBlocks: number } {
  for (let k = Math.floor((size - GZIP_OVERHEAD - 1536) / 512); k >= 0; k--) {
    const tarSize = 512 * (k + 3);
    const rest = size - GZIP_OVERHEAD - tarSize - BLOCK_OVERHEAD * Math.ceil(tarSize / STORED_MAX);
    if (rest >= 0 && rest % BLOCK_OVERHEAD === 0) return { fileSize: 512 * k, tarSize, emptyBlocks: rest / BLOCK_OVERHEAD };
  }
  throw new Error(`layer size ${size} cannot be laid out exactly (use >= 4 KiB)`);
}

export interface GeneratedLayer {
  stream: AsyncIterable<Buffer>;
  size: number;
  /** Valid once the stream has been fully consumed. */
  result(): { digest: string; diffId: string };
}

/** An exactly `size`-byte tar+gzip of random content, hashed (digest and diff_id) as it is produced. */
export function storedTarGzip(size: number): GeneratedLayer {
  const { fileSize, tarSize, emptyBlocks } = layout(size);
  const header = tarHeader(`big-${Date.now()}-${Math.random().toString(36).slice(2)}.bin`, fileSize);
  const blobHash = createHash('sha256');
  const tarHash = createHash('sha256');
  let done: { digest: string; diffId: string } | undefined;

  // Writes tar bytes [pos, pos+n) into dst at off: header, then random file data, then zeros.
  const fillTar = (dst: Buffer, off: number, pos: number, n: number): void => {
    const end = pos + n;
    if (pos < 512) header.copy(dst, off, pos, Math.min(512, end));
    const dataStart = Math.max(pos, 512), dataEnd = Math.min(end, 512 + fileSize);
    if (dataEnd > dataStart) randomFillSync(dst, off + dataStart - pos, dataEnd - dataStart);
    const zeroStart = Math.max(pos, 512 + fileSize);
    if (end > zeroStart) dst.fill(0, off + zeroStart - pos, off + n);
  };

  async function* generate(): AsyncGenerator<Buffer> {
    const emit = (b: Buffer): Buffer => { blobHash.update(b); return b; };
    yield emit(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
    let crc = 0;
    let pos = 0;
    while (pos < tarSize) {
      const blocks = Math.min(BATCH, Math.ceil((tarSize - pos) / STORED_MAX));
      const payload = Math.min(blocks * STORED_MAX, tarSize - pos);
      const chunk = Buffer.allocUnsafe(payload + blocks * BLOCK_OVERHEAD);
      let off = 0;
      for (let i = 0; i < blocks; i++) {
        const n = Math.min(STORED_MAX, tarSize - pos);
        const final = pos + n === tarSize && emptyBlocks === 0;
        chunk[off] = final ? 1 : 0;
        chunk.writeUInt16LE(n, off + 1);
        chunk.writeUInt16LE(~n & 0xffff, off + 3);
        fillTar(chunk, off + BLOCK_OVERHEAD, pos, n);
        const data = chunk.subarray(off + BLOCK_OVERHEAD, off + BLOCK_OVERHEAD + n);
        crc = crc32(data, crc);
        tarHash.update(data);
        off += BLOCK_OVERHEAD + n;
        pos += n;
      }
      yield emit(chunk);
    }
    const tail = Buffer.alloc(emptyBlocks * BLOCK_OVERHEAD + 8);
    for (let i = 0; i < emptyBlocks; i++) {
      const o = i * BLOCK_OVERHEAD;
      tail[o] = i === emptyBlocks - 1 ? 1 : 0;
      tail.writeUInt16LE(0xffff, o + 3); // LEN 0, NLEN 0xffff
    }
    tail.writeUInt32LE(crc >>> 0, tail.length - 8);
    tail.writeUInt32LE(tarSize % 2 ** 32, tail.length - 4);
    yield emit(tail);
    done = { digest: `sha256:${blobHash.digest('hex')}`, diffId: `sha256:${tarHash.digest('hex')}` };
  }

  return {
    stream: generate(),
    size,
    result: () => {
      if (!done) throw new Error('layer stream not fully consumed');
      return done;
    },
  };
}

/**
 * Streams a fresh random layer of exactly `size` bytes into `repo` without buffering it.
 * The digest is only known at the end, so this uses POST, one streaming PATCH, then a
 * zero-length PUT ?digest= (the POST authenticates first: a streamed body cannot be re-sent).
 */
export async function streamLayerTo(reg: Target, repo: string, size: number): Promise<PushedBlob> {
  const layer = storedTarGzip(size);
  const post = await registryRequest(reg, 'POST', `/v2/${repo}/blobs/uploads/`, { repo });
  await expectStatus(post, [202], `POST upload ${repo}`);
  await post.body.dump();
  const patch = await registryRequest(reg, 'PATCH', headerValue(post, 'location')!, {
    repo,
    body: Readable.from(layer.stream, { objectMode: false }),
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
  });
  await expectStatus(patch, [202], `PATCH upload ${repo}`);
  await patch.body.dump();
  const { digest, diffId } = layer.result();
  const put = await registryRequest(reg, 'PUT', withDigest(reg, headerValue(patch, 'location')!, digest), {
    repo, body: Buffer.alloc(0), headers: { 'content-type': 'application/octet-stream' },
  });
  await expectStatus(put, [201], `PUT upload ${repo}@${digest}`);
  await put.body.dump();
  return { digest, size, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', diffId };
}
