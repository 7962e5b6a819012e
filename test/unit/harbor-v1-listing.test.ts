// Harbor 1.10 as a source (issue 16, item 4): the harbor lister asks /api/version once and lists
// through the v1 API on a 404, through v2.0 on "v2.0", and refuses any other answer; 1.10's pages
// follow the relative Link up to X-Total-Count, and a Link that goes back is a PaginationError.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientPool, type RegistryAccess } from '../../lib/registry/pool.js';
import { listerFor } from '../../lib/listing/index.js';
import type { RepositoryLister } from '../../lib/listing/types.js';
import { ErrorCode, ListingError, MigrateError } from '../../lib/errors.js';
import { startHarborApi } from '../helpers/harbor-api.js';
import { fromData, startHarborV1Api, type V1Tag } from '../helpers/harbor-v1-api.js';
import { type Handler, reply, startJsonApi } from '../helpers/json-api.js';
import { stopAllTracked } from '../helpers/cleanup.js';

after(stopAllTracked);
const pools: ClientPool[] = [];
after(() => Promise.all(pools.map((p) => p.close())));

const HOST = 'harbor1.example.com';
const creds = { username: 'admin', password: 'Harbor-SECRET-1' };
function lister(apiEndpoint: string, pageSize?: number, withCreds = true): RepositoryLister {
  const access: RegistryAccess = { ...(withCreds ? { credentials: creds } : {}), listing: { type: 'harbor', apiEndpoint } };
  const pool = new ClientPool({ resolve: () => access, env: {} });
  pools.push(pool);
  return listerFor(pool, HOST, pageSize ? { pageSize } : {});
}
async function all(it: AsyncIterable<{ repository: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) out.push(r.repository);
  return out;
}
const isListing = (re: RegExp) => (err: unknown) => err instanceof ListingError && err.code === ErrorCode.LISTING && re.test(err.message);
const digest = (i: number) => `sha256:${String(i).padStart(64, 'a')}`;
const tag = (name: string, i: number): V1Tag => ({ name, digest: digest(i), pushed: new Date(Date.UTC(2026, 1, i + 1)).toISOString() });

// 23 projects (team2 shares a prefix with team: 1.10's `name` filter is a substring match).
const PROJECTS = ['team', 'team2', ...Array.from({ length: 21 }, (_, i) => `p${String(i).padStart(2, '0')}`)];
const REPOS: Record<string, V1Tag[]> = {
  ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`team/app${String(i).padStart(2, '0')}`, [tag('v1', i)]])),
  'team/sub/deep': [tag('a', 20), tag('b', 21)],
  'team2/other': [tag('x', 30)],
  'p07/lone': [tag('1.0', 40)],
};

describe('harbor lister: the API version', () => {
  test('a 404 at /api/version: the v1 API, asked once per lister; tagDigests goes off once known', async () => {
    const h = await startHarborV1Api({ source: fromData(REPOS), projects: PROJECTS, ...creds });
    const l = lister(h.url);
    assert.equal(l.kind, 'harbor');
    assert.equal(l.tagDigests, true, 'unknown until asked: the v2.0 answer would have digests');
    assert.deepEqual(await all(l.repositories('team2')), ['team2/other']);
    assert.equal(l.tagDigests, false, '1.10 has no trustworthy digests');
    await l.tagTimes!('team/sub/deep');
    await all(l.repositories(undefined));
    assert.equal(h.requests.filter((r) => r.path === '/api/version').length, 1);
    assert.equal(h.requests.filter((r) => r.path.startsWith('/api/v2.0')).length, 0);
    assert.ok(h.requests.every((r) => r.authorization === `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`));
  });

  test('"v2.0" at /api/version: the v2.0 API with digests', async () => {
    const h = await startHarborApi({ projects: { lib: { repos: [{ name: 'nginx', tags: [{ name: '1', pushed: '2026-01-01T00:00:00Z' }] }] } }, ...creds });
    const l = lister(h.url);
    assert.deepEqual(await all(l.repositories(undefined)), ['lib/nginx']);
    assert.equal(l.tagDigests, true);
    assert.match((await l.tagTimes!('lib/nginx'))[0]?.digest ?? '', /^sha256:/);
    assert.equal(h.requests.filter((r) => r.path === '/api/version').length, 1);
    assert.ok(!h.requests.some((r) => r.path.startsWith('/api/projects')));
  });

  const refusals: Array<[string, Handler, RegExp]> = [
    ['401', () => reply(401, { code: 401, message: 'UnAuthorized' }), /listing harbor1\.example\.com: .*refused the request \(401\).*check the username and password/],
    ['403', () => reply(403, { code: 403 }), /\(403\)/],
    ['an HTML page', () => ({ status: 200, body: '<html>login</html>', headers: { 'content-type': 'text/html' } }), /not JSON.*apiEndpoint|HTML/],
    ['an unknown version', () => reply(200, { version: 'v3.0' }), /\/api\/version answered "v3\.0".*1\.10 answers 404/],
    ['no version', () => reply(200, { build: 'x' }), /\/api\/version answered no "version"/],
  ];
  for (const [what, handler, re] of refusals) {
    test(`${what} at /api/version: a ListingError, and no listing through v1`, async () => {
      const h = await startJsonApi(handler);
      const l = lister(h.url);
      await assert.rejects(all(l.repositories(undefined)), (err: unknown) => isListing(re)(err) && !(err as Error).message.includes(creds.password));
      assert.ok(!h.requests.some((r) => r.path.startsWith('/api/projects')), 'not taken for 1.10');
    });
  }

  test('a 5xx at /api/version: retried, then a ListingError; the next call asks again', async () => {
    let fail = true;
    const h = await startJsonApi(() => (fail ? reply(503, {}) : reply(404, {})));
    const l = lister(h.url);
    await assert.rejects(all(l.repositories('team')), isListing(/answered 503 repeatedly/));
    assert.ok(!h.requests.some((r) => r.path.startsWith('/api/projects')));
    fail = false;
    // Now a 404: v1, whose project lookup this stand-in answers 404.
    await assert.rejects(all(l.repositories('team')), isListing(/404/));
    assert.ok(h.requests.some((r) => r.path.startsWith('/api/projects?name=team')));
  });
});

