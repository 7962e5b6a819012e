import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidReferenceError } from '../../lib/errors.js';
import {
  type ImageReference,
  formatReference,
  manifestTarget,
  parseReference,
  parseRepositoryReference,
  registryEndpointHost,
} from '../../lib/oci/reference.js';

const D = 'sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1';

describe('parseReference normalisation', () => {
  const cases: Array<[string, ImageReference]> = [
    ['alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['alpine:3.20', { registry: 'docker.io', repository: 'library/alpine', tag: '3.20' }],
    ['library/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['user/app', { registry: 'docker.io', repository: 'user/app', tag: 'latest' }],
    ['docker.io/alpine', { registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }],
    ['docker.io/user/app:v1', { registry: 'docker.io', repository: 'user/app', tag: 'v1' }],
    ['index.docker.io/x', { registry: 'docker.io', repository: 'library/x', tag: 'latest' }],
    ['registry-1.docker.io/user/x', { registry: 'docker.io', repository: 'user/x', tag: 'latest' }],
    ['localhost/a', { registry: 'localhost', repository: 'a', tag: 'latest' }],
    ['localhost:5000/a/b:t', { registry: 'localhost:5000', repository: 'a/b', tag: 't' }],
    ['127.0.0.1:5000/a', { registry: '127.0.0.1:5000', repository: 'a', tag: 'latest' }],
    ['[::1]:5000/a', { registry: '[::1]:5000', repository: 'a', tag: 'latest' }],
    ['host/a/b/c', { registry: 'docker.io', repository: 'host/a/b/c', tag: 'latest' }],
    ['host.example/a/b/c', { registry: 'host.example', repository: 'a/b/c', tag: 'latest' }],
    [
      'swr.cn-north-4.myhuaweicloud.com/org/app:1.0.0-rc_1',
      { registry: 'swr.cn-north-4.myhuaweicloud.com', repository: 'org/app', tag: '1.0.0-rc_1' },
    ],
    ['quay.io/a-b__c.d/e--f:T_1', { registry: 'quay.io', repository: 'a-b__c.d/e--f', tag: 'T_1' }],
    [`alpine@${D}`, { registry: 'docker.io', repository: 'library/alpine', digest: D }],
    [`ghcr.io/o/r:v2@${D}`, { registry: 'ghcr.io', repository: 'o/r', tag: 'v2', digest: D }],
    [`localhost:5000/a@${D}`, { registry: 'localhost:5000', repository: 'a', digest: D }],
  ];
  for (const [input, expected] of cases) {
    test(input, () => assert.deepEqual(parseReference(input), expected));
  }
});

describe('parseReference rejects', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['uppercase repository', 'User/App', /must be lowercase/],
    ['uppercase after registry', 'ghcr.io/Org/app', /must be lowercase/],
    ['empty', '', /empty/],
    ['short digest', 'alpine@sha256:abc', /64 hex characters, got 3/],
    ['long digest', `alpine@${D}0`, /64 hex characters, got 65/],
    ['unknown digest algorithm', `alpine@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/],
    ['empty digest', 'alpine@', /digest after "@" is empty/],
    ['trailing colon', 'alpine:', /tag after ":" is empty/],
    ['too-long tag', `alpine:${'a'.repeat(129)}`, /at most 128/],
    ['tag starting with "."', 'alpine:.x', /tag ".x"/],
    ['double slash', 'ghcr.io/a//b', /empty component/],
    ['trailing slash', 'ghcr.io/a/', /empty component/],
    ['leading separator', 'ghcr.io/-a', /path component "-a"/],
    ['double dot separator', 'ghcr.io/a..b', /path component "a..b"/],
    ['bad host', 'bad_host.io:5000/a', /registry "bad_host.io:5000"/],
    ['name too long', `ghcr.io/${'a'.repeat(250)}`, /longer than 255/],
    ['whitespace', 'alpine latest', /path component/],
  ];
  for (const [name, input, reason] of cases) {
    test(name, () => {
      assert.throws(
        () => parseReference(input),
        (err: unknown) => err instanceof InvalidReferenceError && err.input === input && reason.test(err.message),
      );
    });
  }
});

describe('parseRepositoryReference', () => {
  test('keeps the tag absent so source tags are kept', () => {
    assert.deepEqual(parseRepositoryReference('swr.cn-north-4.myhuaweicloud.com/org/app'), {
      registry: 'swr.cn-north-4.myhuaweicloud.com',
      repository: 'org/app',
    });
  });
  test('still normalises Docker Hub names', () => {
    assert.deepEqual(parseRepositoryReference('alpine'), { registry: 'docker.io', repository: 'library/alpine' });
  });
  test('accepts an explicit tag', () => {
    assert.equal(parseRepositoryReference('host.io/a:v1').tag, 'v1');
  });
  test('applies the same grammar', () => {
    assert.throws(() => parseRepositoryReference('host.io/A'), InvalidReferenceError);
  });
});

describe('formatReference', () => {
  const cases: Array<[ImageReference, string]> = [
    [{ registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }, 'docker.io/library/alpine:latest'],
    [{ registry: 'localhost:5000', repository: 'a/b' }, 'localhost:5000/a/b'],
    [{ registry: 'ghcr.io', repository: 'o/r', digest: D }, `ghcr.io/o/r@${D}`],
    [{ registry: 'ghcr.io', repository: 'o/r', tag: 'v2', digest: D }, `ghcr.io/o/r:v2@${D}`],
  ];
  for (const [ref, expected] of cases) {
    test(expected, () => {
      assert.equal(formatReference(ref), expected);
      // What we print must parse back to the same reference.
      assert.deepEqual(parseRepositoryReference(expected), ref);
    });
  }
});

describe('manifestTarget', () => {
  test('tag when there is no digest', () => {
    assert.equal(manifestTarget({ registry: 'r.io', repository: 'a', tag: 't' }), 't');
  });
  test('digest wins over tag', () => {
    assert.equal(manifestTarget({ registry: 'r.io', repository: 'a', tag: 't', digest: D }), D);
  });
  test('throws without either', () => {
    assert.throws(() => manifestTarget({ registry: 'r.io', repository: 'a' }), InvalidReferenceError);
  });
});

describe('registryEndpointHost', () => {
  const cases: Array<[string, string]> = [
    ['docker.io', 'registry-1.docker.io'],
    ['ghcr.io', 'ghcr.io'],
    ['localhost:5000', 'localhost:5000'],
  ];
  for (const [input, expected] of cases) {
    test(input, () => assert.equal(registryEndpointHost(input), expected));
  }
});
