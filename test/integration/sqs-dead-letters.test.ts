// Issue 13 items 5 and 6 on SQS (local-aws-sqs on 127.0.0.1): a dead letter of a valid message is
// stored and listed byte for byte, however its names look; letters for the same image are counted
// as one image by status (census), and a replay deletes the duplicates before the redrive, so each
// image moves back once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sqsClient } from '../../lib/queue/sqs-client.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { redriveAndWait } from '../../lib/pipeline/replay.js';
import { MASK } from '../../lib/secrets.js';
import { startSqsServer, type SqsServerHandle } from '../helpers/sqs-server.js';

const NAMES = ['thomseddon/traefik-forward-auth:2.2', 'acme/oauth:3', 'jwt-token:v1.4.0'];
const body = (name: string, origin?: string) =>
  encodeMessage({ v: 1, kind: 'copy-image', source: `docker.io/${name}`, destination: `swr.example/mirror/${name.split('/').pop()!}`, ...(origin ? { origin } : {}) });

let sqs: SqsServerHandle;
let n = 0;
before(async () => {
  sqs = await startSqsServer();
});
after(() => sqs.stop());

async function pair() {
  const p = await sqs.createQueuePair(`letters${++n}`);
  const client = sqsClient({ endpoint: sqs.endpoint, credentials: { accessKeyId: 't', secretAccessKey: 't' }, maxAttempts: 1 });
  const queue = new SqsWorkQueue({ queueUrl: p.queueUrl, client, drainedReadings: 1, send: { backoffMs: 5 } });
  return { queue, dlq: await queue.deadLetters() };
}

/** Every body on the queue, received and deleted. */
async function drain(queue: SqsWorkQueue): Promise<string[]> {
  const out: string[] = [];
  for (let empty = 0; empty < 50; ) {
    const got = await queue.receive(10, 0);
    if (got.length) {
      empty = 0;
      out.push(...got.map((m) => m.body));
      await queue.ackMany(got);
      continue;
    }
    const c = await queue.counts();
    if (c.visible + c.inFlight + c.delayed === 0) return out;
    empty++;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`queue did not drain: ${out.length} received`);
}

describe('SQS DLQ: dead letters are never rewritten', () => {
  test('deadLetter() and add() store and list valid messages byte for byte', async () => {
    const { queue, dlq } = await pair();
    const bodies = NAMES.map((name) => body(name));
    await queue.send(bodies);
    const got = await queue.receive(10, 0);
    assert.equal(got.length, 3);
    for (const m of got) await queue.deadLetter(m, { code: 'MANIFEST_UNKNOWN', message: `manifest unknown: ${m.body}` });
    const listed = await dlq.list();
    assert.deepEqual(listed.map((l) => l.body).sort(), [...bodies].sort());
    // The reason's message is remote text: masked by shape, and the names survive that too.
    for (const l of listed) assert.equal(l.reason.message, `manifest unknown: ${l.body}`);
    const spaced = `{ "v": 1, "kind": "copy-image", "source": "docker.io/acme/oauth:3",  "destination": "swr.example/m/oauth:3" }`;
    await dlq.add({ id: 'x', body: spaced, receiveCount: 1, reason: { code: 'X', message: 'y' }, at: new Date().toISOString() });
    assert.ok((await dlq.list()).some((l) => l.body === spaced));
  });

  test('an undecodable body is still masked', async () => {
    const { dlq } = await pair();
    await dlq.add({ id: 'x', body: JSON.stringify({ v: 1, kind: 'copy-image', password: 'Hunter2-s3cr3t' }), receiveCount: 1, reason: { code: 'X', message: 'y' }, at: new Date().toISOString() });
    assert.deepEqual((await dlq.list()).map((l) => l.body), [JSON.stringify({ v: 1, kind: 'copy-image', password: MASK })]);
  });
});

describe('SQS DLQ: one letter per image', () => {
  test('census counts images and duplicates; a replay deletes the duplicates first and moves each image once', async () => {
    const { queue, dlq } = await pair();
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    const letters = [
      { body: body(NAMES[0]!), at: at(1), code: 'SWRM_NETWORK' },
      { body: body(NAMES[0]!, 'rules[1]'), at: at(2), code: 'MANIFEST_UNKNOWN' }, // the same image, planned by another rule
      { body: body(NAMES[0]!), at: at(3), code: 'MANIFEST_UNKNOWN' },
      { body: body(NAMES[1]!), at: at(4), code: 'DENIED' },
      { body: body(NAMES[1]!), at: at(5), code: 'DENIED' },
      { body: body(NAMES[2]!), at: at(6), code: 'MANIFEST_UNKNOWN' },
    ];
    for (const [i, l] of letters.entries()) await dlq.add({ id: `l${i}`, body: l.body, receiveCount: 1, reason: { code: l.code, message: l.code }, at: l.at });
    const census = await dlq.census();
    assert.deepEqual({ letters: census.letters, images: census.images, duplicates: census.duplicates }, { letters: 6, images: 3, duplicates: 3 });
    // By each image's newest letter: the old SWRM_NETWORK letter is not counted.
    assert.deepEqual(census.reasons.map((r) => [r.code, r.count]), [['MANIFEST_UNKNOWN', 2], ['DENIED', 1]]);
    assert.equal((await dlq.list()).length, 6, 'looking consumed nothing');

    const status = await redriveAndWait(dlq, { pollMs: 100 });
    assert.equal(status.status, 'COMPLETED');
    assert.equal(status.duplicates, 3);
    assert.equal(status.moved, 3);
    assert.equal(status.moved + status.duplicates, letters.length, 'each letter counted once');
    assert.deepEqual((await drain(queue)).sort(), [body(NAMES[0]!), body(NAMES[1]!), body(NAMES[2]!)].sort());
    assert.deepEqual(await dlq.list(), []);
  });
});
