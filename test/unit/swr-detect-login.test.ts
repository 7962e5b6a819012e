// SWR detection table, management endpoint derivation, long-term login (REFERENCE §2 vector), scope fix.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { detectSwr, swrHostRegion, swrManagementEndpoint } from '../../lib/vendors/swr/detect.js';
import { swrLoginPassword, swrLongTermLogin, swrScope } from '../../lib/vendors/swr/login.js';

describe('detectSwr', () => {
  const table: [string, Parameters<typeof detectSwr>[1], ReturnType<typeof detectSwr>][] = [
    ['swr.cn-north-4.myhuaweicloud.com', {}, { edition: 'basic', convertToDocker: true, region: 'cn-north-4', managementEndpoint: 'https://swr-api.cn-north-4.myhuaweicloud.com', project: 'cn-north-4' }],
    ['SWR.ap-southeast-3.myhuaweicloud.com:443', {}, { edition: 'basic', convertToDocker: true, region: 'ap-southeast-3', managementEndpoint: 'https://swr-api.ap-southeast-3.myhuaweicloud.com', project: 'ap-southeast-3' }],
    ['swr.eu-west-101.myhuaweicloud.eu', {}, { edition: 'basic', convertToDocker: true, region: 'eu-west-101', managementEndpoint: 'https://swr-api.eu-west-101.myhuaweicloud.eu', project: 'eu-west-101' }],
    ['swr.cn-north-4.myhuaweicloud.com', { edition: 'enterprise', project: 'cn-north-4_dev' }, { edition: 'enterprise', convertToDocker: false, region: 'cn-north-4', managementEndpoint: 'https://swr-api.cn-north-4.myhuaweicloud.com', project: 'cn-north-4_dev' }],
    ['swr.cn-north-4.myhuaweicloud.com', { managementEndpoint: 'https://127.0.0.1:9443' }, { edition: 'basic', convertToDocker: true, region: 'cn-north-4', managementEndpoint: 'https://127.0.0.1:9443', project: 'cn-north-4' }],
    ['registry.example.internal', { type: 'swr', project: 'p' }, { edition: 'basic', convertToDocker: true, project: 'p' }],
    ['swr.cn-north-4.myhuaweicloud.com', { type: 'generic' }, undefined],
    ['registry-1.docker.io', {}, undefined],
    ['swr.cn-north-4.myhuaweicloud.com.evil.test', {}, undefined],
    ['xswr.cn-north-4.myhuaweicloud.com', {}, undefined],
    ['swr.cn-north-4.myhuaweicloud.org', {}, undefined],
  ];
  for (const [host, hints, want] of table) {
    test(`${host} ${JSON.stringify(hints)}`, () => assert.deepEqual(detectSwr(host, hints), want));
  }
  test('region and endpoint helpers', () => {
    assert.deepEqual(swrHostRegion('swr.la-south-2.myhuaweicloud.com'), { region: 'la-south-2', tld: 'com' });
    assert.equal(swrHostRegion('swr.myhuaweicloud.com'), undefined);
    assert.equal(swrManagementEndpoint('eu-west-101'), 'https://swr-api.eu-west-101.myhuaweicloud.eu');
    assert.equal(swrManagementEndpoint('af-south-1'), 'https://swr-api.af-south-1.myhuaweicloud.com');
  });
});

describe('SWR long-term login', () => {
  test('REFERENCE §2 test vector', () => {
    assert.equal(
      swrLoginPassword('AKEXAMPLE1234567890', 'skExampleSecretKey0123456789abcdefghijkl'),
      'ce2038b3a237b18c2979ef0325a1de97f9df2b77e670671077af169e42193dd9',
    );
  });
  test('username is <project>@<AK>', () => {
    const c = swrLongTermLogin('cn-north-4', 'AKEXAMPLE1234567890', 'skExampleSecretKey0123456789abcdefghijkl');
    assert.equal(c.username, 'cn-north-4@AKEXAMPLE1234567890');
    assert.match(c.password, /^[0-9a-f]{64}$/);
    assert.ok(!c.password.includes('skExample'));
  });
});

describe('swrScope (empty action list in the challenge)', () => {
  test('fills an empty action list with pull,push', () => assert.equal(swrScope('repository:team/app:'), 'repository:team/app:pull,push'));
  test('pull only for a source', () => assert.equal(swrScope('repository:team/app:', false), 'repository:team/app:pull'));
  test('keeps nested names and extra actions', () => assert.equal(swrScope('repository:team/a/b:delete'), 'repository:team/a/b:pull,push,delete'));
  test('no duplicates', () => assert.equal(swrScope('repository:t/a:pull'), 'repository:t/a:pull,push'));
  test('other scopes pass through', () => assert.equal(swrScope('registry:catalog:*'), 'registry:catalog:*'));
});
