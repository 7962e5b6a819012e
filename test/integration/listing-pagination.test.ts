// Issue 13, item 2: tag lists and the catalog paged as the OCI distribution spec allows, through the
// real client, against a real distribution registry behind the strict-paging stand-in. Before, a
// full page without Link was taken as the end: 1,000 of 1,205 tags, 1,000 of 1,006 repositories.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PaginationError, UnsafeRedirectError } from '../../lib/errors.js';
import { stopAllTracked } from '../helpers/cleanup.js';
import { hostileClient, loopbackAgent } from '../helpers/hostile-client.js';
import { json, startHostile } from '../helpers/hostile-server.js';
import { pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type PagingMode, type StrictPagingHandle, numberedNames, startStrictPaging } from '../helpers/strict-paging.js';

const agent = loopbackAgent();
const TAGS = numberedNames('t', 1205);
const REAL_TAGS = ['t1202', 't1203', 't1204'];
const SYNTHETIC_REPOS = numberedNames('synthetic/r', 1005);
const REPOS = ['big/app', ...SYNTHETIC_REPOS].sort();

let open: RegistryHandle;
let basic: RegistryHandle;
before(async () => {
  [open, basic] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'basic' })]);
  for (const reg of [open, basic]) {
    for (const tag of REAL_TAGS) await pushImage(reg, 'big/app', tag, { format: 'oci', layers: [randomLayer(500)] });
  }
});
after(async () => {
  await stopAllTracked();
  await stopAll();
});

function stand(mode: PagingMode, more: Partial<Parameters<typeof startStrictPaging>[1]> = {}, upstream = open): Promise<StrictPagingHandle> {
  return startStrictPaging(upstream, {
    mode,
    extraTags: (repo) => (repo === 'big/app' ? TAGS : ['v1']),
    extraRepositories: SYNTHETIC_REPOS,
    ...more,
  });
}

const tagPages = (s: StrictPagingHandle) => s.listings.filter((l) => l.path.includes('/tags/list')).map((l) => `${l.origin} ${l.status} ${l.path}`);
const catalogPages = (s: StrictPagingHandle) => s.listings.filter((l) => l.path.startsWith('/v2/_catalog')).map((l) => l.path);

async function paginationFailure(p: Promise<unknown>, host: string): Promise<PaginationError> {
  const err = await p.then(() => assert.fail('listed without an error'), (e: unknown) => e);
  assert.ok(err instanceof PaginationError, String(err));
  assert.equal(err.code, 'SWRM_PAGINATION');
  assert.ok(err.message.includes(host), err.message);
  assert.doesNotMatch(err.message, /\n/);
  return err;
}

describe('a registry that pages with last= and sends no Link', () => {
  test('strict: 1,205 tags in 2 pages and 1,006 repositories in 2 pages', async () => {
    const s = await stand('strict');
    const client = hostileClient(s.host, agent);
    assert.deepEqual(await client.tagList('big/app'), TAGS);
    assert.deepEqual(tagPages(s), ['registry 200 /v2/big/app/tags/list?n=1000', 'registry 200 /v2/big/app/tags/list?n=1000&last=t0999']);
    assert.deepEqual(await client.catalog(), REPOS);
    assert.deepEqual(catalogPages(s), ['/v2/_catalog?n=1000', `/v2/_catalog?n=1000&last=${encodeURIComponent(REPOS[999]!)}`]);
  });

  test('ignore-last: the same page again, then one request without n gets everything', async () => {
    const s = await stand('ignore-last');
    const client = hostileClient(s.host, agent);
    assert.deepEqual(await client.tagList('big/app'), TAGS);
    assert.deepEqual(tagPages(s), [
      'registry 200 /v2/big/app/tags/list?n=1000',
      'registry 200 /v2/big/app/tags/list?n=1000&last=t0999',
      'registry 200 /v2/big/app/tags/list',
    ]);
    assert.deepEqual(await client.catalog(), REPOS);
    assert.equal(catalogPages(s).length, 3);
  });

  test('ignore-last-capped: even the unpaged answer is one page, so the listing fails naming the host', async () => {
    const s = await stand('ignore-last-capped');
    const client = hostileClient(s.host, agent);
    const err = await paginationFailure(client.tagList('big/app'), s.host);
    assert.match(err.message, /^tag list big\/app on 127\.0\.0\.1:\d+: the registry ignores "last" and its answer without "n" still holds only 1000 entries/);
    // first page, last= (ignored), unpaged (capped), n=1 (honoured: so the cap is real).
    assert.equal(tagPages(s).length, 4);
    await paginationFailure(client.catalog(), s.host);
  });

  test('distribution 2.8 with exactly 1,000 tags (n and last ignored): one n=1 request shows the answer is whole', async () => {
    // 997 synthetic + the 3 real tags: exactly one page.
    const s = await stand('ignore-n', { extraTags: () => numberedNames('x', 997) });
    const client = hostileClient(s.host, agent);
    const tags = await client.tagList('big/app');
    assert.equal(tags.length, 1000);
    assert.deepEqual(tagPages(s), [
      'registry 200 /v2/big/app/tags/list?n=1000',
      `registry 200 /v2/big/app/tags/list?n=1000&last=${tags.at(-1)}`,
      'registry 200 /v2/big/app/tags/list',
      'registry 200 /v2/big/app/tags/list?n=1',
    ]);
  });

  test('a total of exactly n in strict paging ends on an empty page', async () => {
    const s = await stand('strict', { extraTags: () => numberedNames('x', 997) });
    assert.equal((await hostileClient(s.host, agent).tagList('big/app')).length, 1000);
    assert.deepEqual(tagPages(s), ['registry 200 /v2/big/app/tags/list?n=1000', 'registry 200 /v2/big/app/tags/list?n=1000&last=x0996']);
  });
});

