// Issue 6 item 11: property tests for the reference parser. Any string gives a reference or an
// InvalidReferenceError (never a TypeError or a hang), and references in normal form round-trip:
// parse(format(x)) == x.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidReferenceError } from '../../lib/errors.js';
import { formatReference, parseReference, parseRepositoryReference, type ImageReference } from '../../lib/oci/reference.js';

const RUNS = { numRuns: 400 };

// Characters that mean something to the grammar, so random strings hit its branches, not only
// the "invalid character" one.
const REF_CHARS = fc.constantFrom(...'abcxyz019ABZ-_.:/@[]'.split(''), 'sha256:', 'sha512:', 'localhost', 'docker.io/', 'library/', '__', '--');
const referenceish = fc.array(REF_CHARS, { maxLength: 40 }).map((parts) => parts.join(''));
const anyInput = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 60 }), referenceish, fc.string({ unit: 'grapheme', maxLength: 60 }));

const lower = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'.split(''));
const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.split(''));
const word = (chars: fc.Arbitrary<string>, max: number) => fc.array(chars, { minLength: 1, maxLength: max }).map((a) => a.join(''));

/** regexp.go pathComponent: alphanumerics joined by ".", "_", "__" or runs of "-". */
const pathComponent = fc
  .tuple(word(lower, 6), fc.array(fc.tuple(fc.constantFrom('.', '_', '__', '-', '---'), word(lower, 6)), { maxLength: 2 }))
  .map(([first, rest]) => first + rest.map(([sep, w]) => sep + w).join(''));
/** A host docker recognises as one: a '.' or a port, or `localhost`; case kept as typed. */
const domainComponent = fc
  .tuple(word(alnum, 6), fc.option(fc.tuple(fc.constantFrom('-', '--'), word(alnum, 4)), { nil: undefined }))
  .map(([a, b]) => (b ? a + b[0] + b[1] : a));
const port = fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`);
const host = fc.oneof(
  fc.tuple(domainComponent, fc.array(domainComponent, { minLength: 1, maxLength: 2 }), fc.option(port, { nil: '' })).map(([a, rest, p]) => [a, ...rest].join('.') + p),
  fc.tuple(domainComponent, port).map(([a, p]) => a + p),
  fc.constant('localhost'),
  fc.constantFrom('[::1]:5000', '[fe80::1]'),
);
const hex = (n: number) => fc.array(fc.constantFrom(...'0123456789abcdef'.split('')), { minLength: n, maxLength: n }).map((a) => a.join(''));
const digest = fc.oneof(hex(64).map((h) => `sha256:${h}`), hex(128).map((h) => `sha512:${h}`));
const tag = fc
  .tuple(fc.constantFrom(...'aZ9_'.split('')), fc.array(fc.constantFrom(...'aZ9_.-'.split('')), { maxLength: 127 }))
  .map(([a, rest]) => a + rest.join(''));

/** References in normal form: what the parser returns. */
const normalReference: fc.Arbitrary<ImageReference> = fc
  .record({
    registry: fc.oneof(host, fc.constant('docker.io')),
    path: fc.array(pathComponent, { minLength: 1, maxLength: 4 }),
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined }),
  })
  .map(({ registry, path, tag, digest }) => {
    // Docker Hub's one-component names live under library/ (normalize.go).
    const repository = registry === 'docker.io' && path.length === 1 ? `library/${path[0]}` : path.join('/');
    const ref: ImageReference = { registry, repository };
    if (tag !== undefined) ref.tag = tag;
    if (digest !== undefined) ref.digest = digest;
    return ref;
  })
  .filter((r) => `${r.registry}/${r.repository}`.length <= 255);

function valueOrTypedError(parse: (s: string) => ImageReference, input: string): ImageReference | undefined {
  try {
    return parse(input);
  } catch (err) {
    assert.ok(err instanceof InvalidReferenceError, `${JSON.stringify(input)} threw ${String(err)}`);
    assert.equal(err.code, 'SWRM_INVALID_REFERENCE');
    assert.doesNotMatch(err.message, /[\n\r\u2028\u2029]/, 'one line');
    assert.ok(err.message.length < 2000, 'a bounded message');
    return undefined;
  }
}

describe('reference parser: properties', () => {
  test('any string gives a reference or an InvalidReferenceError', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        for (const parse of [parseReference, parseRepositoryReference]) {
          const ref = valueOrTypedError(parse, input);
          if (ref) {
            assert.ok(ref.registry.length > 0 && ref.repository.length > 0);
            // Whatever parses is in normal form: formatting and parsing again gives it back.
            assert.deepEqual(parse(formatReference(ref)), ref);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('parse(format(x)) == x for references in normal form', () => {
    fc.assert(
      fc.property(normalReference, (ref) => {
        assert.deepEqual(parseRepositoryReference(formatReference(ref)), ref);
        const withTag = ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
        assert.deepEqual(parseReference(formatReference(ref)), withTag);
      }),
      RUNS,
    );
  });

  // Counterexamples the properties found, kept as plain regression tests.
  test('found: a newline in the input used to split the error over lines', () => {
    assert.throws(() => parseReference('\n'), (e: Error) => e instanceof InvalidReferenceError && e.message === 'invalid image reference "\\n": path component "\\n" may contain only a-z, 0-9 and single separators ".", "_", "__" or "-"');
    assert.throws(() => parseReference('alpine:v1\r\nX-Evil: 1'), (e: Error) => !/[\r\n]/.test(e.message));
  });
  test('found: a megabyte of input gave a megabyte of message', () => {
    assert.throws(() => parseReference(`${'a'.repeat(1 << 20)}!`), (e: Error) => e.message.length < 2000);
  });

  test('long inputs are refused quickly (no regex backtracking blow-up)', () => {
    fc.assert(
      fc.property(fc.constantFrom('a', '-', 'a-', 'a.', '._', 'A'), fc.integer({ min: 200, max: 5000 }), fc.constantFrom('', '!', '/', ':', '@'), (unit, n, end) => {
        const started = performance.now();
        valueOrTypedError(parseReference, `${unit.repeat(n)}${end}`);
        valueOrTypedError(parseReference, `h.io/${unit.repeat(n)}${end}`);
        assert.ok(performance.now() - started < 200, `${unit} x ${n} took too long`);
      }),
      { numRuns: 100 },
    );
  });
});
