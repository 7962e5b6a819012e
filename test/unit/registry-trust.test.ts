// Pure checks of issue 6 items 3 and 5: which addresses, realms and redirect targets are refused.
// Nothing here opens a socket: Docker Hub's and SWR's realms are judged as strings.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { addressKind, isLinkLocalOrMetadata, isPublicSuffix, registrableDomain } from '../../lib/registry/http/address.js';
import { realmRefusal, type RealmTrust } from '../../lib/registry/auth/realm.js';
import { originRefusal, redirectRefusal } from '../../lib/registry/http/redirect.js';

const host = (url: string): string => new URL(url).hostname;

describe('address kinds', () => {
  const cases: [string, string][] = [
    ['http://169.254.169.254/latest/meta-data/', 'metadata'],
    ['http://[fd00:ec2::254]/', 'metadata'],
    ['http://100.100.100.200/', 'metadata'],
    ['http://metadata.google.internal/', 'metadata'],
    // Other spellings of 169.254.169.254 that the URL parser normalises, and the IPv4-mapped form.
    ['http://0xA9FEA9FE/', 'metadata'],
    ['http://2852039166/', 'metadata'],
    ['http://[::ffff:169.254.169.254]/', 'metadata'],
    ['http://169.254.10.1/', 'link-local'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://127.0.0.2:5000/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://localhost:5000/', 'loopback'],
    ['http://0.0.0.0/', 'loopback'],
    ['http://10.1.2.3/', 'private'],
    ['http://172.20.0.1/', 'private'],
    ['http://192.168.1.1/', 'private'],
    ['http://[fd12::1]/', 'private'],
    ['https://auth.docker.io/', 'public'],
    ['https://8.8.8.8/', 'public'],
    ['https://172.32.0.1/', 'public'],
  ];
  for (const [url, kind] of cases) test(`${url} is ${kind}`, () => assert.equal(addressKind(host(url)), kind));
  test('link-local or metadata, the redirect refusal set', () => {
    assert.equal(isLinkLocalOrMetadata(host('http://169.254.1.1/')), true);
    assert.equal(isLinkLocalOrMetadata(host('http://[fd00:ec2::254]/')), true);
    assert.equal(isLinkLocalOrMetadata(host('http://127.0.0.1/')), false);
  });
  test('every address in 169.254.0.0/16 is refused as a redirect target', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (a, b) => isLinkLocalOrMetadata(`169.254.${a}.${b}`)));
  });
});

describe('registrable domains (the parent-domain rule for realms)', () => {
  const cases: [string, string][] = [
    ['registry-1.docker.io', 'docker.io'],
    ['swr.cn-north-4.myhuaweicloud.com', 'myhuaweicloud.com'],
    ['a.b.example.co.uk', 'example.co.uk'],
    ['registry.example.com.cn', 'example.com.cn'],
    ['tenant.azurecr.io', 'tenant.azurecr.io'],
    ['123.dkr.ecr.us-east-1.amazonaws.com', 'us-east-1.amazonaws.com'],
    ['localhost', 'localhost'],
    ['127.0.0.1', '127.0.0.1'],
  ];
  for (const [h, d] of cases) test(`${h} -> ${d}`, () => assert.equal(registrableDomain(h), d));
  test('bare public suffixes are never a parent', () => {
    for (const s of ['com', 'io', 'co.uk', 'com.cn', 'ne.jp', 'amazonaws.com']) assert.equal(isPublicSuffix(s), true, s);
    for (const s of ['docker.io', 'myhuaweicloud.com', 'example.co.uk']) assert.equal(isPublicSuffix(s), false, s);
  });
});

