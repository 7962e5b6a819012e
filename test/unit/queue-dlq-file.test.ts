import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DLQ_PATH, FileDeadLetterStore, InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import type { DeadLetter } from '../../lib/queue/types.js';

const letter = (id: string): DeadLetter => ({
  id,
  body: JSON.stringify({ kind: 'copy-image', id }),
  receiveCount: 2,
  reason: { code: 'MANIFEST_UNKNOWN', message: `no ${id}` },
  at: '2026-01-01T00:00:00.000Z',
});

describe('FileDeadLetterStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'swrm-dlq-'));
  after(() => rm(dir, { recursive: true, force: true }));
  let n = 0;
  const fresh = () => join(dir, `case-${++n}`, 'nested', 'dlq.jsonl');

  test('default path is relative', () => assert.equal(DEFAULT_DLQ_PATH, '.swr-migrate/dlq.jsonl'));

  test('missing file lists []', async () => {
    const s = new FileDeadLetterStore(fresh());
    assert.deepEqual(await s.list(), []);
    await s.remove(['x']); // no file, nothing to do
    assert.equal(s.corruptLines, 0);
  });

  test('round trip, creating the parent directory', async () => {
    const s = new FileDeadLetterStore(fresh());
    await s.add(letter('a'));
    await s.add(letter('b'));
    assert.deepEqual(await s.list(), [letter('a'), letter('b')]);
    assert.deepEqual(await new FileDeadLetterStore(s.path).list(), [letter('a'), letter('b')]);
  });

  test('remove keeps the others and leaves no temp file', async () => {
    const s = new FileDeadLetterStore(fresh());
    for (const id of ['a', 'b', 'c']) await s.add(letter(id));
    await s.remove(['b', 'nope']);
    assert.deepEqual((await s.list()).map((l) => l.id), ['a', 'c']);
    assert.deepEqual(await readdir(join(s.path, '..')), ['dlq.jsonl']);
  });

  test('survives a truncated last line, and the next add starts on a fresh line', async () => {
    const s = new FileDeadLetterStore(fresh());
    await s.add(letter('a'));
    await appendFile(s.path, JSON.stringify(letter('half')).slice(0, 30)); // a crash mid-write
    assert.deepEqual((await s.list()).map((l) => l.id), ['a']);
    assert.equal(s.corruptLines, 1);
    await s.add(letter('b'));
    assert.deepEqual((await s.list()).map((l) => l.id), ['a', 'b']);
    assert.equal(s.corruptLines, 1);
    await s.remove(['a']); // the corrupt line is kept verbatim, not silently dropped
    assert.deepEqual((await s.list()).map((l) => l.id), ['b']);
    assert.equal(s.corruptLines, 1);
    assert.ok((await readFile(s.path, 'utf8')).endsWith('\n'));
  });

  test('concurrent adds all land, each on its own line, and a concurrent remove loses none', async () => {
    const s = new FileDeadLetterStore(fresh());
    const ids = Array.from({ length: 50 }, (_, i) => `m${i}`);
    await Promise.all([...ids.map((id) => s.add(letter(id))), s.remove(['m0'])]);
    await Promise.all(ids.slice(0, 10).map((id) => s.add(letter(`${id}-again`))));
    const listed = await s.list();
    assert.equal(s.corruptLines, 0);
    assert.equal(listed.length, 59);
    assert.equal((await readFile(s.path, 'utf8')).split('\n').length, 60);
  });
});

describe('InMemoryDeadLetterStore', () => {
  test('add, list (copies), remove', async () => {
    const s = new InMemoryDeadLetterStore();
    await s.add(letter('a'));
    await s.add(letter('b'));
    const listed = await s.list();
    listed[0]!.body = 'mutated';
    assert.deepEqual(await s.list(), [letter('a'), letter('b')]);
    await s.remove(['a']);
    assert.deepEqual(await s.list(), [letter('b')]);
  });
});
