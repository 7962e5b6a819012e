// The Docker Hub, Harbor and Quay listers against stand-ins of their documented APIs: several
// pages of repositories and of tags with push times, credentials (and only to the API's origin),
// and each kind of bad answer as one ListingError naming the host and what to do.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientPool, type RegistryAccess } from '../../lib/registry/pool.js';
import { listerFor } from '../../lib/listing/index.js';
import type { RepositoryLister } from '../../lib/listing/types.js';
import { ErrorCode, ListingError, MigrateError } from '../../lib/errors.js';
import { startDockerHubApi } from '../helpers/docker-hub-api.js';
import { startHarborApi } from '../helpers/harbor-api.js';
import { startQuayApi } from '../helpers/quay-api.js';
import { startJsonApi, reply } from '../helpers/json-api.js';
import { stopAllTracked } from '../helpers/cleanup.js';

after(stopAllTracked);

const pools: ClientPool[] = [];
after(() => Promise.all(pools.map((p) => p.close())));
function lister(registry: string, access: RegistryAccess, pageSize = 3): RepositoryLister {
  const pool = new ClientPool({ resolve: () => access, env: {} });
  pools.push(pool);
  return listerFor(pool, registry, { pageSize });
}
async function all(it: AsyncIterable<{ repository: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) out.push(r.repository);
  return out;
}
const day = (n: number) => new Date(Date.UTC(2026, 0, n)).toISOString();
const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `v1.${i}`, pushed: day(i + 1) }));
const isListing = (re: RegExp) => (err: unknown) => err instanceof ListingError && err.code === ErrorCode.LISTING && re.test(err.message);

describe('Docker Hub lister', () => {
  const PAT = 'dckr_pat_SECRETVALUE123';
  const repos = Array.from({ length: 7 }, (_, i) => ({ name: `app${i}`, private: i === 6, tags: i === 0 ? tags(7) : tags(1) }));

  test('lists a namespace across 3 pages with a Hub token (private repositories too), tags with push times', async () => {
    const hub = await startDockerHubApi({ namespaces: { acme: repos }, username: 'alice', pat: PAT });
    const l = lister('docker.io', { credentials: { username: 'alice', password: PAT }, listing: { apiEndpoint: hub.url } });
    assert.equal(l.kind, 'dockerhub');
    assert.deepEqual(await all(l.repositories('acme')), repos.map((r) => `acme/${r.name}`));
    assert.equal(hub.requests.filter((r) => r.path.startsWith('/v2/namespaces/acme/repositories?')).length, 3);
    assert.equal(hub.requests.filter((r) => r.path === '/v2/auth/token').length, 1, 'one token for the whole listing');
    const t = await l.tagTimes!('acme/app0');
    assert.deepEqual(t, tags(7).map((x) => ({ name: x.name, pushedAt: x.pushed })));
    assert.equal(hub.requests.filter((r) => r.path.includes('/tags')).length, 3);
  });

  test('anonymous: public repositories only; apiToken overrides the password', async () => {
    const hub = await startDockerHubApi({ namespaces: { acme: repos }, username: 'alice', pat: PAT });
    assert.equal((await all(lister('docker.io', { listing: { apiEndpoint: hub.url } }).repositories('acme'))).length, 6);
    const l = lister('docker.io', { credentials: { username: 'alice', password: 'registry-password' }, listing: { apiEndpoint: hub.url, apiToken: PAT } });
    assert.equal((await all(l.repositories('acme'))).length, 7);
  });

  test('whole registry, wrong PAT, HTML, 404: one ListingError each, no secret in the message', async () => {
    const hub = await startDockerHubApi({ namespaces: { acme: repos }, username: 'alice', pat: PAT });
    const good = lister('docker.io', { listing: { apiEndpoint: hub.url } });
    await assert.rejects(all(good.repositories(undefined)), isListing(/docker\.io.*name the namespace/));
    await assert.rejects(all(good.repositories('nobody')), isListing(/404.*check the namespace/));
    const bad = lister('docker.io', { credentials: { username: 'alice', password: 'wrong-SECRET' }, listing: { apiEndpoint: hub.url } });
    await assert.rejects(all(bad.repositories('acme')), (err: unknown) => isListing(/401.*personal access token/)(err) && !(err as Error).message.includes('wrong-SECRET'));
    hub.misbehave.html = true;
    await assert.rejects(all(good.repositories('acme')), isListing(/listing docker\.io: .*HTML.*check apiEndpoint/));
  });

  test('a looping next is cut; a next on another origin is refused before the token goes there', async () => {
    const hub = await startDockerHubApi({ namespaces: { acme: repos }, username: 'alice', pat: PAT });
    hub.misbehave.loop = true;
    const l = lister('docker.io', { credentials: { username: 'alice', password: PAT }, listing: { apiEndpoint: hub.url } });
    await assert.rejects(all(l.repositories('acme')), (err: unknown) => err instanceof MigrateError && err.code === ErrorCode.PAGINATION && /loops/.test(err.message));
    hub.misbehave.loop = false;
    const elsewhere = await startJsonApi(() => reply(200, { results: [], next: null }));
    hub.misbehave.nextOrigin = elsewhere.url;
    await assert.rejects(all(l.repositories('acme')), isListing(/another origin/));
    assert.equal(elsewhere.requests.length, 0);
  });
});

