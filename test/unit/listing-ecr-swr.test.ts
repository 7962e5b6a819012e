// The ECR and SWR listers through stand-ins on 127.0.0.1 (ECR's JSON 1.1 protocol at
// AWS_ENDPOINT_URL_ECR with fake keys; SWR's signed management API), the ECR login provider and
// its refresh, and which lister listerFor picks by host and by `type`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientPool, type RegistryAccess } from '../../lib/registry/pool.js';
import { listerFor } from '../../lib/listing/index.js';
import { ECR_REFRESH_MS, ecrCredentialsProvider } from '../../lib/vendors/ecr/listing.js';
import { ErrorCode, ListingError } from '../../lib/errors.js';
import { attachSwrKeys, swrAccessForHost } from '../../lib/vendors/swr/config.js';
import { loadNativeConfig, parseNativeConfig } from '../../lib/config/native.js';
import { SecretLookupError, type SecretStore } from '../../lib/config/secret-store.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEcrApi } from '../helpers/ecr-api.js';
import { startSwrApi, swrState } from '../helpers/swr-api-server.js';
import { stopAllTracked } from '../helpers/cleanup.js';
import type { RepositoryLister } from '../../lib/listing/types.js';

const ECR = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const SWR = 'swr.cn-north-4.myhuaweicloud.com';
const pools: ClientPool[] = [];
after(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await stopAllTracked();
});
function pool(access: RegistryAccess | ((registry: string) => RegistryAccess)): ClientPool {
  const p = new ClientPool({ resolve: (r) => (typeof access === 'function' ? access(r) : access), env: {} });
  pools.push(p);
  return p;
}
async function all(it: AsyncIterable<{ repository: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) out.push(r.repository);
  return out;
}
const isListing = (re: RegExp) => (err: unknown) => err instanceof ListingError && err.code === ErrorCode.LISTING && re.test(err.message);

describe('ECR lister and login', () => {
  const saved: Record<string, string | undefined> = {};
  const env = (k: string, v: string) => {
    saved[k] = process.env[k];
    process.env[k] = v;
  };
  let ecr: Awaited<ReturnType<typeof startEcrApi>>;
  const repositories = Array.from({ length: 7 }, (_, i) => ({
    name: i < 5 ? `team/app${i}` : `other${i}`,
    images: i === 0 ? Array.from({ length: 7 }, (_, k) => ({ tags: k === 6 ? ['latest', 'v6'] : [`v${k}`], pushedAt: 1_767_225_600 + k * 3600 })) : [{ tags: ['v1'], pushedAt: 1_767_225_600 }],
  }));
  before(async () => {
    ecr = await startEcrApi({ repositories });
    env('AWS_ENDPOINT_URL_ECR', ecr.url);
    env('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    env('AWS_SECRET_ACCESS_KEY', 'fake-secret');
    env('AWS_EC2_METADATA_DISABLED', 'true');
  });
  after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  test('DescribeRepositories across 3 pages, filtered by namespace; DescribeImages tags with push times', async () => {
    const l = listerFor(pool({}), ECR, { pageSize: 3 });
    assert.equal(l.kind, 'ecr');
    assert.deepEqual(await all(l.repositories('team')), repositories.slice(0, 5).map((r) => r.name));
    assert.equal(ecr.requests.filter((r) => r.target?.endsWith('.DescribeRepositories')).length, 3);
    const before = ecr.requests.length;
    const t = await l.tagTimes!('team/app0');
    assert.equal(ecr.requests.length - before, 3, '7 images, 3 a page');
    assert.deepEqual(t.map((x) => x.name), ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'latest', 'v6']);
    assert.equal(t[1]!.pushedAt, '2026-01-01T01:00:00.000Z');
    assert.equal(t[7]!.pushedAt, t[6]!.pushedAt);
  });

  test('a missing repository is a ListingError naming the host', async () => {
    const l = listerFor(pool({}), ECR);
    await assert.rejects(l.tagTimes!('nope'), isListing(new RegExp(`${ECR.replaceAll('.', '\\.')}: DescribeImages nope: repository not found`)));
  });

  test('the login: GetAuthorizationToken decoded, cached, refreshed at 11 h', async () => {
    let now = Date.now();
    const provider = ecrCredentialsProvider(ECR, { now: () => now });
    const issued = ecr.tokensIssued();
    const [a, b] = await Promise.all([provider(), provider()]);
    assert.equal(ecr.tokensIssued() - issued, 1, 'concurrent callers share one request');
    assert.equal(a.username, 'AWS');
    assert.match(a.password, /^ecr-password-\d+$/);
    assert.deepEqual(a, b);
    now += ECR_REFRESH_MS - 60_000;
    assert.deepEqual(await provider(), a, 'still valid before 11 h');
    now += 120_000;
    const c = await provider();
    assert.equal(ecr.tokensIssued() - issued, 2);
    assert.notEqual(c.password, a.password);
  });

  test('the pool gives ECR registry clients without username/password the provider; explicit credentials win', async () => {
    const p = pool((r) => (r === ECR ? {} : { credentials: { username: 'u', password: 'p' } }));
    const access = p.access(ECR, 'team/app0');
    assert.equal(typeof access.credentialsProvider, 'function');
    const auth = (p.client(ECR, 'team/app0', 'source') as unknown as { transport: { auth: { credentialsProvider?: () => Promise<{ username: string }> } } }).transport.auth;
    assert.equal((await auth.credentialsProvider!()).username, 'AWS');
    assert.equal(p.access('127.0.0.1:5000', 'a').credentialsProvider, undefined, 'other hosts: none');
    const withCreds = pool({ credentials: { username: 'AWS', password: 'given' } });
    assert.equal(withCreds.access(ECR, 'a').credentialsProvider, undefined);
  });
});

