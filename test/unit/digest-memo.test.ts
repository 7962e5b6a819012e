// The digest memo (issue 6, item 2): facts survive a restart, two processes appending at once lose
// nothing, and a missing, corrupt or unwritable file only makes callers recompute.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { platformTransform } from '../../lib/oci/platform-filter.js';
import { FileDigestMemo, memoPathFor } from '../../lib/state/digest-memo-file.js';
import { InMemoryDigestMemo } from '../../lib/state/digest-memo.js';
import { tempDir } from '../helpers/files.js';

const dig = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const T = platformTransform(['linux/arm64', 'linux/amd64']);

describe('digest memo', () => {
  test('the transform key ignores the order and repeats of the platform list', () => {
    assert.equal(T, 'platforms.v2=linux/amd64,linux/arm64');
    assert.equal(platformTransform(['linux/amd64', 'linux/arm64', 'linux/amd64']), T);
  });

  // Issue 13: the old filter remembered single images as kept whatever their platform; its
  // entries live under another key, so they are never taken for the new filter's word.
  test('the key is versioned: entries of the filter before issue 13 are not reused', () => {
    assert.notEqual(platformTransform(['linux/arm64']), 'platforms=linux/arm64');
  });

  test('a "filtered" verdict round-trips through the file; anything but true is not one', async () => {
    const file = join(tempDir('swrm-memo-'), 'state', 'digests.jsonl');
    await new FileDigestMemo(file).put(dig(7), T, { digest: dig(7), detail: 'the image is linux/s390x', filtered: true });
    assert.deepEqual(await new FileDigestMemo(file).get(dig(7), T), { digest: dig(7), detail: 'the image is linux/s390x', filtered: true });
    writeFileSync(file, `${JSON.stringify({ source: dig(8), transform: T, digest: dig(8), filtered: 'yes' })}\n`);
    assert.deepEqual(await new FileDigestMemo(file).get(dig(8), T), { digest: dig(8) });
  });

  test('the file sits next to the DLQ', () => assert.equal(memoPathFor('/x/state/dlq.jsonl'), '/x/state/digests.jsonl'));

  test('in memory and on file: put, then get (file: from a new instance, as the next run would)', async () => {
    const mem = new InMemoryDigestMemo();
    await mem.put(dig(1), T, { digest: dig(2), detail: 'kept amd64' });
    assert.deepEqual(await mem.get(dig(1), T), { digest: dig(2), detail: 'kept amd64' });
    assert.equal(await mem.get(dig(1), 'platforms.v2=linux/amd64'), undefined, 'another transform is another fact');

    const file = join(tempDir('swrm-memo-'), 'state', 'digests.jsonl');
    const a = new FileDigestMemo(file);
    assert.equal(await a.get(dig(1), T), undefined, 'a missing file is an empty memo');
    await a.put(dig(1), T, { digest: dig(2), detail: 'kept amd64' });
    await a.put(dig(1), T, { digest: dig(2), detail: 'kept amd64' });
    assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 1, 'a known fact is not appended again');
    assert.deepEqual(await new FileDigestMemo(file).get(dig(1), T), { digest: dig(2), detail: 'kept amd64' });
  });

  test('corrupt lines are skipped and counted; the valid ones still answer', async () => {
    const file = join(tempDir('swrm-memo-'), 'digests.jsonl');
    const good = JSON.stringify({ source: dig(3), transform: T, digest: dig(4) });
    writeFileSync(file, `garbage\n${JSON.stringify({ source: 'sha256:short', transform: T, digest: dig(5) })}\n${good}\n{"source":"sha256:`);
    const memo = new FileDigestMemo(file);
    assert.deepEqual(await memo.get(dig(3), T), { digest: dig(4) });
    assert.equal(memo.corruptLines, 3);
    // Appending after a torn last line still yields a readable record on the next load.
    await memo.put(dig(6), T, { digest: dig(7) });
    assert.deepEqual(await new FileDigestMemo(file).get(dig(6), T), { digest: dig(7) });
  });

  test('a file that cannot be written never fails the caller; the answer still holds in this process', async () => {
    const dir = tempDir('swrm-memo-');
    mkdirSync(join(dir, 'digests.jsonl'));
    const warnings: string[] = [];
    const logger = { warn: (_o: unknown, msg: string) => void warnings.push(msg) } as never;
    const memo = new FileDigestMemo(join(dir, 'digests.jsonl'), logger);
    await memo.put(dig(8), T, { digest: dig(9) });
    await memo.put(dig(10), T, { digest: dig(11) });
    assert.deepEqual(await memo.get(dig(8), T), { digest: dig(9) });
    assert.equal(warnings.length, 1, 'warned once, not per put');
  });

  test('two processes writing at once: every fact of both is in the file', async () => {
    const file = join(tempDir('swrm-memo-'), 'digests.jsonl');
    const mod = fileURLToPath(new URL('../../lib/state/digest-memo-file.js', import.meta.url));
    const script = (offset: number) =>
      `const { FileDigestMemo } = await import(${JSON.stringify(mod)});` +
      `const m = new FileDigestMemo(${JSON.stringify(file)});` +
      `const d = (n) => 'sha256:' + n.toString(16).padStart(64, '0');` +
      `await Promise.all(Array.from({ length: 200 }, (_, i) => m.put(d(${offset} + i), ${JSON.stringify(T)}, { digest: d(${offset} + i + 1) })));`;
    const run = promisify(execFile);
    await Promise.all([0, 1000].map((o) => run(process.execPath, ['--input-type=module', '-e', script(o)])));
    const memo = new FileDigestMemo(file);
    for (const o of [0, 1000]) for (let i = 0; i < 200; i++) assert.deepEqual(await memo.get(dig(o + i), T), { digest: dig(o + i + 1) });
    assert.equal(memo.corruptLines, 0);
  });
});
