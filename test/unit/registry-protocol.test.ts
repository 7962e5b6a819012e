import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges, pickChallenge, parseScope, repositoryScope } from '../../lib/registry/auth/challenge.js';
import { redactUrl, resolveLocation, uploadCompleteUrl } from '../../lib/registry/http/location.js';
import { nextLink } from '../../lib/registry/list/link.js';
import { parseErrorEntries } from '../../lib/registry/http/response.js';
import { ProtocolError } from '../../lib/errors.js';

describe('WWW-Authenticate challenges', () => {
  const cases: [string, string, Record<string, string>][] = [
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      'bearer',
      { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' },
    ],
    ['Basic realm="Registry Realm"', 'basic', { realm: 'Registry Realm' }],
    ['basic realm=unquoted', 'basic', { realm: 'unquoted' }],
    [
      'Bearer realm="https://swr.cn-north-4.myhuaweicloud.com/swr/auth/v2/registry/auth/",service="dockyard",scope="repository:ns/repo:"',
      'bearer',
      { realm: 'https://swr.cn-north-4.myhuaweicloud.com/swr/auth/v2/registry/auth/', service: 'dockyard', scope: 'repository:ns/repo:' },
    ],
    ['Bearer realm="a\\"b", error="insufficient_scope"', 'bearer', { realm: 'a"b', error: 'insufficient_scope' }],
  ];
  for (const [header, scheme, params] of cases) {
    test(header, () => {
      const [c] = parseChallenges(header);
      assert.equal(c?.scheme, scheme);
      assert.deepEqual(c?.params, params);
    });
  }
  test('prefers Bearer over Basic when both are offered', () => {
    const picked = pickChallenge(parseChallenges(['Basic realm="x"', 'Bearer realm="https://t/token",service="s"']));
    assert.equal(picked?.scheme, 'bearer');
    assert.equal(picked?.params.service, 's');
  });
  test('two challenges in one header value', () => {
    const all = parseChallenges('Basic realm="x", Bearer realm="y",service="z"');
    assert.deepEqual(
      all.map((c) => c.scheme),
      ['basic', 'bearer'],
    );
    assert.equal(all[1]?.params.service, 'z');
  });
  test('no header, no challenge', () => {
    assert.deepEqual(parseChallenges(undefined), []);
    assert.equal(pickChallenge([]), undefined);
  });
});

describe('scopes', () => {
  test('a name with host:port is split on the last colon', () => {
    assert.deepEqual(parseScope('repository:127.0.0.1:5000/a/b:pull,push'), {
      type: 'repository',
      name: '127.0.0.1:5000/a/b',
      actions: ['pull', 'push'],
    });
  });
  test('SWR empty action list parses to no actions', () => {
    assert.deepEqual(parseScope('repository:ns/repo:')?.actions, []);
  });
  test('format', () => {
    assert.equal(repositoryScope('a/b', ['pull', 'push']), 'repository:a/b:pull,push');
    assert.equal(repositoryScope('catalog', ['*'], 'registry'), 'registry:catalog:*');
  });
});

describe('upload Location', () => {
  const req = new URL('https://reg.example:5000/v2/a/b/blobs/uploads/');
  const cases: [string, string][] = [
    ['/v2/a/b/blobs/uploads/uuid?_state=xyz', 'https://reg.example:5000/v2/a/b/blobs/uploads/uuid?_state=xyz&digest=sha256%3Aabc'],
    ['uuid-rel', 'https://reg.example:5000/v2/a/b/blobs/uploads/uuid-rel?digest=sha256%3Aabc'],
    ['https://s3.example/upload?X-Sig=1&b=2', 'https://s3.example/upload?X-Sig=1&b=2&digest=sha256%3Aabc'],
  ];
  for (const [location, expected] of cases) {
    test(`${location} is resolved and its query kept`, () => {
      assert.equal(uploadCompleteUrl(resolveLocation(location, req), 'sha256:abc').toString(), expected);
    });
  }
  test('missing Location is a protocol error', () => {
    assert.throws(() => resolveLocation(undefined, req), ProtocolError);
  });
  test('redaction drops the query', () => {
    assert.equal(redactUrl('https://s3.example/b/k?X-Amz-Signature=secret'), 'https://s3.example/b/k?<redacted>');
    assert.equal(redactUrl('https://r/v2/'), 'https://r/v2/');
  });
});

describe('Link pagination', () => {
  const base = new URL('https://r.example/v2/a/tags/list?n=2');
  test('relative next link', () => {
    assert.equal(nextLink('</v2/a/tags/list?last=b&n=2>; rel="next"', base)?.toString(), 'https://r.example/v2/a/tags/list?last=b&n=2');
  });
  test('no next', () => {
    assert.equal(nextLink(undefined, base), undefined);
    assert.equal(nextLink('</x>; rel="prev"', base), undefined);
  });
  test('several links', () => {
    assert.equal(nextLink('</p>; rel="prev", </n?last=c>; rel=next', base)?.pathname, '/n');
  });
});

describe('registry error bodies', () => {
  test('distribution errors[]', () => {
    const e = parseErrorEntries('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}');
    assert.equal(e[0]?.code, 'MANIFEST_UNKNOWN');
    assert.equal(e[0]?.message, 'manifest unknown');
  });
  test('SWR management API array', () => {
    const e = parseErrorEntries('[{"errorCode":"SVCSTG.SWR.4090060","errorMessage":"exists"}]');
    assert.equal(e[0]?.code, 'SVCSTG.SWR.4090060');
  });
  test('HTML or empty bodies give no entries', () => {
    assert.deepEqual(parseErrorEntries('<html>bad gateway</html>'), []);
    assert.deepEqual(parseErrorEntries(''), []);
  });
});
