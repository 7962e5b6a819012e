// SDK-HMAC-SHA256 (Huawei API signing guide): the published vector and the canonical-form rules
// the gateway applies (sorted encoded query, trailing slash, trimmed lower-case headers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  canonicalQuery, canonicalRequest, canonicalUri, parseAuthorization, parseSdkDate, sdkDate, signRequest, signature, stringToSign,
} from '../../lib/vendors/swr/signer.js';

const EMPTY = createHash('sha256').update('').digest('hex');

test('the published test vector signs to 5a2ce64c...', () => {
  const date = '20060102T150405Z';
  const c = canonicalRequest({ method: 'GET', url: 'https://example.huaweicloud.com/path?limit=1', headers: { 'X-Sdk-Date': date } }, ['x-sdk-date']);
  assert.equal(c, `GET\n/path/\nlimit=1\nx-sdk-date:${date}\n\nx-sdk-date\n${EMPTY}`);
  assert.equal(signature('SecretKey', stringToSign(c, date)), '5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624');
});

test('signRequest with an injected clock gives the vector Authorization header', () => {
  const h = signRequest({ method: 'GET', url: '/path?limit=1', headers: {} }, { ak: 'AccessKey', sk: 'SecretKey' }, new Date(Date.UTC(2006, 0, 2, 15, 4, 5)));
  assert.equal(h['X-Sdk-Date'], '20060102T150405Z');
  assert.equal(h.Authorization, 'SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624');
  assert.deepEqual(parseAuthorization(h.Authorization!), { access: 'AccessKey', signedHeaders: ['x-sdk-date'], signature: '5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624' });
});

test('query parameters are sorted by name then value and RFC 3986 encoded', () => {
  assert.equal(canonicalQuery('offset=0&limit=10&namespace=a%20b'), 'limit=10&namespace=a%20b&offset=0');
  assert.equal(canonicalQuery('b=2&a=2&a=1'), 'a=1&a=2&b=2');
  assert.equal(canonicalQuery("x=a+b&y=*!'()~"), 'x=a%20b&y=%2A%21%27%28%29~');
  assert.equal(canonicalQuery('flag'), 'flag=');
  assert.equal(canonicalQuery(''), '');
});

test('the URI always ends in a slash and its segments are encoded', () => {
  assert.equal(canonicalUri('/v2/manage/namespaces'), '/v2/manage/namespaces/');
  assert.equal(canonicalUri('/v2/manage/namespaces/'), '/v2/manage/namespaces/');
  assert.equal(canonicalUri('/'), '/');
  assert.equal(canonicalUri('/v2/manage/namespaces/ns/repos/a$b'), '/v2/manage/namespaces/ns/repos/a%24b/');
});

test('headers are lower-cased, values trimmed, and body hashed', () => {
  const c = canonicalRequest({ method: 'post', url: '/v2/manage/namespaces', headers: { 'Content-Type': '  application/json ', 'X-Sdk-Date': '20260101T000000Z' }, body: '{"namespace":"a"}' }, ['content-type', 'x-sdk-date']);
  const lines = c.split('\n');
  assert.equal(lines[0], 'POST');
  assert.equal(lines[3], 'content-type:application/json');
  assert.equal(lines[4], 'x-sdk-date:20260101T000000Z');
  assert.equal(lines[6], 'content-type;x-sdk-date');
  assert.equal(lines[7], createHash('sha256').update('{"namespace":"a"}').digest('hex'));
});

test('a changed body, header or query changes the signature', () => {
  const key = { ak: 'a', sk: 's' }, at = new Date(0);
  const base = signRequest({ method: 'GET', url: '/x?a=1', headers: { host: 'h' } }, key, at).Authorization;
  assert.notEqual(signRequest({ method: 'GET', url: '/x?a=2', headers: { host: 'h' } }, key, at).Authorization, base);
  assert.notEqual(signRequest({ method: 'GET', url: '/x?a=1', headers: { host: 'g' } }, key, at).Authorization, base);
  assert.notEqual(signRequest({ method: 'GET', url: '/x?a=1', headers: { host: 'h' }, body: 'b' }, key, at).Authorization, base);
});

test('X-Sdk-Date round-trips and malformed dates parse to undefined', () => {
  const d = new Date(Date.UTC(2026, 11, 1, 21, 22, 33));
  assert.equal(sdkDate(d), '20261201T212233Z');
  assert.equal(parseSdkDate('20261201T212233Z'), d.getTime());
  assert.equal(parseSdkDate('2026-12-01T21:22:33Z'), undefined);
});
