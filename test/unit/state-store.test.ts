// The state port's local adapters (issue 14, item 2): memory and JSON-lines files behave as the
// DynamoDB adapter does (the shared contract); the files survive a restart, two processes adding to
// one counter at once lose nothing, a torn line is skipped and closed, and the digest memo's file
// stays readable both ways (lines of the version before the store, and by it).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FileStateStore } from '../../lib/state/file-store.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { FileDigestMemo, fileStateStore } from '../../lib/state/digest-memo-file.js';
import { memoEntryFrom } from '../../lib/state/digest-memo.js';
import { tempDir } from '../helpers/files.js';
import { stateContract } from '../helpers/state-contract.js';

const dig = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

function clock() {
  let now = Date.UTC(2025, 0, 1);
  return { now: () => now, advance: (s: number) => void (now += s * 1000) };
}

describe('state store in memory: the contract', () => {
  stateContract(async () => {
    const c = clock();
    return { store: new MemoryStateStore(c.now), advance: c.advance };
  });
});

describe('state store on files: the contract', () => {
  stateContract(async () => {
    const c = clock();
    return { store: new FileStateStore(tempDir('swrm-state-'), { clock: c.now }), advance: c.advance };
  });
});

describe('state store on files', () => {
  test('a file of mostly superseded states is rewritten with one line per live item; every reader follows', async () => {
    const dir = tempDir('swrm-state-');
    const c = clock();
    const a = new FileStateStore(dir, { compactAfter: 50, clock: c.now });
    const b = new FileStateStore(dir, { clock: c.now });
    await a.put({ group: 'pushed#r.io', id: 'app:v1' }, { digest: dig(1), checkedAt: 0 });
    await a.put({ group: 'gone', id: 'x' }, { value: 1 }, { ttlSeconds: 10 });
    assert.equal((await b.get({ group: 'gone', id: 'x' }))?.data.value, 1, 'b has read the file before it is rewritten');
    c.advance(20);
    // Refreshes of the same records: the file would grow by a line each.
    for (let i = 0; i < 120; i++) await a.put({ group: 'pushed#r.io', id: `app:v${i % 3}` }, { digest: dig(i % 3), checkedAt: i });
    await a.add({ group: 'runs', id: 'r1' }, { copied: 2 });
    const lines = readFileSync(join(dir, 'state.jsonl'), 'utf8').split('\n').filter(Boolean).length;
    assert.ok(lines <= 60, `${lines} lines after 122 writes of 4 live items`);
    for (const x of [a, b, new FileStateStore(dir)]) {
      assert.deepEqual((await x.get({ group: 'pushed#r.io', id: 'app:v2' }))?.data, { digest: dig(2), checkedAt: 119 });
      assert.equal((await x.get({ group: 'runs', id: 'r1' }))?.data.copied, 2);
      assert.equal(await x.get({ group: 'gone', id: 'x' }), undefined, 'the expired item is gone');
    }
    // b's next write goes on top of the rewritten file, and a reads it.
    await b.add({ group: 'runs', id: 'r1' }, { copied: 1 });
    assert.equal((await a.get({ group: 'runs', id: 'r1' }))?.data.copied, 3);
    assert.equal(await b.put({ group: 'runs', id: 'r2' }, { x: 1 }, { ifAbsent: true }), true);
    assert.equal(await a.put({ group: 'runs', id: 'r2' }, { x: 2 }, { ifAbsent: true }), false, 'conditions hold across the rewrite');
  });

  test('a new instance (the next run) reads what an earlier one wrote, versions included', async () => {
    const dir = tempDir('swrm-state-');
    const a = new FileStateStore(dir);
    await a.put({ group: 'runs', id: 'r1' }, { started: 'now' });
    await a.add({ group: 'runs', id: 'r1' }, { copied: 2 });
    await a.put({ group: 'claims', id: 'img' }, { owner: 'me' }, { ttlSeconds: 3600 });
    await a.delete({ group: 'claims', id: 'img' });
    const v = (await a.get({ group: 'runs', id: 'r1' }))!.version;
    const b = new FileStateStore(dir);
    assert.deepEqual((await b.get({ group: 'runs', id: 'r1' }))?.data, { started: 'now', copied: 2 });
    assert.equal((await b.get({ group: 'runs', id: 'r1' }))?.version, v, 'a version is the same to every reader');
    assert.equal(await b.get({ group: 'claims', id: 'img' }), undefined, 'a delete survives too');
    // A writer sees what another instance appended meanwhile.
    await b.add({ group: 'runs', id: 'r1' }, { copied: 1 });
    assert.equal((await a.get({ group: 'runs', id: 'r1' }))?.data.copied, 3);
    assert.equal(await a.put({ group: 'runs', id: 'r1' }, { x: 1 }, { ifVersion: v }), false, "a's version went stale with b's write");
  });

  test('two processes adding to one counter and claiming keys at once: nothing lost, each key claimed once', async () => {
    const dir = tempDir('swrm-state-');
    const mod = fileURLToPath(new URL('../../lib/state/file-store.js', import.meta.url));
    // Both start writing at the same moment, whatever their start-up times.
    const at = Date.now() + 1500;
    const script =
      `const { FileStateStore } = await import(${JSON.stringify(mod)});` +
      `const s = new FileStateStore(${JSON.stringify(dir)});` +
      `await new Promise((r) => setTimeout(r, ${at} - Date.now()));` +
      `const won = [];` +
      // One write at a time, so the two processes' writes interleave (a batch would take one lock).
      `for (let i = 0; i < 150; i++) {` +
      `  await s.add({ group: 'runs', id: 'r' }, { copied: 1 });` +
      `  if (await s.put({ group: 'claims', id: 'k' + (i % 50) }, { pid: process.pid }, { ifAbsent: true })) won.push(i % 50);` +
      `}` +
      `process.stdout.write(JSON.stringify(won));`;
    const run = promisify(execFile);
    const outs = await Promise.all([1, 2].map(() => run(process.execPath, ['--input-type=module', '-e', script])));
    const store = new FileStateStore(dir);
    assert.equal((await store.get({ group: 'runs', id: 'r' }))?.data.copied, 300, 'every addition of both processes');
    const won = outs.flatMap((o) => JSON.parse(o.stdout) as number[]).sort((x, y) => x - y);
    assert.deepEqual(won, Array.from({ length: 50 }, (_, i) => i), 'each key claimed by exactly one writer');
    assert.equal(store.corruptLines, 0);
  });

  test('a torn last line (a crash mid-append) is skipped and counted once; the next write starts a new line', async () => {
    const dir = tempDir('swrm-state-');
    const a = new FileStateStore(dir);
    await a.put({ group: 'g', id: 'one' }, { n: 1 });
    appendFileSync(join(dir, 'state.jsonl'), '{"_g":"g","_id":"two","n":');
    const b = new FileStateStore(dir);
    assert.equal(await b.get({ group: 'g', id: 'two' }), undefined);
    assert.equal((await b.get({ group: 'g', id: 'one' }))?.data.n, 1);
    assert.equal(b.corruptLines, 1);
    await b.put({ group: 'g', id: 'three' }, { n: 3 });
    const c = new FileStateStore(dir);
    assert.equal((await c.get({ group: 'g', id: 'three' }))?.data.n, 3);
    assert.equal(c.corruptLines, 1);
    assert.equal(b.corruptLines, 1, 'counted once by the writer that closed it');
  });

  test('the digest memo file: lines of the version before the store are read; new lines still read as old lines', async () => {
    const dir = tempDir('swrm-state-');
    const file = join(dir, 'digests.jsonl');
    const T = 'format=docker';
    // What the version before the state store wrote.
    writeFileSync(file, `${JSON.stringify({ source: dig(1), transform: T, digest: dig(2), detail: 'converted' })}\n`);
    const memo = new FileDigestMemo(file);
    assert.deepEqual(await memo.get(dig(1), T), { digest: dig(2), detail: 'converted' });
    await memo.put(dig(3), T, { digest: dig(4) });
    await memo.put(dig(5), T, { digest: dig(5), detail: 'no linux/s390x', filtered: true });
    // The version before read each line with memoEntryFrom: every line still is an entry to it.
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 3, 'the old line is kept, nothing rewritten');
    assert.deepEqual(
      lines.map((l) => memoEntryFrom(JSON.parse(l))),
      [
        { source: dig(1), transform: T, entry: { digest: dig(2), detail: 'converted' } },
        { source: dig(3), transform: T, entry: { digest: dig(4) } },
        { source: dig(5), transform: T, entry: { digest: dig(5), detail: 'no linux/s390x', filtered: true } },
      ],
    );
    // The same directory's store keeps other groups out of the memo's file.
    const store = fileStateStore(dir);
    await store.add({ group: 'runs', id: 'r' }, { copied: 1 });
    assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 3);
    assert.deepEqual((await new FileDigestMemo(file).get(dig(3), T)), { digest: dig(4) });
  });
});
