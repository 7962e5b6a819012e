// The DLQ file shared by separate processes (issue 6 item 10): no letter lost when two processes
// add and remove at once, a crashed holder's lock is broken, a held lock is a clear SWRM_LOCKED error.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, LockedError } from '../../lib/errors.js';
import { FileDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { isStaleLock, withFileLock } from '../../lib/queue/file-lock.js';

const WORKER = fileURLToPath(new URL('../helpers/dlq-worker.js', import.meta.url));

function worker(file: string, tag: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, file, tag, String(count)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${tag} exited ${code}: ${err}`))));
  });
}

describe('DLQ file across processes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'swrm-dlq-lock-'));
  after(() => rm(dir, { recursive: true, force: true }));

  test('two processes adding and removing at once lose no letter', async () => {
    const file = join(dir, 'shared', 'dlq.jsonl');
    const n = 150;
    await Promise.all([worker(file, 'a', n), worker(file, 'b', n)]);
    const store = new FileDeadLetterStore(file);
    const ids = new Set((await store.list()).map((l) => l.id));
    const expected = ['a', 'b'].flatMap((t) => Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 !== 0).map((i) => `${t}-${i}`));
    const lost = expected.filter((id) => !ids.has(id));
    assert.deepEqual(lost, [], `${lost.length} letter(s) lost`);
    assert.equal(ids.size, expected.length, 'a removed letter came back');
    assert.equal(store.corruptLines, 0);
    assert.deepEqual(await readdir(join(dir, 'shared')), ['dlq.jsonl'], 'a lock or temp file was left behind');
  });

  test("a crashed process's lock is broken (its pid is gone)", async () => {
    const file = join(dir, 'crashed.jsonl');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(`${file}.lock`, JSON.stringify({ pid: gone, host: hostname(), at: Date.now() }));
    const store = new FileDeadLetterStore(file, { waitMs: 2000 });
    await store.add({ id: 'x', body: '{}', receiveCount: 1, reason: { code: 'X', message: 'x' }, at: 'now' });
    assert.deepEqual((await store.list()).map((l) => l.id), ['x']);
  });

  test('a lock older than staleMs is broken even if its pid lives', async () => {
    const file = join(dir, 'old.jsonl');
    await writeFile(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() - 120_000 }));
    assert.equal(await withFileLock(file, async () => 'ran', { waitMs: 2000, staleMs: 60_000 }), 'ran');
  });

  test('a held lock gives SWRM_LOCKED naming the file and the holder, after waitMs', async () => {
    const file = join(dir, 'held.jsonl');
    await writeFile(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), at: Date.now() }));
    const started = Date.now();
    await assert.rejects(new FileDeadLetterStore(file, { waitMs: 300 }).list(), (err: unknown) => {
      assert.ok(err instanceof LockedError);
      assert.equal(err.code, ErrorCode.LOCKED);
      assert.ok(err.message.includes(file) && err.message.includes(`process ${process.pid}`), err.message);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    assert.ok(Date.now() - started >= 300);
    await rm(`${file}.lock`);
  });

  test('isStaleLock: pid gone on this host, age, other hosts, unreadable content', () => {
    const now = 1_000_000;
    const h = (o: object) => JSON.stringify({ host: 'me', ...o });
    const alive = (pid: number) => pid === 1;
    assert.equal(isStaleLock(h({ pid: 1, at: now - 10 }), now, 60_000, alive, 'me'), false);
    assert.equal(isStaleLock(h({ pid: 2, at: now - 10 }), now, 60_000, alive, 'me'), true);
    assert.equal(isStaleLock(h({ pid: 2, at: now - 10 }), now, 60_000, alive, 'other-host'), false);
    assert.equal(isStaleLock(h({ pid: 1, at: now - 60_001 }), now, 60_000, alive, 'me'), true);
    assert.equal(isStaleLock('{"pid":', now, 60_000, alive, 'me'), false);
  });
});