describe('Harbor lister', () => {
  const projects = {
    lib: { public: true, repos: [{ name: 'nginx', tags: tags(2) }] },
    team: { repos: Array.from({ length: 7 }, (_, i) => ({ name: i === 3 ? 'sub/app3' : `app${i}`, tags: i === 3 ? tags(7) : tags(1) })) },
    p3: { repos: [] }, p4: { repos: [] }, p5: { repos: [{ name: 'x', tags: tags(1) }] },
  };
  const creds = { username: 'robot$ci', password: 'harbor-SECRET' };

  test('every project across pages (Link), repositories named project/repo, artifacts tags with push times', async () => {
    const h = await startHarborApi({ projects, ...creds });
    const l = lister('harbor.example.com', { credentials: creds, listing: { type: 'harbor', apiEndpoint: h.url } }, 2);
    assert.equal(l.kind, 'harbor');
    const names = await all(l.repositories(undefined));
    assert.deepEqual(names, ['lib/nginx', ...projects.team.repos.map((r) => `team/${r.name}`), 'p5/x']);
    assert.equal(h.requests.filter((r) => r.path.startsWith('/api/v2.0/projects?')).length, 3, '5 projects, 2 a page');
    assert.equal(h.requests.filter((r) => r.path.startsWith('/api/v2.0/projects/team/repositories?')).length, 4);
    // `sub/app3` goes as sub%252Fapp3: the stand-in finds nothing with single encoding.
    assert.deepEqual((await l.tagTimes!('team/sub/app3')).map(({ name, pushedAt }) => ({ name, pushedAt })), tags(7).map((x) => ({ name: x.name, pushedAt: x.pushed })));
    // Each tag carries its artifact's digest (issue 15, item 2): the planner needs no source HEAD.
    assert.ok((await l.tagTimes!('team/sub/app3')).every((t) => /^sha256:[0-9a-f]{64}$/.test(t.digest ?? '')));
    assert.ok(h.requests.some((r) => r.path.startsWith('/api/v2.0/projects/team/repositories/sub%252Fapp3/artifacts?with_tag=true&page=4&')));
  });

  test('a namespace filters below its project; X-Total-Count alone pages too', async () => {
    const h = await startHarborApi({ projects, ...creds, noLink: true });
    const l = lister('harbor.example.com', { credentials: creds, listing: { type: 'harbor', apiEndpoint: h.url } }, 2);
    assert.deepEqual(await all(l.repositories('team/sub')), ['team/sub/app3']);
    assert.equal((await all(l.repositories('team'))).length, 7);
  });

  test('missing credentials, 403, a Link elsewhere: ListingErrors', async () => {
    const h = await startHarborApi({ projects, ...creds });
    const anon = lister('harbor.example.com', { listing: { type: 'harbor', apiEndpoint: h.url } }, 2);
    assert.deepEqual(await all(anon.repositories(undefined)), ['lib/nginx'], 'anonymous sees public projects');
    h.misbehave.status = 401;
    await assert.rejects(all(anon.repositories('team')), isListing(/harbor\.example\.com: .*401.*needs credentials: give the username and password/));
    h.misbehave.status = 403;
    const l = lister('harbor.example.com', { credentials: creds, listing: { type: 'harbor', apiEndpoint: h.url } }, 2);
    await assert.rejects(all(l.repositories('team')), (err: unknown) => isListing(/403.*check the username/)(err) && !(err as Error).message.includes('harbor-SECRET'));
    h.misbehave.status = undefined;
    h.misbehave.nextOrigin = 'http://127.0.0.2:9';
    await assert.rejects(all(l.repositories('team')), isListing(/another origin/));
  });
});