describe('registries that page inconsistently fail, never a partial list', () => {
  for (const mode of ['repeat', 'backwards'] as const) {
    test(`${mode}: tag list and catalog fail with SWRM_PAGINATION naming the host`, async () => {
      const s = await stand(mode);
      const client = hostileClient(s.host, agent);
      const err = await paginationFailure(client.tagList('big/app'), s.host);
      assert.match(err.message, /page 2 repeats \d+ entr(y|ies) of earlier pages/);
      await paginationFailure(client.catalog(), s.host);
    });
  }
});

describe('Link headers', () => {
  test('relative Links on the registry itself', async () => {
    const s = await stand('link');
    assert.deepEqual(await hostileClient(s.host, agent).tagList('big/app'), TAGS);
    assert.deepEqual(tagPages(s), ['registry 200 /v2/big/app/tags/list?n=1000', 'registry 200 /v2/big/app/tags/list?n=1000&last=t0999']);
  });

  test('a relative Link after a redirect to another origin is followed there, without Authorization', async () => {
    const s = await stand('link', { redirectListings: true }, basic);
    const client = hostileClient(s.host, agent, { credentials: { username: basic.username!, password: basic.password! } });
    assert.deepEqual(await client.tagList('big/app'), TAGS);
    // 401 (Basic challenge), 307 to 127.0.0.2, and its relative Link followed on 127.0.0.2, which
    // answers 400 to any Authorization header.
    assert.deepEqual(tagPages(s), [
      'registry 401 /v2/big/app/tags/list?n=1000',
      'registry 307 /v2/big/app/tags/list?n=1000',
      'redirected 200 /v2/big/app/tags/list?n=1000',
      'redirected 200 /v2/big/app/tags/list?n=1000&last=t0999',
    ]);
  });

  test('last= paging after a redirect asks the registry again, which redirects again', async () => {
    const s = await stand('strict', { redirectListings: true });
    assert.deepEqual(await hostileClient(s.host, agent).catalog(), REPOS);
    assert.deepEqual(s.listings.map((l) => `${l.origin} ${l.status}`), ['registry 307', 'redirected 200', 'registry 307', 'redirected 200']);
  });

  test('a Link to a third origin is refused, nothing is sent there', async () => {
    const third = await startHostile((_req, res) => json(res, 200, { tags: ['stolen'] }), '127.0.0.3');
    const s = await stand('link', { redirectListings: true, linkOrigin: third.url });
    const err = await hostileClient(s.host, agent).tagList('big/app').then(() => assert.fail('followed'), (e: unknown) => e);
    assert.ok(err instanceof UnsafeRedirectError, String(err));
    assert.equal(err.code, 'SWRM_UNSAFE_REDIRECT');
    assert.match(err.message, new RegExp(`^${s.host} pointed to ${third.url}/v2/big/app/tags/list\\?<redacted>, which was refused: the Link header is not on the registry's origin ${s.url} nor on ${s.redirectedUrl}, which answered the page$`));
    assert.equal(third.requests.length, 0);
  });
});