describe('SWR lister', () => {
  const AK = 'AKTEST', SK = 'SKTEST';
  const state = swrState();
  state.repos = [
    ...Array.from({ length: 5 }, (_, i) => ({ name: i === 4 ? 'sub/deep' : `app${i}`, namespace: 'team', tags: i === 4 ? ['a', 'b', 'c', 'd', 'e', 'f', 'g'] : ['v1'] })),
    { name: 'x', namespace: 'ops', tags: ['1'] }, { name: 'y', namespace: 'ops', tags: ['1'] },
  ];
  const swrLister = (endpoint: string, keys = true): RepositoryLister => {
    const swr = { ...swrAccessForHost(SWR)!, managementEndpoint: endpoint };
    const access: RegistryAccess = { swr };
    if (keys) access.credentials = attachSwrKeys(swr, AK, SK);
    return listerFor(pool(access), SWR, { pageSize: 3 });
  };

  test('repositories across pages (Content-Range), one organization or all; tags across pages with updated', async () => {
    const api = await startSwrApi({ ak: AK, sk: SK, state });
    const l = swrLister(api.url);
    assert.equal(l.kind, 'swr');
    assert.deepEqual(await all(l.repositories('team')), ['team/app0', 'team/app1', 'team/app2', 'team/app3', 'team/sub/deep']);
    assert.equal(api.requests.filter((r) => r.path.startsWith('/v2/manage/repos?namespace=team')).length, 2);
    assert.equal((await all(l.repositories(undefined))).length, 7);
    assert.equal(api.requests.filter((r) => r.path.startsWith('/v2/manage/repos?offset')).length, 3);
    const t = await l.tagTimes!('team/sub/deep');
    assert.deepEqual(t.map((x) => x.name), ['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    assert.equal(t[2]!.pushedAt, '2026-01-03T00:00:00.000Z');
    assert.ok(api.requests.some((r) => r.path.startsWith('/v2/manage/namespaces/team/repos/sub%24deep/tags?offset=6')), '`/` sent as `$`');
  });

  test('without keys, or with wrong ones: refused', async () => {
    const api = await startSwrApi({ ak: AK, sk: 'OTHER', state });
    await assert.rejects(all(swrLister(api.url, false).repositories('team')), isListing(/needs the management API's keys: give accessKey and secretKey/));
    await assert.rejects(all(swrLister(api.url).repositories('team')), /signature rejected/);
  });
});

describe('listerFor: by type, else by host', () => {
  const cases: Array<[string, RegistryAccess, string]> = [
    ['docker.io', {}, 'dockerhub'],
    ['registry-1.docker.io', {}, 'dockerhub'],
    ['index.docker.io', {}, 'dockerhub'],
    ['quay.io', {}, 'quay'],
    [ECR, {}, 'ecr'],
    ['127.0.0.1:5000', {}, 'generic'],
    ['harbor.example.com', {}, 'generic'],
    ['harbor.example.com', { listing: { type: 'harbor' } }, 'harbor'],
    ['registry.internal', { listing: { type: 'quay' } }, 'quay'],
    ['ecr-alias.internal', { listing: { type: 'ecr' } }, 'ecr'],
    ['quay.io', { listing: { type: 'generic' } }, 'generic'],
  ];
  for (const [host, access, kind] of cases) {
    test(`${host} ${access.listing?.type ? `type: ${access.listing.type}` : '(by host)'} -> ${kind}`, () => {
      assert.equal(listerFor(pool(access), host).kind, kind);
    });
  }
  test('an SWR host lists through the management API when it has keys', () => {
    const swr = swrAccessForHost(SWR)!;
    assert.equal(listerFor(pool({ swr, credentials: attachSwrKeys(swr, 'AK', 'SK') }), SWR).kind, 'swr');
  });
});

describe('config: type, apiEndpoint, apiToken', () => {
  const doc = (registries: Record<string, unknown>) => ({ version: 1, registries, rules: [{ source: 'quay.io/coreos/etcd:v1', destination: `${SWR}/mirror` }] });
  test('carried on RegistryAccess.listing; the token from ${env:}', () => {
    const cfg = parseNativeConfig(doc({
      'harbor.example.com': { type: 'harbor', apiEndpoint: 'https://harbor.example.com:8443/', username: 'robot', password: 'pw' },
      'quay.io': { apiToken: '${env:QUAY_TOKEN}' },
    }), 'sync.yaml', { QUAY_TOKEN: 'tok-123' });
    assert.deepEqual(cfg.resolve('harbor.example.com', 'p/r').listing, { type: 'harbor', apiEndpoint: 'https://harbor.example.com:8443' });
    assert.deepEqual(cfg.resolve('quay.io', 'coreos/etcd').listing, { apiToken: 'tok-123' });
    assert.equal(cfg.resolve(SWR, 'mirror/x').listing, undefined);
  });
  test('type: swr still makes a custom host SWR; harbor opts an SWR-looking host out; unknown types list the known', () => {
    const cfg = parseNativeConfig(doc({ 'registry.internal': { type: 'swr', managementEndpoint: 'https://swr-api.internal' } }), 'sync.yaml', {});
    assert.ok(cfg.resolve('registry.internal', 'a/b').swr);
    const harbor = parseNativeConfig(doc({ [SWR]: { type: 'harbor' } }), 'sync.yaml', {});
    assert.equal(harbor.resolve(SWR, 'mirror/x').swr, undefined);
    assert.equal(harbor.resolve(SWR, 'mirror/x').listing?.type, 'harbor');
    assert.throws(() => parseNativeConfig(doc({ 'harbor.internal': { type: 'nexus' } }), 'sync.yaml', {}),
      /registries\.harbor\.internal\.type: expected one of generic, dockerhub, harbor, quay, ecr, swr/);
    assert.throws(() => parseNativeConfig(doc({ 'quay.io': { apiEndpoint: 'ftp://x' } }), 'sync.yaml', {}), /apiEndpoint: expected an http\(s\) URL/);
  });
  test('apiToken from ${secretsmanager:} is fetched with the passwords; a missing one names the field', async () => {
    const store: SecretStore = {
      secretString: async (id) => {
        if (id === 'quay/token') return 'sm-token-9';
        throw new SecretLookupError(`secret "${id}" not found`);
      },
      parameter: async (name) => {
        throw new SecretLookupError(`parameter "${name}" not found`);
      },
    };
    const dir = mkdtempSync(join(tmpdir(), 'listing-cfg-'));
    const file = join(dir, 'sync.json');
    writeFileSync(file, JSON.stringify(doc({ 'quay.io': { apiToken: '${secretsmanager:quay/token}' } })));
    const cfg = await loadNativeConfig(file, {}, { secretStore: store });
    assert.equal(cfg.resolve('quay.io', 'coreos/etcd').listing?.apiToken, 'sm-token-9');
    assert.equal(cfg.resolve('quay.io', 'coreos/etcd').credentials, undefined, 'the token is not a registry login');
    writeFileSync(file, JSON.stringify(doc({ 'quay.io': { apiToken: '${secretsmanager:quay/nope}' } })));
    await assert.rejects(loadNativeConfig(file, {}, { secretStore: store }), /registries\.quay\.io\.apiToken.*quay\/nope/);
  });
});
