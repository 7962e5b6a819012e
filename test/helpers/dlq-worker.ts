// A child process for the two-process DLQ test: interleaves adds and removes on one DLQ file, the way
// a `sync` (adds) and a `replay` (adds, then removes) would. argv: FILE TAG COUNT.
import { FileDeadLetterStore } from '../../lib/queue/dlq-file.js';

const [file, tag, count] = process.argv.slice(2) as [string, string, string];
const store = new FileDeadLetterStore(file, { waitMs: 30_000 });
const at = new Date(0).toISOString();
for (let i = 0; i < Number(count); i++) {
  const id = `${tag}-${i}`;
  await store.add({ id, body: JSON.stringify({ kind: 'copy-image', id }), receiveCount: 1, reason: { code: 'X', message: 'x' }, at });
  // Every third letter is removed again right away: a read-rewrite-rename racing the other's appends.
  if (i % 3 === 0) await store.remove([id]);
}
