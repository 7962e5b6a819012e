// Issue 13 items 5 and 6: dead letters are never rewritten (a valid message is stored byte for
// byte), and a DLQ holds one letter per image: a re-failure replaces the old letter. The stores on
// their own, then replay's counts when the DLQ holds duplicates (as an older version left them).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDeadLetterStore, InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { byImage, census, letterKey } from '../../lib/queue/letters.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import type { DeadLetter, DeadLetterStore } from '../../lib/queue/types.js';
import { runReplay } from '../../lib/pipeline/replay.js';
import { DEFAULTS } from '../../lib/config/types.js';
import { MASK } from '../../lib/secrets.js';

const REFS = ['thomseddon/traefik-forward-auth:2.2', 'acme/oauth:3', 'registry/jwt-token:v1.4.0'];
const copy = (name: string, extra: { origin?: string } = {}) =>
  encodeMessage({ v: 1, kind: 'copy-image', source: `r.io/${name}`, destination: `d.io/mirror/${name.split('/').pop()!}`, ...extra });
let n = 0;
const letter = (body: string, at = new Date(Date.UTC(2026, 0, 1, 0, 0, ++n)).toISOString(), code = 'MANIFEST_UNKNOWN'): DeadLetter => ({
  id: `l${n}-${Math.random().toString(36).slice(2, 8)}`,
  body,
  receiveCount: 1,
  reason: { code, message: `no ${body.length}` },
  at,
});

describe('letterKey and byImage', () => {
  test('the same image planned by two rules is one image; other destinations are not', () => {
    assert.equal(letterKey(copy(REFS[0]!)), letterKey(copy(REFS[0]!, { origin: 'rules[3]' })));
    assert.notEqual(letterKey(copy(REFS[0]!)), letterKey(copy(REFS[1]!)));
    const expand = (destinations: string[]) => encodeMessage({ v: 1, kind: 'expand-repository', source: 'r.io/acme/oauth', destinations });
    assert.equal(letterKey(expand(['d.io/a', 'd.io/b'])), letterKey(expand(['d.io/b', 'd.io/a'])));
    // An undecodable body is its own image, and its masked copy is the same letter.
    assert.equal(letterKey('password=Hunter2 x'), letterKey(`password=${MASK} x`));
  });

  test('the newest letter of each image is kept, by `at`, whatever the order', () => {
    const older = letter(copy(REFS[0]!), '2026-01-01T00:00:00.000Z');
    const newer = letter(copy(REFS[0]!, { origin: 'again' }), '2026-02-01T00:00:00.000Z');
    const other = letter(copy(REFS[1]!));
    const { newest, duplicates } = byImage([newer, other, older]);
    assert.deepEqual(newest.map((l) => l.id), [newer.id, other.id]);
    assert.deepEqual(duplicates.map((l) => l.id), [older.id]);
  });
});

test('census: reasons count each image once, by its newest letter', () => {
  const l = [
    letter(copy(REFS[0]!), '2026-01-01T00:00:00.000Z', 'SWRM_NETWORK'),
    letter(copy(REFS[0]!), '2026-01-02T00:00:00.000Z', 'DENIED'),
    letter(copy(REFS[1]!), '2026-01-03T00:00:00.000Z', 'DENIED'),
  ];
  const c = census(l);
  assert.deepEqual([c.letters, c.images, c.duplicates], [3, 2, 1]);
  assert.deepEqual(c.reasons.map((r) => [r.code, r.count]), [['DENIED', 2]]);
});

function storeContract(name: string, make: () => Promise<DeadLetterStore & { addAll(l: DeadLetter[], drop?: string[]): Promise<void> }>) {
  describe(name, () => {
    test('valid messages are stored byte for byte, names with key words included', async () => {
      const s = await make();
      const bodies = [...REFS.map((r) => copy(r)), '{ "v": 1, "kind": "copy-image", "source": "r.io/acme/oauth:3", "destination": "d.io/m/oauth:3" }'];
      for (const b of bodies) await s.add(letter(b));
      assert.deepEqual((await s.list()).map((l) => l.body), bodies);
    });

    test('an undecodable body is masked', async () => {
      const s = await make();
      await s.add(letter(JSON.stringify({ v: 1, kind: 'copy-image', source: 'r.io/a:1', destination: 'd.io/a:1', token: 'Hunter2-s3cr3t' })));
      assert.deepEqual((await s.list()).map((l) => l.body), [JSON.stringify({ v: 1, kind: 'copy-image', source: 'r.io/a:1', destination: 'd.io/a:1', token: MASK })]);
    });

    test('a re-failure of an image replaces its letter; other images stay, in order', async () => {
      const s = await make();
      const first = letter(copy(REFS[0]!));
      const other = letter(copy(REFS[1]!));
      await s.add(first);
      await s.add(other);
      const again = letter(copy(REFS[0]!, { origin: 'rules[1]' }), undefined, 'DENIED');
      await s.add(again);
      assert.deepEqual((await s.list()).map((l) => [l.id, l.reason.code]), [
        [other.id, 'MANIFEST_UNKNOWN'],
        [again.id, 'DENIED'],
      ]);
      // A raw invalid letter and its masked copy are one letter too.
      await s.add(letter('password=Hunter2-s3cr3t not json'));
      await s.add(letter('password=Hunter2-s3cr3t not json'));
      assert.equal((await s.list()).length, 3);
    });

    test('addAll adds (replacing per image) and removes in one step', async () => {
      const s = await make();
      const a = letter(copy(REFS[0]!));
      const b = letter(copy(REFS[1]!));
      const c = letter(copy(REFS[2]!));
      for (const l of [a, b, c]) await s.add(l);
      const a2 = letter(copy(REFS[0]!));
      const d = letter(copy('x/new:1'));
      await s.addAll([a2, d], [b.id]);
      assert.deepEqual((await s.list()).map((l) => l.id), [c.id, a2.id, d.id]);
    });
  });
}