describe('token realms', () => {
  const hub: RealmTrust = { hosts: ['registry-1.docker.io', 'docker.io'] };
  const swr: RealmTrust = { hosts: ['swr.cn-north-4.myhuaweicloud.com'] };
  const ok = (realm: string, trust: RealmTrust) => assert.equal(realmRefusal(new URL(realm), trust), undefined, realm);
  const refused = (realm: string, trust: RealmTrust, why: RegExp) => assert.match(realmRefusal(new URL(realm), trust) ?? 'accepted', why, realm);

  test("Docker Hub's and SWR's own realms are trusted", () => {
    ok('https://auth.docker.io/token', hub);
    ok('https://swr.cn-north-4.myhuaweicloud.com/swr/auth/v2/registry/auth/', swr);
    // GitLab: registry.gitlab.com hands out tokens from gitlab.com.
    ok('https://gitlab.com/jwt/auth', { hosts: ['registry.gitlab.com'] });
  });
  test('HTTPS only, unless the registry is insecure', () => {
    refused('http://auth.docker.io/token', hub, /not HTTPS/);
    refused('ftp://auth.docker.io/token', { ...hub, insecure: true }, /neither HTTP nor HTTPS/);
    ok('http://127.0.0.1:40000/token', { hosts: ['127.0.0.1:40001'], insecure: true });
  });
  test('another domain, a public suffix sibling, or a look-alike is refused', () => {
    refused('https://evil.example/token', hub, /not on the registry's domain/);
    refused('https://evil.io/token', hub, /not on the registry's domain/);
    refused('https://docker.io.evil.example/token', hub, /not on the registry's domain/);
    refused('https://other.myhuaweicloud.co/token', swr, /not on the registry's domain/);
    refused('https://evil.co.uk/token', { hosts: ['registry.example.co.uk'] }, /not on the registry's domain/);
    refused('https://other.azurecr.io/oauth2/token', { hosts: ['tenant.azurecr.io'] }, /not on the registry's domain/);
  });
  test('tokenRealms lists extra realms by URL or by host', () => {
    const nvcr: RealmTrust = { hosts: ['nvcr.io'] };
    refused('https://authn.nvidia.com/token', nvcr, /tokenRealms/);
    ok('https://authn.nvidia.com/token', { ...nvcr, tokenRealms: ['authn.nvidia.com'] });
    ok('https://authn.nvidia.com/token?x=1', { ...nvcr, tokenRealms: ['https://authn.nvidia.com/token'] });
    refused('https://authn.nvidia.com/other', { ...nvcr, tokenRealms: ['https://authn.nvidia.com/token'] }, /tokenRealms/);
    refused('https://authn.nvidia.com/token2', { ...nvcr, tokenRealms: ['https://authn.nvidia.com/token'] }, /tokenRealms/);
    ok('https://authn.nvidia.com/token/v2', { ...nvcr, tokenRealms: ['https://authn.nvidia.com/token'] });
    refused('http://authn.nvidia.com/token', { ...nvcr, tokenRealms: ['http://authn.nvidia.com/token'] }, /not HTTPS/);
    refused('https://authn.nvidia.com:8443/token', { ...nvcr, tokenRealms: ['authn.nvidia.com:9443'] }, /tokenRealms/);
  });
  test('loopback, private and link-local realms only for a registry that is one too', () => {
    const loop: RealmTrust = { hosts: ['127.0.0.1:5000'], insecure: true };
    ok('http://127.0.0.1:6000/token', loop);
    // Another loopback address is another host: not the registry's, unless listed.
    refused('http://127.0.0.2:6000/token', loop, /not on the registry's domain/);
    ok('http://127.0.0.2:6000/token', { ...loop, tokenRealms: ['127.0.0.2'] });
    refused('https://10.0.0.5/token', { hosts: ['registry.example.com'], tokenRealms: ['10.0.0.5'] }, /private address and the registry is not/);
    refused('https://localhost/token', { hosts: ['registry.example.com'], tokenRealms: ['localhost'] }, /loopback address/);
    refused('http://169.254.169.254/token', { ...loop, tokenRealms: ['169.254.169.254'] }, /metadata address and allowLinkLocal/);
    ok('http://169.254.169.254/token', { ...loop, tokenRealms: ['169.254.169.254'], allowLinkLocal: true });
  });
});

describe('redirect targets', () => {
  const https = new URL('https://registry.example.com/v2/a/blobs/sha256:x');
  const http = new URL('http://127.0.0.1:5000/v2/a/blobs/sha256:x');
  test('HTTPS to HTTPS storage elsewhere is fine; HTTPS to HTTP is a downgrade', () => {
    assert.equal(redirectRefusal(https, new URL('https://bucket.s3.amazonaws.com/k?X-Amz-Signature=s'), {}), undefined);
    assert.match(redirectRefusal(https, new URL('http://bucket.s3.amazonaws.com/k'), {}) ?? '', /downgrade/);
    assert.equal(redirectRefusal(http, new URL('http://127.0.0.2:6000/k'), {}), undefined);
    assert.match(redirectRefusal(https, new URL('file:///etc/passwd'), {}) ?? '', /not HTTP/);
  });
  test('metadata and link-local targets need allowLinkLocal', () => {
    for (const to of ['http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/', 'http://169.254.3.4/']) {
      assert.match(redirectRefusal(http, new URL(to), {}) ?? '', /allowLinkLocal/, to);
      assert.equal(redirectRefusal(http, new URL(to), { allowLinkLocal: true }), undefined, to);
    }
  });
  test('Location and Link must stay on the registry origin', () => {
    assert.equal(originRefusal(https, new URL('https://registry.example.com/v2/a/blobs/uploads/u?_state=1')), undefined);
    assert.match(originRefusal(https, new URL('https://other.example.com/upload')) ?? '', /not on the registry's origin/);
    assert.match(originRefusal(https, new URL('https://registry.example.com:444/upload')) ?? '', /not on the registry's origin/);
    assert.match(originRefusal(https, new URL('http://registry.example.com/upload')) ?? '', /downgrade/);
  });
});
