import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManifestInvalidError } from '../../lib/errors.js';
import {
  assertDigest,
  digestAlgorithm,
  digestHex,
  digestOf,
  isDigest,
  sha256Digest,
} from '../../lib/oci/digest.js';

const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EMPTY_SHA512 =
  'sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce' +
  '47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';
const hex64 = 'a'.repeat(64);

describe('isDigest', () => {
  const cases: Array<[string, boolean]> = [
    [EMPTY_SHA256, true],
    [EMPTY_SHA512, true],
    [`sha256:${hex64}`, true],
    [`sha256:${'a'.repeat(63)}`, false],
    [`sha256:${'a'.repeat(65)}`, false],
    [`sha256:${'A'.repeat(64)}`, false], // image-spec: lowercase hex only
    [`sha256:${'g'.repeat(64)}`, false],
    [`sha512:${hex64}`, false], // sha512 needs 128
    [`md5:${'a'.repeat(32)}`, false],
    [hex64, false],
    [`:${hex64}`, false],
    ['sha256:', false],
    ['', false],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input.slice(0, 24))}… -> ${expected}`, () => {
      assert.equal(isDigest(input), expected);
    });
  }
});

describe('assertDigest', () => {
  test('returns a valid digest unchanged', () => {
    assert.equal(assertDigest(EMPTY_SHA256), EMPTY_SHA256);
  });
  test('throws ManifestInvalidError naming what was checked', () => {
    assert.throws(
      () => assertDigest('sha256:abc', 'layer digest'),
      (err: unknown) =>
        err instanceof ManifestInvalidError && /layer digest "sha256:abc"/.test(err.message) && /64 hex/.test(err.message),
    );
  });
  test('names an unsupported algorithm', () => {
    assert.throws(() => assertDigest(`md5:${'a'.repeat(32)}`), /unsupported digest algorithm "md5"/);
  });
});

describe('hashing', () => {
  const cases: Array<[string, string, () => string]> = [
    ['sha256 of empty', EMPTY_SHA256, () => sha256Digest(new Uint8Array())],
    [
      'sha256 of "abc"',
      'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      () => sha256Digest(new TextEncoder().encode('abc')),
    ],
    ['digestOf defaults to sha256', EMPTY_SHA256, () => digestOf(new Uint8Array())],
    ['digestOf sha512 of empty', EMPTY_SHA512, () => digestOf(new Uint8Array(), 'sha512')],
  ];
  for (const [name, expected, run] of cases) {
    test(name, () => assert.equal(run(), expected));
  }
});

describe('digest parts', () => {
  test('algorithm and hex of sha256', () => {
    assert.equal(digestAlgorithm(EMPTY_SHA256), 'sha256');
    assert.equal(digestHex(EMPTY_SHA256), EMPTY_SHA256.slice(7));
  });
  test('algorithm and hex of sha512', () => {
    assert.equal(digestAlgorithm(EMPTY_SHA512), 'sha512');
    assert.equal(digestHex(EMPTY_SHA512).length, 128);
  });
  test('refuse an invalid digest', () => {
    assert.throws(() => digestAlgorithm('nope'), ManifestInvalidError);
    assert.throws(() => digestHex('sha256:xyz'), ManifestInvalidError);
  });
});
