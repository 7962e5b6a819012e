// Remote text is stripped of control characters before it reaches a terminal, log, report or DLQ.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isPrintable, remoteText } from '../../lib/text.js';
import { parseErrorEntries } from '../../lib/registry/http/response.js';
import { isValidListEntry, listEntries } from '../../lib/registry/list/listing.js';
import { PageGuard } from '../../lib/registry/list/link.js';
import { PaginationError } from '../../lib/errors.js';
import { parseManifest, platformString } from '../../lib/oci/manifest.js';

describe('remoteText', () => {
  test('escape sequences, newlines, NUL, DEL and bidi overrides are removed', () => {
    assert.equal(remoteText('bad\u001b[2J\u001b]0;pwned\u0007 thing\r\nINFO fake log line\u0000\u007f'), 'bad [2J ]0;pwned thing INFO fake log line');
    assert.equal(remoteText('abc\u202edcba\u2066x\u2028y'), 'abc dcba x y');
    assert.equal(remoteText('\u0085c1 control\u009b'), 'c1 control');
  });
  test('long text is cut with an ellipsis', () => {
    assert.equal(remoteText('x'.repeat(1000), 10), `${'x'.repeat(9)}…`);
  });
  test('property: the output is always printable, one line, and bounded', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (s) => {
      const out = remoteText(s, 100);
      return isPrintable(out) && !/[\r\n]/.test(out) && out.length <= 100;
    }));
  });
  test('platform strings from a remote index are stripped (they reach errors and reports)', () => {
    assert.equal(platformString({ os: 'linux\u001b[2J', architecture: 'amd64\n', variant: 'v8' }), 'linux [2J/amd64 /v8');
    assert.equal(platformString({ os: 'linux', architecture: 'arm64' }), 'linux/arm64');
  });
  test('a bad manifest is refused with its media type and field path stripped', () => {
    const bad = (json: unknown) => () => parseManifest(Buffer.from(JSON.stringify(json)));
    assert.throws(bad({ schemaVersion: 2, mediaType: 'application/x\u001b[2J\n' }), (e: unknown) =>
      /unsupported manifest media type "application\/x \[2J"/.test(String(e)) && !/[\u0000-\u001f]/.test(String(e)));
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [], annotations: { 'k\u001b]0;x\u0007': 5 } };
    assert.throws(bad(index), (e: unknown) => /manifest is invalid at/.test(String(e)) && !/[\u0000-\u001f]/.test(String(e)));
  });
  test("a registry's error message and code are stripped", () => {
    const [e] = parseErrorEntries(JSON.stringify({ errors: [{ code: 'DENIED\u001b[31m', message: 'no\nway\u001b[0m' }] }));
    assert.equal(e?.code, 'DENIED [31m');
    assert.equal(e?.message, 'no way [0m');
  });
});

describe('listing pages', () => {
  test('entries that are not valid tags or repository names are dropped', () => {
    const page = listEntries(Buffer.from(JSON.stringify({ tags: ['v1', 'bad\u001b[2J', 'x'.repeat(129), 7, '-lead', 'ok_1.2-rc'] })), 'tags', 'tag list a');
    assert.deepEqual(page.kept, ['v1', 'ok_1.2-rc']);
    assert.equal(page.dropped, 4);
    assert.deepEqual([page.samples[0], page.samples[2], page.samples[3]], ['bad [2J', '7', '-lead']);
    assert.ok(page.samples[1]!.length <= 81, 'a long entry is cut in the warning');
    assert.equal(isValidListEntry('repositories', 'library/alpine'), true);
    assert.equal(isValidListEntry('repositories', 'Library/alpine'), false);
    assert.equal(isValidListEntry('repositories', 'a//b'), false);
  });
  test('null tags is an empty list; a non-list is a protocol error', () => {
    assert.deepEqual(listEntries(Buffer.from('{"name":"a","tags":null}'), 'tags', 'tag list a'), { kept: [], dropped: 0, samples: [] });
    assert.throws(() => listEntries(Buffer.from('{"tags":"v1"}'), 'tags', 'tag list a'), /"tags" is not a list/);
  });
});

describe('PageGuard', () => {
  test('a page seen twice is a Link loop', () => {
    const g = new PageGuard('reg.example', 'tag list a');
    g.visit(new URL('https://reg.example/v2/a/tags/list?n=2'));
    g.visit(new URL('https://reg.example/v2/a/tags/list?last=b&n=2'));
    assert.throws(() => g.visit(new URL('https://reg.example/v2/a/tags/list?n=2')), (e: unknown) =>
      e instanceof PaginationError && e.code === 'SWRM_PAGINATION' && /reg\.example: the Link header loops back to page 1 after 2 pages/.test(e.message));
  });
  test('the page cap', () => {
    const g = new PageGuard('reg.example', 'catalog', 3);
    for (let i = 0; i < 3; i++) g.visit(new URL(`https://reg.example/v2/_catalog?last=${i}`));
    assert.throws(() => g.visit(new URL('https://reg.example/v2/_catalog?last=9')), /catalog on reg\.example: more than 3 pages/);
  });
});