describe('harbor lister on 1.10: pages, namespaces, tags', () => {
  test('every project across pages by the relative Link, repositories of each by project_id', async () => {
    const h = await startHarborV1Api({ source: fromData(REPOS), projects: PROJECTS, ...creds });
    const l = lister(h.url, 5);
    assert.deepEqual((await all(l.repositories(undefined))).sort(), Object.keys(REPOS).sort());
    const projectPages = h.requests.filter((r) => r.path.startsWith('/api/projects?'));
    assert.equal(projectPages.length, 5, '23 projects, 5 a page');
    // Pages after the first are the Link's own (Go sorts the query keys: page before page_size).
    assert.equal(projectPages[1]!.path, '/api/projects?page=2&page_size=5');
    const ofTeam = h.requests.filter((r) => r.path.startsWith('/api/repositories?') && new URL(r.path, h.url).searchParams.get('project_id') === '1');
    assert.equal(ofTeam.length, 3, "team's 13 repositories, 5 a page");
  });

  test('the default page size is 100, Harbor 1.10\'s largest', async () => {
    const h = await startHarborV1Api({ source: fromData(REPOS), projects: PROJECTS, ...creds });
    await all(lister(h.url).repositories(undefined));
    assert.equal(h.requests.filter((r) => r.path.startsWith('/api/projects?')).length, 1);
    assert.ok(h.requests.some((r) => r.path === '/api/projects?page=1&page_size=100'));
  });

  test('a namespace: its project by exact name, then the repositories below it', async () => {
    const h = await startHarborV1Api({ source: fromData(REPOS), projects: PROJECTS, ...creds });
    const l = lister(h.url, 5);
    assert.deepEqual(await all(l.repositories('team/sub')), ['team/sub/deep']);
    assert.equal((await all(l.repositories('team'))).length, 13, 'team2 is not team');
    await assert.rejects(all(l.repositories('nobody')), isListing(/project nobody was not found \(404\)/));
  });

  test('tags with push times from the detailed answer, and no digests', async () => {
    const h = await startHarborV1Api({ source: fromData(REPOS), projects: PROJECTS, ...creds });
    const l = lister(h.url);
    const t = await l.tagTimes!('team/sub/deep');
    assert.deepEqual(t, REPOS['team/sub/deep']!.map((x) => ({ name: x.name, pushedAt: x.pushed })));
    assert.ok(h.requests.some((r) => r.path === '/api/repositories/team/sub/deep/tags?detail=true'));
    await assert.rejects(l.tagTimes!('lonely'), isListing(/no project/));
  });

  test('Go zero times are no push time', async () => {
    const h = await startJsonApi((_q, url) => (url.pathname === '/api/version' ? reply(404, {}) : reply(200, [{ name: 'old', push_time: '0001-01-01T00:00:00Z', digest: '' }, { name: 'new', push_time: '2026-03-01T00:00:00Z' }])));
    assert.deepEqual(await lister(h.url).tagTimes!('a/b'), [{ name: 'old' }, { name: 'new', pushedAt: '2026-03-01T00:00:00Z' }]);
  });

  test('X-Total-Count ends the listing even while Link goes on', async () => {
    const h = await startJsonApi((_q, url) => {
      if (url.pathname === '/api/version') return reply(404, {});
      if (url.pathname !== '/api/projects') return reply(200, [], { 'x-total-count': '0' });
      const page = Number(url.searchParams.get('page'));
      return reply(200, [{ project_id: page, name: `p${page}` }], { 'x-total-count': '3', link: `</api/projects?page=${page + 1}&page_size=1>; rel="next"` });
    });
    await all(lister(h.url, 1).repositories(undefined));
    assert.equal(h.requests.filter((r) => r.path.startsWith('/api/projects')).length, 3);
  });

  test('a Link back to an earlier page: a PaginationError naming the host', async () => {
    const h = await startHarborV1Api({ source: fromData(REPOS), projects: PROJECTS, ...creds });
    h.misbehave.loop = true;
    await assert.rejects(all(lister(h.url, 5).repositories(undefined)),
      (err: unknown) => err instanceof MigrateError && err.code === ErrorCode.PAGINATION && /harbor1\.example\.com.*goes back from page 2 to page 1/.test(err.message));
  });

  test('a Link on another origin is refused before the credentials go there', async () => {
    const elsewhere = await startJsonApi(() => reply(200, []));
    const h = await startJsonApi((_q, url) => (url.pathname === '/api/version' ? reply(404, {})
      : reply(200, [{ project_id: 1, name: 'p' }], { 'x-total-count': '5', link: `<${elsewhere.url}/api/projects?page=2>; rel="next"` })));
    await assert.rejects(all(lister(h.url, 1).repositories(undefined)), isListing(/another origin/));
    assert.equal(elsewhere.requests.length, 0);
  });

  test('without credentials: 401 from 1.10, a ListingError saying to give them', async () => {
    const h = await startHarborV1Api({ source: fromData(REPOS), projects: PROJECTS, ...creds });
    await assert.rejects(all(lister(h.url, undefined, false).repositories(undefined)), isListing(/401.*needs credentials: give the username and password/));
  });
});
