// Issue 13 item 1: `tags: { latest: N }` keeps the last N tags in version order, read the way the
// `semver` filter reads them. The old piecewise comparison ranked `v2.1.0` below every bare version
// and `2.0.0-rc1` above `2.0.0`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareTags, explainTags, naturalCompare, selectTags } from '../../lib/plan/tags.js';

const sorted = (tags: string[]) => [...tags].sort(compareTags);

describe('latest N: version order', () => {
  test('a leading v is a version like any other', () => {
    assert.deepEqual(selectTags(['2.0.0', 'v2.1.0'], { latest: 1 }), ['v2.1.0']);
    assert.deepEqual(selectTags(['v1.9.0', '1.10.0', 'v1.10.1', '1.2.0'], { latest: 2 }), ['1.10.0', 'v1.10.1']);
  });
  test('a pre-release ranks below its release, and above the release before', () => {
    assert.deepEqual(selectTags(['2.0.0-rc1', '2.0.0', '1.9.9'], { latest: 1 }), ['2.0.0']);
    assert.deepEqual(sorted(['2.0.0', '2.0.0-rc.2', '2.0.0-rc.10', '1.9.9', '2.0.0-beta']), ['1.9.9', '2.0.0-beta', '2.0.0-rc.2', '2.0.0-rc.10', '2.0.0']);
  });
  test('`1.25` reads as 1.25.0, as the semver filter reads it', () => {
    assert.deepEqual(sorted(['1.25.1', '1.9', '1.25', '1.3.0']), ['1.3.0', '1.9', '1.25', '1.25.1']);
    // Not `1.05.0`: semver forbids leading zeros, so (as for the semver filter) not a version.
    assert.deepEqual(sorted(['1.05', '0.1']), ['1.05', '0.1']);
  });
  test('non-versions rank below every version, in natural order among themselves', () => {
    assert.deepEqual(sorted(['latest', '0.0.1', 'stable', 'edge']), ['edge', 'latest', 'stable', '0.0.1']);
    assert.deepEqual(sorted(['t0999', 't1204', 't0100']), ['t0100', 't0999', 't1204']);
    assert.deepEqual(sorted(['build-10', 'build-9', 'build-100']), ['build-9', 'build-10', 'build-100']);
    assert.deepEqual(selectTags(['t0999', 't1204', 't0100'], { latest: 1 }), ['t1204']);
    assert.deepEqual(selectTags(['build-9', 'build-10'], { latest: 1 }), ['build-10']);
  });
  test('tags naming the same version are ordered by the tag text, whatever the listing order', () => {
    assert.deepEqual(sorted(['v1.2.0', '1.2.0']), ['1.2.0', 'v1.2.0']);
    assert.deepEqual(sorted(['1.2.0', 'v1.2.0']), ['1.2.0', 'v1.2.0']);
    assert.deepEqual(sorted(['1.25.0', '1.25']), ['1.25', '1.25.0']);
    assert.deepEqual(selectTags(['v1.2.0', '1.2.0'], { latest: 1 }), ['v1.2.0']);
    assert.deepEqual(selectTags(['1.2.0', 'v1.2.0'], { latest: 1 }), ['v1.2.0']);
  });
  test('digit runs of any length compare as numbers (no float rounding)', () => {
    assert.ok(naturalCompare('n20240101123456789012', 'n20240101123456789013') < 0);
    assert.ok(naturalCompare('n9', 'n010') < 0);
    assert.ok(naturalCompare('t01', 't1') < 0, 'equal as numbers: the text decides');
    assert.equal(naturalCompare('same', 'same'), 0);
  });
  test('plan --explain names what latest dropped', () => {
    const e = explainTags(['2.0.0', 'v2.1.0', '2.1.0-rc1', 'latest'], { latest: 2 });
    assert.deepEqual(e.kept, ['2.1.0-rc1', 'v2.1.0']);
    assert.deepEqual(e.steps.at(-1)?.dropped, ['2.0.0', 'latest']);
  });
});
