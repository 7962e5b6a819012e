// The per-run source-blob share (copy/source-share.ts): who downloads, who waits, who reads, and
// that every broken spool means "GET the source", never a failed copy.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isReader, SourceBlobShare, type SpoolReader, type SpoolWriter } from '../../lib/copy/source-share.js';

const blob = (size: number) => {
  const bytes = randomBytes(size);
  return { bytes, desc: { mediaType: 'application/octet-stream', size, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` } };
};

async function* chunks(b: Buffer, n = 3): AsyncGenerator<Uint8Array> {
  const step = Math.ceil(b.length / n);
  for (let i = 0; i < b.length; i += step) yield b.subarray(i, i + step);
}

async function drain(s: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

const spoolDirs = () => new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('swrm-spool-')));

for (const where of ['memory', 'disk'] as const) {
  test(`${where}: the downloader tees, fanOut - 1 readers read, then the spool is gone`, async () => {
    const share = new SourceBlobShare(where === 'disk' ? { memoryBlobBytes: 0 } : {});
    const { bytes, desc } = blob(100_000);
    const w = (await share.take('src', desc, 3)) as SpoolWriter;
    assert.ok(w && !isReader(w), 'the first transfer downloads');
    assert.deepEqual(await drain(w.tee(chunks(bytes))), bytes);
    w.close();
    for (let i = 0; i < 2; i++) {
      const r = await share.take('src', desc, 3);
      assert.ok(isReader(r), `reader ${i}`);
      assert.deepEqual(await drain(r.body), bytes);
      r.close();
    }
    assert.deepEqual(share.stats, { spooled: 1, served: 2 });
    // Both other destinations read it: a fourth transfer (a retry) downloads again.
    assert.ok(!isReader(await share.take('src', desc, 3)));
    share.close();
  });
}

test('a transfer that comes while the download runs waits for it, then reads the spool', async () => {
  const share = new SourceBlobShare();
  const { bytes, desc } = blob(10_000);
  const w = (await share.take('src', desc, 2)) as SpoolWriter;
  const waiting = share.take('src', desc, 2);
  const tee = drain(w.tee(chunks(bytes)));
  const r = await waiting;
  assert.ok(isReader(r));
  assert.deepEqual(await tee, bytes);
  assert.deepEqual(await drain(r.body), bytes);
  share.close();
});

test('a download that fails (or is never read) lets a waiting transfer download itself', async () => {
  const share = new SourceBlobShare();
  const { desc } = blob(1000);
  const w = (await share.take('src', desc, 2)) as SpoolWriter;
  const waiting = share.take('src', desc, 2);
  w.close(); // the upload's POST failed before a byte was read
  const next = await waiting;
  assert.ok(next && !isReader(next), 'the waiter becomes the downloader');
  share.close();
});

test('a corrupted disk spool fails its reader as a spool failure and is dropped', async () => {
  const before = spoolDirs();
  const share = new SourceBlobShare({ memoryBlobBytes: 0 });
  const { bytes, desc } = blob(5000);
  const w = (await share.take('src', desc, 3)) as SpoolWriter;
  await drain(w.tee(chunks(bytes)));
  const [dir] = [...spoolDirs()].filter((d) => !before.has(d));
  assert.ok(dir, 'a spool directory under the OS temp dir');
  writeFileSync(join(tmpdir(), dir, desc.digest.replace(':', '-')), randomBytes(5000));
  const r = (await share.take('src', desc, 3)) as SpoolReader;
  await assert.rejects(drain(r.body), /digest|SWRM_/i);
  assert.equal(r.failed, true);
  assert.ok(!isReader(await share.take('src', desc, 3)), 'the next transfer GETs the source');
  share.close();
  assert.equal(existsSync(join(tmpdir(), dir)), false, 'close() removes the spool directory');
});

test('nothing is spooled for a single destination, past the disk bound, or after close()', async () => {
  const share = new SourceBlobShare({ memoryBlobBytes: 0, diskBytes: 4000 });
  const { desc } = blob(5000);
  assert.equal(await share.take('src', desc, 1), undefined);
  assert.equal(await share.take('src', desc, 3), undefined);
  share.close();
  assert.equal(await share.take('src', blob(10).desc, 3), undefined);
});

test('Lambda batches: spools go when the last batch running ends, not before', async () => {
  const share = new SourceBlobShare();
  const { bytes, desc } = blob(1000);
  const first = share.enter();
  const second = share.enter();
  const w = (await share.take('src', desc, 3)) as SpoolWriter;
  await drain(w.tee(chunks(bytes)));
  first();
  first(); // twice is once
  assert.ok(isReader(await share.take('src', desc, 3)), 'another batch still runs: the spool stays');
  second();
  assert.ok(!isReader(await share.take('src', desc, 3)), 'no batch runs: the spool is gone');
  share.close();
});
