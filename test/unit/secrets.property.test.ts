// Properties of the masking module (issue 6 items 6 and 11): it never throws, masking twice is
// masking once (replay matches a stored letter by its body), and a secret under a secret-looking
// key never survives, wherever it sits in a JSON body.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MASK, maskBody, maskSecretText, maskSecrets } from '../../lib/secrets.js';

const RUNS = { numRuns: 400 };
// Words the patterns look for, so random text often comes close to a secret's shape.
const piece = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('https://', 'u:p@', '@', 'Bearer ', 'basic ', 'password', 'token', '=', ': ', '"', "'", '?', '&', 'sig=', 'X-Amz-Signature=', MASK, 'auth', ' ', '\n'),
);
const text = fc.array(piece, { maxLength: 16 }).map((a) => a.join(''));

describe('masking: properties', () => {
  test('maskSecretText and maskBody are idempotent on any text', () => {
    fc.assert(
      fc.property(fc.oneof(text, fc.string({ unit: 'binary', maxLength: 80 })), (s) => {
        const once = maskSecretText(s);
        assert.equal(maskSecretText(once), once);
        const body = maskBody(s);
        assert.equal(maskBody(body), body);
      }),
      { numRuns: 1000 },
    );
  });

  test('maskBody is idempotent on any JSON and leaves JSON as JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (j) => {
        const body = maskBody(JSON.stringify(j));
        assert.doesNotThrow(() => JSON.parse(body));
        assert.equal(maskBody(body), body);
      }),
      RUNS,
    );
  });

  test('a value under a secret-looking key never survives, at any depth', () => {
    const key = fc.constantFrom('password', 'PASSWD', 'token', 'accessToken', 'Authorization', 'x-amz-signature', 'clientSecret', 'credentials', 'auth');
    const secret = fc.string({ minLength: 6, maxLength: 20, unit: fc.constantFrom(...'abcXYZ019'.split('')) }).map((s) => `Zq${s}`);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 2 }), key, secret, fc.array(fc.constantFrom('a', 'b', 0, 1), { maxLength: 4 }), (base, k, s, path) => {
        // Put {k: s} at a random path inside an arbitrary document.
        let doc: unknown = { [k]: s };
        for (const p of path) doc = typeof p === 'number' ? [base, doc] : { [p]: doc, other: base };
        const body = JSON.stringify(doc);
        assert.ok(!maskBody(body).includes(s), maskBody(body));
        assert.ok(!JSON.stringify(maskSecrets(doc)).includes(s));
      }),
      RUNS,
    );
  });

  test('maskSecrets never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true }), (v) => {
        maskSecrets(v);
      }),
      RUNS,
    );
  });
});
