// serve's small pieces: the queue journal through the embedded queue (what is settled leaves it, what
// is not comes back in order), --listen parsing, and webhook paths logged without their secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { FileQueueJournal } from '../../lib/serve/journal.js';
import { loggablePath } from '../../lib/serve/hooks.js';
import { parseListen } from '../../lib/serve/server.js';
import { UsageError } from '../../lib/errors.js';
import { tempDir } from '../helpers/files.js';

test('the journal keeps what the queue has not settled, in the order it was sent', async () => {
  const dir = tempDir('swrm-journal-');
  const dlq = new InMemoryDeadLetterStore();
  const queue = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 3, dlq, journal: new FileQueueJournal(dir) });
  await queue.send(['a', 'b', 'c']);
  await queue.send(['d']);
  const [first] = await queue.receive(1, 0);
  await queue.ack(first!);
  const [second] = await queue.receive(1, 0);
  await queue.deadLetter(second!, { code: 'X', message: 'gone' });
  const [third] = await queue.receive(1, 0);
  assert.equal(third!.body, 'c', 'in flight: still journalled');

  // A new process: a new journal over the same directory.
  const pending = await new FileQueueJournal(dir).pending();
  assert.deepEqual(pending.map((p) => p.body), ['c', 'd']);
  const restarted = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 3, dlq, journal: new FileQueueJournal(dir) });
  restarted.restore(pending);
  const again = await restarted.receive(2, 0);
  assert.deepEqual(again.map((m) => m.body), ['c', 'd']);
  for (const m of again) await restarted.ack(m);
  assert.deepEqual(await new FileQueueJournal(dir).pending(), []);
  assert.equal((await dlq.list()).length, 1);
});

test('the redrive policy settles a message out of the journal too', async () => {
  const dir = tempDir('swrm-journal-');
  const queue = new EmbeddedQueue({ visibilityTimeoutMs: 0, maxReceiveCount: 1, dlq: new InMemoryDeadLetterStore(), journal: new FileQueueJournal(dir) });
  await queue.send(['x']);
  await queue.receive(1, 0);
  assert.deepEqual(await queue.receive(1, 0), [], 'moved to the DLQ instead of delivered');
  assert.deepEqual(await new FileQueueJournal(dir).pending(), []);
});

test('--listen is HOST:PORT', () => {
  assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen('[::1]:9'), { host: '::1', port: 9 });
  assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  for (const bad of ['8080', 'localhost', ':8080', 'host:99999', 'a b:1', '::1:80']) assert.throws(() => parseListen(bad), UsageError, bad);
});

test('the secret path segment of Docker Hub and Quay hooks is never logged', () => {
  assert.equal(loggablePath('/hooks/dockerhub/s3cr3t'), '/hooks/dockerhub/***');
  assert.equal(loggablePath('/hooks/quay/s3cr3t?x=1'), '/hooks/quay/***');
  assert.equal(loggablePath('/hooks/harbor?token=1'), '/hooks/harbor');
});
