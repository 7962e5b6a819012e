// SWR management API error bodies: both shapes, each mapped code, retry decision via isRetryable().
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSwrErrorBody, swrApiError, swrErrorKind } from '../../lib/vendors/swr/errors.js';
import { ErrorCode, isRetryable } from '../../lib/errors.js';

const H = 'swr-api.cn-north-4.myhuaweicloud.com';
const body = (code: string) => JSON.stringify([{ errorCode: code, errorMessage: 'msg' }]);

describe('parseSwrErrorBody', () => {
  test('array shape', () => assert.deepEqual(parseSwrErrorBody(body('SVCSTG.SWR.4090060')), [{ code: 'SVCSTG.SWR.4090060', message: 'msg' }]));
  test('errors[] shape', () => assert.deepEqual(parseSwrErrorBody({ errors: [{ errorCode: 'SVCSTG.SWR.4000097' }] }), [{ code: 'SVCSTG.SWR.4000097', message: '' }]));
  test('API gateway shape', () => assert.deepEqual(parseSwrErrorBody('{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information"}'), [{ code: 'APIGW.0301', message: 'Incorrect IAM authentication information' }]));
  test('garbage yields nothing', () => {
    assert.deepEqual(parseSwrErrorBody('<html>'), []);
    assert.deepEqual(parseSwrErrorBody(null), []);
    assert.deepEqual(parseSwrErrorBody([1, {}]), []);
  });
});

describe('codes -> kinds -> retry', () => {
  const table: [number, string, string, boolean, RegExp][] = [
    [500, 'SVCSTG.SWR.4090023', 'busy', true, /busy/],
    [403, 'SVCSTG.SWR.4031032', 'busy', true, /throttling/],
    [403, 'SVCSTG.SWR.4031042', 'busy', true, /throttling/],
    [400, 'SVCSTG.SWR.4000097', 'quota', false, /organization quota exhausted/],
    [409, 'SVCSTG.SWR.4090060', 'exists', false, /already exists/],
    [403, 'SVCSTG.SWR.4011044', 'foreign', false, /owned by another user/],
    [400, 'SVCSTG.SWR.4001028', 'invalid-name', false, /invalid/],
    [400, 'SVCSTG.SWR.4001029', 'invalid-name', false, /invalid/],
    [401, 'SVCSTG.SWR.4010000', 'auth', false, /authentication failed/],
    [429, 'APIGW.0308', 'busy', true, /busy/],
    [503, '', 'busy', true, /busy/],
    [400, 'SVCSTG.SWR.4000068', 'other', false, /refused/],
  ];
  for (const [status, code, kind, retry, words] of table) {
    test(`${status} ${code || '(no body)'}`, () => {
      const e = swrApiError(status, code ? body(code) : '', H, 'organization "team"');
      assert.equal(e.kind, kind);
      assert.equal(e.code, ErrorCode.SWR_API);
      assert.equal(isRetryable(e), retry);
      assert.match(e.message, words);
      assert.ok(e.message.startsWith(`${H}: organization "team": `));
      assert.ok(!e.message.includes('\n'));
    });
  }
  test('first known code wins over status', () => assert.equal(swrErrorKind(503, [{ code: 'SVCSTG.SWR.4000097', message: '' }]), 'quota'));
  test('error message does not echo the server message (could carry request data)', () => {
    const e = swrApiError(400, JSON.stringify([{ errorCode: 'SVCSTG.SWR.4000097', errorMessage: 'secret-ish detail' }]), H, 'organization "o"');
    assert.ok(!e.message.includes('secret-ish'));
  });
});
