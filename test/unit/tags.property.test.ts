// Issue 13 item 1: property tests for the order `latest: N` uses (compareTags). It is a total
// order (antisymmetric, transitive, 0 only for equal tags, so a sort does not depend on the listing
// order), it agrees with semver.compare on every pair of versions, and every version ranks above
// every non-version.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import semver from 'semver';
import { compareTags, selectTags, tagVersion } from '../../lib/plan/tags.js';

const RUNS = { numRuns: 400 };
const sign = (n: number) => Math.sign(n);

const num = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 100_000 }));
const pre = fc.constantFrom('', '-rc1', '-rc.2', '-rc.10', '-alpha', '-beta.1', '-0', '-1');
/** Versions as tags spell them: with or without `v`, with or without the patch. */
const versionTag = fc
  .tuple(fc.constantFrom('', 'v', 'V'), num, num, fc.option(num, { nil: undefined }), pre)
  .map(([v, a, b, c, p]) => (c === undefined ? `${v}${a}.${b}` : `${v}${a}.${b}.${c}${p}`));
const TAG_CHARS = fc.constantFrom(...'abv0129.-_'.split(''), '10', '09', 'rc', 'latest');
const looseTag = fc
  .tuple(fc.constantFrom(...'abvt0129_'.split('')), fc.array(TAG_CHARS, { maxLength: 8 }))
  .map(([first, rest]) => first + rest.join(''));
const tag = fc.oneof(versionTag, looseTag);

describe('compareTags is a total order consistent with semver', () => {
  test('antisymmetric, and 0 only for the same tag', () => {
    fc.assert(
      fc.property(tag, tag, (a, b) => {
        assert.equal(sign(compareTags(a, b)) + sign(compareTags(b, a)), 0);
        assert.equal(compareTags(a, b) === 0, a === b);
      }),
      RUNS,
    );
  });
  test('transitive', () => {
    fc.assert(
      fc.property(tag, tag, tag, (a, b, c) => {
        const [x, y, z] = [a, b, c].sort(compareTags);
        assert.ok(compareTags(x!, z!) <= 0, `${x} <= ${y} <= ${z} but not ${x} <= ${z}`);
      }),
      RUNS,
    );
  });
  test('the same tags keep the same latest N, in whatever order they are listed', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(tag, { maxLength: 12 }).chain((tags) => fc.tuple(fc.constant(tags), fc.shuffledSubarray(tags, { minLength: tags.length }))),
        fc.integer({ min: 1, max: 5 }),
        ([tags, shuffled], n) => assert.deepEqual(selectTags(shuffled, { latest: n }), selectTags(tags, { latest: n })),
      ),
      RUNS,
    );
  });
  test('agrees with semver.compare wherever semver tells two versions apart', () => {
    fc.assert(
      fc.property(versionTag, versionTag, (a, b) => {
        const c = semver.compare(tagVersion(a)!, tagVersion(b)!);
        if (c !== 0) assert.equal(sign(compareTags(a, b)), c);
      }),
      RUNS,
    );
  });
  test('every version ranks above every non-version', () => {
    fc.assert(
      fc.property(tag, tag, (a, b) => {
        const [va, vb] = [tagVersion(a), tagVersion(b)];
        if (va !== undefined && vb === undefined) assert.ok(compareTags(a, b) > 0);
        if (va === undefined && vb !== undefined) assert.ok(compareTags(a, b) < 0);
      }),
      RUNS,
    );
  });
});