describe('Quay lister', () => {
  const TOKEN = 'quay-oauth-SECRET';
  const repos = Array.from({ length: 5 }, (_, i) => ({ name: `r${i}`, private: i === 4, tags: Array.from({ length: i === 0 ? 5 : 1 }, (_, k) => ({ name: `t${k}`, startTs: 1_767_225_600 + k * 86_400 })) }));

  test('next_page tokens across 3 pages, private with the token, tags across 3 pages with start_ts', async () => {
    const q = await startQuayApi({ namespaces: { coreos: repos }, token: TOKEN, pageSize: 2 });
    const l = lister('quay.io', { listing: { apiEndpoint: q.url, apiToken: TOKEN } }, 2);
    assert.equal(l.kind, 'quay');
    assert.deepEqual(await all(l.repositories('coreos')), repos.map((r) => `coreos/${r.name}`));
    assert.equal(q.requests.filter((r) => r.path.startsWith('/api/v1/repository?')).length, 3);
    assert.ok(q.requests.every((r) => r.authorization === `Bearer ${TOKEN}`));
    const t = await l.tagTimes!('coreos/r0');
    assert.deepEqual(t.map((x) => x.name), ['t0', 't1', 't2', 't3', 't4']);
    assert.equal(t[1]!.pushedAt, '2026-01-02T00:00:00.000Z');
    assert.equal(q.requests.filter((r) => r.path.includes('/tag/')).length, 3);
    const anon = lister('quay.io', { listing: { apiEndpoint: q.url } }, 2);
    assert.equal((await all(anon.repositories('coreos'))).length, 4);
  });

  test('whole registry, bad token, non-JSON, a loop: refused', async () => {
    const q = await startQuayApi({ namespaces: { coreos: repos }, token: TOKEN, pageSize: 2 });
    const anon = lister('quay.io', { listing: { apiEndpoint: q.url } });
    await assert.rejects(all(anon.repositories(undefined)), isListing(/quay\.io.*name the namespace/));
    const bad = lister('quay.io', { listing: { apiEndpoint: q.url, apiToken: 'nope' } });
    await assert.rejects(all(bad.repositories('coreos')), isListing(/401.*check the apiToken/));
    q.misbehave.loop = true;
    await assert.rejects(all(lister('quay.io', { listing: { apiEndpoint: q.url, apiToken: TOKEN } }).repositories('coreos')), (err: unknown) => err instanceof MigrateError && err.code === ErrorCode.PAGINATION);
    const text = await startJsonApi(() => reply(200, 'x'));
    // A JSON string is JSON, but not an answer; and a body that is not JSON at all:
    const notJson = await import('node:http').then(({ createServer }) => new Promise<{ url: string; close: () => void }>((resolve) => {
      const s = createServer((_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end('{"repositories": [')).listen(0, '127.0.0.1', () => {
        resolve({ url: `http://127.0.0.1:${(s.address() as import('node:net').AddressInfo).port}`, close: () => s.close() });
      });
    }));
    try {
      await assert.rejects(all(lister('quay.io', { listing: { apiEndpoint: notJson.url } }).repositories('coreos')), isListing(/not JSON/));
      await assert.rejects(all(lister('quay.io', { listing: { apiEndpoint: text.url } }).repositories('coreos')), isListing(/not a JSON object/));
    } finally {
      notJson.close();
    }
  });
});

describe('listing bodies are capped', () => {
  test('an answer declaring more than 16 MiB is refused unread', async () => {
    const { createServer } = await import('node:http');
    const server = createServer((_q, r) => {
      r.writeHead(200, { 'content-type': 'application/json', 'content-length': String(17 * 1024 * 1024) });
      r.write('{"repositories": [');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
      await assert.rejects(all(lister('quay.io', { listing: { apiEndpoint: url } }).repositories('coreos')),
        (err: unknown) => err instanceof MigrateError && err.code === ErrorCode.BODY_TOO_LARGE && /127\.0\.0\.1/.test(err.message));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