describe('dead-letter stores', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'swrm-letters-'));
  after(() => rm(dir, { recursive: true, force: true }));
  let i = 0;
  storeContract('FileDeadLetterStore', async () => new FileDeadLetterStore(join(dir, `c${++i}`, 'dlq.jsonl')));
  storeContract('InMemoryDeadLetterStore', async () => new InMemoryDeadLetterStore());

  test('file: the line on disk holds the body exactly, and no temp file is left', async () => {
    const s = new FileDeadLetterStore(join(dir, 'exact', 'dlq.jsonl'));
    const body = copy(REFS[0]!);
    await s.add(letter(body));
    await s.add(letter(body));
    const lines = (await readFile(s.path, 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.length, 1);
    assert.equal((JSON.parse(lines[0]!) as DeadLetter).body, body);
    assert.deepEqual(await readdir(join(dir, 'exact')), ['dlq.jsonl']);
  });

  test('file: a letter another process wrote for the same image is replaced too (the index follows the file)', async () => {
    const path = join(dir, 'shared', 'dlq.jsonl');
    const mine = new FileDeadLetterStore(path);
    const theirs = new FileDeadLetterStore(path);
    await mine.add(letter(copy(REFS[1]!)));
    await theirs.add(letter(copy(REFS[0]!)));
    await mine.add(letter(copy(REFS[0]!, { origin: 'mine' })));
    // Written behind both stores' backs, as an older version would have: a duplicate line.
    await appendFile(path, `${JSON.stringify(letter(copy(REFS[1]!)))}\n`);
    await mine.add(letter(copy(REFS[1]!, { origin: 'mine' })));
    const listed = await mine.list();
    assert.deepEqual(listed.map((l) => JSON.parse(l.body) as { origin?: string }).map((m) => m.origin), ['mine', 'mine']);
    assert.equal(mine.corruptLines, 0);
  });

  test('file: corrupt lines survive a replacing add', async () => {
    const s = new FileDeadLetterStore(join(dir, 'corrupt', 'dlq.jsonl'));
    await s.add(letter(copy(REFS[0]!)));
    await appendFile(s.path, '{"id": "cut short');
    await s.add(letter(copy(REFS[0]!)));
    assert.equal((await s.list()).length, 1);
    assert.equal(s.corruptLines, 1);
    assert.match(await readFile(s.path, 'utf8'), /cut short/);
  });
});

describe('replay counts each letter once', () => {
  const config = { source: 'test', defaults: { ...DEFAULTS, timeout: 5 }, registries: [], resolve: () => ({}), rules: [] };

  test('three letters for one image (an older version left duplicates) run once, and leave one letter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'swrm-replay-count-'));
    try {
      const path = join(dir, 'dlq.jsonl');
      // Nothing listens on 127.0.0.1:9: the copy fails again at once. Two letters share the body,
      // the third is the same image planned by another rule; a non-JSON letter is another image.
      const image = { v: 1 as const, kind: 'copy-image' as const, source: '127.0.0.1:9/acme/oauth:3', destination: '127.0.0.1:9/m/oauth:3' };
      const body = encodeMessage(image);
      const lines = [letter(body), letter(encodeMessage({ ...image, origin: 'rules[2]' })), letter(body), letter('not json at all')];
      await appendFile(path, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
      const dlq = new FileDeadLetterStore(path);
      const run = await runReplay({ config, proc: 2, retries: 0, dlq });
      assert.equal(run.letters, 4);
      assert.equal(run.duplicates, 2);
      assert.equal(run.recovered + run.kept + run.duplicates, run.letters);
      assert.equal(run.kept, 2);
      assert.equal(run.outcomes.length, 2, 'each image ran once');
      assert.equal(run.remaining, 2);
      assert.equal((await dlq.list()).length, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
