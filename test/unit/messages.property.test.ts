// Issue 6 item 11: property tests for the queue message decoder. Any body gives a message or an
// InvalidMessageError (a worker never crashes on a message), valid messages round-trip through
// encodeMessage, and neither the error nor the masked DLQ body repeats a secret the body held.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidMessageError } from '../../lib/errors.js';
import { decodeMessage, encodeMessage, type QueueMessageBody } from '../../lib/queue/messages.js';
import { maskBody } from '../../lib/secrets.js';

const RUNS = { numRuns: 400 };

const ref = fc.constantFrom('r.io/a/b:1', 'docker.io/library/alpine:3', `r.io/a@sha256:${'a'.repeat(64)}`, 'x');
const platform = fc.constantFrom('linux/amd64', 'linux/arm64/v8', 'windows/amd64');
const copyImage = fc.record(
  {
    v: fc.constant(1 as const),
    kind: fc.constant('copy-image' as const),
    source: ref,
    destination: ref,
    platforms: fc.array(platform, { maxLength: 2 }),
    origin: fc.string({ maxLength: 30 }),
  },
  { requiredKeys: ['v', 'kind', 'source', 'destination'], noNullPrototype: true },
);
const expandRepository = fc.record(
  {
    v: fc.constant(1 as const),
    kind: fc.constant('expand-repository' as const),
    source: ref,
    destinations: fc.array(ref, { minLength: 1, maxLength: 3 }),
    filter: fc.record({ include: fc.array(fc.string({ maxLength: 5 })), exclude: fc.array(fc.string({ maxLength: 5 })), latest: fc.integer({ min: 1, max: 9 }) }, { requiredKeys: [], noNullPrototype: true }),
    platforms: fc.array(platform, { maxLength: 2 }),
    origin: fc.string({ maxLength: 30 }),
  },
  { requiredKeys: ['v', 'kind', 'source', 'destinations'], noNullPrototype: true },
);
const validMessage: fc.Arbitrary<QueueMessageBody> = fc.oneof(copyImage, expandRepository);

/** A valid message with one field replaced by anything, or an extra field added. */
const nearlyValid = fc
  .tuple(validMessage, fc.constantFrom('v', 'kind', 'source', 'destination', 'destinations', 'platforms', 'filter', 'origin', 'extra', '__proto__'), fc.jsonValue({ maxDepth: 2 }))
  .map(([m, key, value]) => JSON.stringify({ ...m, [key]: value }));
const body = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc.jsonValue({ maxDepth: 3 }).map((j) => JSON.stringify(j)),
  nearlyValid,
  validMessage.map(encodeMessage),
);

function messageOrTypedError(b: string): QueueMessageBody | undefined {
  try {
    return decodeMessage(b);
  } catch (err) {
    assert.ok(err instanceof InvalidMessageError, `${JSON.stringify(b)} threw ${String(err)}`);
    assert.equal(err.code, 'SWRM_INVALID_MESSAGE');
    assert.doesNotMatch(err.message, /[\n\r\u2028\u2029]/, 'one line');
    return undefined;
  }
}

describe('message decoder: properties', () => {
  test('any body gives a message or an InvalidMessageError', () => {
    fc.assert(
      fc.property(body, (b) => {
        const m = messageOrTypedError(b);
        if (m) assert.deepEqual(decodeMessage(encodeMessage(m)), m, 'a decoded message re-encodes to itself');
      }),
      { numRuns: 800 },
    );
  });

  test('decode(encode(m)) == m for valid messages', () => {
    fc.assert(
      fc.property(validMessage, (m) => {
        assert.deepEqual(decodeMessage(encodeMessage(m)), m);
      }),
      RUNS,
    );
  });

  test('a secret in a bad body appears neither in the error nor in the masked DLQ body', () => {
    const secret = fc.string({ minLength: 8, maxLength: 24, unit: fc.constantFrom(...'abcdefXYZ0189-_'.split('')) }).map((s) => `S3cr3t-${s}`);
    const key = fc.constantFrom('password', 'Password', 'token', 'X-Amz-Signature', 'authorization', 'clientSecret', 'registryAuth');
    const shape = fc.constantFrom('json', 'nested', 'text', 'cut');
    fc.assert(
      fc.property(validMessage, key, secret, shape, (m, k, s, how) => {
        const b =
          how === 'json' ? JSON.stringify({ ...m, [k]: s })
          : how === 'nested' ? JSON.stringify({ ...m, extra: [{ [k]: s }] })
          : how === 'text' ? `${k}=${s} not json`
          : JSON.stringify({ ...m, [k]: s }).slice(0, -2);
        try {
          decodeMessage(b);
          assert.fail('an unknown key must not decode');
        } catch (err) {
          assert.ok(err instanceof InvalidMessageError);
          assert.ok(!err.message.includes(s), err.message);
        }
        const masked = maskBody(b);
        assert.ok(!masked.includes(s), masked);
        assert.equal(maskBody(masked), masked, 'masking is idempotent, so replay matches the stored body');
      }),
      RUNS,
    );
  });

  // Counterexamples the properties found, kept as plain regression tests.
  test('found: a body that is a newline gave a two-line error', () => {
    assert.throws(() => decodeMessage('\n'), (e: Error) => e instanceof InvalidMessageError && e.message === 'message is not JSON: \\n');
  });
  test('found: a camel-case `registryAuth` key was not masked in the DLQ body', () => {
    const b = JSON.stringify({ v: 1, kind: 'copy-image', source: 'a', destination: 'b', registryAuth: 'S3cr3t-aaaaaaaa' });
    assert.equal(maskBody(b), JSON.stringify({ v: 1, kind: 'copy-image', source: 'a', destination: 'b', registryAuth: '[redacted]' }));
  });
});
