// Issue 13, item 2: the paging decisions of tag lists and the catalog (lib/registry/list/paging.ts), and
// which Link targets a listing may follow (link.ts). Pure; the same registries over HTTP are in
// test/integration/listing-pagination.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PaginationError } from '../../lib/errors.js';
import { linkRefusal } from '../../lib/registry/list/link.js';
import { type NextStep, type PageKind, Pager, pageSizeOf } from '../../lib/registry/list/paging.js';
import { type PagingMode, pageOf } from '../helpers/strict-paging.js';

const HOST = 'reg.example';

function pager(): Pager {
  return new Pager(HOST, 'tag list a');
}

function page(kind: PageKind, entries: string[], more: { n?: number; last?: string; link?: boolean; count?: number } = {}) {
  return { kind, n: more.n, last: more.last, entries, count: more.count ?? entries.length, hasLink: more.link ?? false };
}

function refused(fn: () => unknown, reason: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof PaginationError && e.code === 'SWRM_PAGINATION' && e.message.startsWith(`tag list a on ${HOST}: `) && reason.test(e.message));
}

describe('paging decisions', () => {
  test('a full page without Link continues with last= and the same n; a short page ends it', () => {
    const p = pager();
    assert.deepEqual(p.next(page('first', ['a', 'b', 'c'], { n: 3 })), { step: 'last', last: 'c', n: 3 });
    assert.deepEqual(p.next(page('last', ['d', 'e'], { n: 3, last: 'c' })), { step: 'done' });
    assert.deepEqual(p.result, ['a', 'b', 'c', 'd', 'e']);
  });

  test('an empty page after last= ends it (the total was a multiple of n)', () => {
    const p = pager();
    p.next(page('first', ['a', 'b'], { n: 2 }));
    assert.deepEqual(p.next(page('last', [], { n: 2, last: 'b' })), { step: 'done' });
    assert.deepEqual(p.result, ['a', 'b']);
  });

  test('a Link is followed whatever the page size; more than n entries is everything (n ignored, unsorted)', () => {
    const p = pager();
    assert.deepEqual(p.next(page('first', ['a', 'b'], { n: 2, link: true })), { step: 'link' });
    assert.deepEqual(p.next(page('link', ['c'], { n: 2, link: true })), { step: 'link' });
    assert.deepEqual(p.next(page('link', ['d'], { n: 2 })), { step: 'done' });
    const q = pager();
    assert.deepEqual(q.next(page('first', ['z', 'a', 'm'], { n: 2 })), { step: 'done' });
    assert.deepEqual(q.result, ['z', 'a', 'm']);
  });

  test('invalid entries count towards a full page; the next last= is the last valid one', () => {
    const p = pager();
    assert.deepEqual(p.next(page('first', ['a', 'b'], { n: 3, count: 3 })), { step: 'last', last: 'b', n: 3 });
    refused(() => pager().next(page('first', [], { n: 3, count: 3 })), /page 1 is full \(3 entries\) but holds no valid name/);
  });

  test('a registry that ignores last gets one unpaged request, whose answer replaces the pages', () => {
    for (const again of [['a', 'b'], ['b', 'a'], ['0', '1']]) {
      const p = pager();
      p.next(page('first', ['a', 'b'], { n: 2 }));
      // The same page again, or entries that are not after `last`.
      assert.deepEqual(p.next(page('last', again, { n: 2, last: 'b' })), { step: 'unpaged' }, again.join());
      assert.deepEqual(p.next(page('unpaged', ['c', 'a', 'b'])), { step: 'done' });
      assert.deepEqual(p.result, ['c', 'a', 'b']);
    }
  });

  test('an unpaged answer no longer than a page, or shorter than what was listed, fails', () => {
    const capped = pager();
    capped.next(page('first', ['a', 'b'], { n: 2 }));
    capped.next(page('last', ['a', 'b'], { n: 2, last: 'b' }));
    assert.deepEqual(capped.next(page('unpaged', ['a', 'b'])), { step: 'probe' });
    // n=1 answered with one entry: the registry honours n and caps even the unpaged answer.
    refused(() => capped.next(page('probe', ['a'], { n: 1 })), /ignores "last" and its answer without "n" still holds only 2 entries \(a page of 2\)/);

    // distribution 2.8 with exactly a page of tags: n=1 answered with everything, so that was the whole list.
    const whole = pager();
    whole.next(page('first', ['b', 'a'], { n: 2 }));
    whole.next(page('last', ['b', 'a'], { n: 2, last: 'a' }));
    assert.deepEqual(whole.next(page('unpaged', ['b', 'a'])), { step: 'probe' });
    assert.deepEqual(whole.next(page('probe', ['b', 'a'], { n: 1 })), { step: 'done' });
    assert.deepEqual(whole.result, ['b', 'a']);

    const shrunk = pager();
    shrunk.next(page('first', ['a', 'b', 'c'], { n: 3 }));
    shrunk.next(page('last', ['d', 'e', 'f'], { n: 3, last: 'c' }));
    shrunk.next(page('last', ['a'], { n: 3, last: 'f' }));
    refused(() => shrunk.next(page('unpaged', ['a', 'b', 'c', 'd'])), /holds 4 entries, fewer than the 6 already listed/);
  });

  test('after the unpaged answer, a full page without Link cannot be continued', () => {
    const p = pager();
    p.next(page('first', ['a', 'b'], { n: 2 }));
    p.next(page('last', ['a', 'b'], { n: 2, last: 'b' }));
    assert.deepEqual(p.next(page('unpaged', ['a', 'b', 'c'], { link: true })), { step: 'link' });
    refused(() => p.next(page('link', ['d', 'e'], { n: 2 })), /page 4 is full \(2 entries\) and has no Link, but the registry ignores "last"/);
  });

  test('pages that repeat entries of earlier pages fail: an overlapping Link, a last that goes backwards', () => {
    const overlap = pager();
    overlap.next(page('first', ['a', 'b', 'c'], { n: 3, link: true }));
    refused(() => overlap.next(page('link', ['c', 'd', 'e'], { n: 3, link: true })), /page 2 repeats 1 entry of earlier pages \("c"\): the registry pages inconsistently/);

    const backwards = pager();
    backwards.next(page('first', ['a', 'b', 'c', 'd'], { n: 4 }));
    refused(() => backwards.next(page('last', ['c', 'd', 'e', 'f'], { n: 4, last: 'd' })), /page 2 repeats 2 entries of earlier pages \("c"\)/);

    // A Link back to earlier entries under a new URL (the PageGuard sees only URLs).
    const loop = pager();
    loop.next(page('first', ['a', 'b'], { n: 2, link: true }));
    refused(() => loop.next(page('link', ['a', 'b'], { n: 2, link: true })), /page 2 repeats 2 entries/);
  });

  test('an entry named twice in one page is kept once, not taken for a repeat', () => {
    const p = pager();
    assert.deepEqual(p.next(page('first', ['a', 'a', 'b'])), { step: 'done' });
    assert.deepEqual(p.result, ['a', 'b']);
  });

  test('the entry cap', () => {
    const p = new Pager(HOST, 'tag list a', 3);
    p.next(page('first', ['a', 'b'], { n: 2, link: true }));
    refused(() => p.next(page('link', ['c', 'd'], { n: 2, link: true })), /more than 3 entries/);
  });

  test('pageSizeOf reads n from the URL', () => {
    assert.equal(pageSizeOf(new URL('https://r/v2/a/tags/list?n=1000&last=x')), 1000);
    assert.equal(pageSizeOf(new URL('https://r/v2/a/tags/list?last=x')), undefined);
    assert.equal(pageSizeOf(new URL('https://r/v2/a/tags/list?n=0')), undefined);
    assert.equal(pageSizeOf(new URL('https://r/v2/a/tags/list?n=abc')), undefined);
  });
});

/** listing.ts's loop over the stand-in's page function, without HTTP. */
function simulate(all: string[], mode: PagingMode, n: number): string[] {
  const p = pager();
  let req: { kind: PageKind; n?: number; last?: string; link?: { n: number; last: string } } | undefined = { kind: 'first', n };
  for (let i = 0; req; i++) {
    if (i > 1000) throw new Error('no end');
    const url = req.link ?? (req.kind === 'probe' ? { n: 1, last: undefined } : { n: req.kind === 'unpaged' ? undefined : req.n, last: req.kind === 'unpaged' ? undefined : req.last });
    const served = pageOf(all, mode, url.n, url.last, n);
    const step: NextStep = p.next({ kind: req.kind, n: url.n, last: url.last, entries: served.page, count: served.page.length, hasLink: served.next !== undefined });
    if (step.step === 'done') return p.result;
    req =
      step.step === 'link'
        ? { kind: 'link', link: served.next! }
        : step.step === 'last'
          ? { kind: 'last', n: step.n, last: step.last }
          : step.step === 'probe'
            ? { kind: 'probe' }
            : { kind: 'unpaged' };
  }
  return p.result;
}

describe('paging against each kind of registry (property)', () => {
  test('every listing is complete or fails with SWRM_PAGINATION, never partial', () => {
    const names = fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,3}$/), { maxLength: 25 }).map((a) => a.sort());
    const modes: PagingMode[] = ['strict', 'ignore-last', 'ignore-last-capped', 'ignore-n', 'link', 'repeat', 'backwards'];
    fc.assert(
      fc.property(names, fc.integer({ min: 1, max: 6 }), fc.constantFrom(...modes), (all, n, mode) => {
        let got: string[] | undefined;
        try {
          got = simulate(all, mode, n);
        } catch (e) {
          assert.ok(e instanceof PaginationError, String(e));
        }
        if (got) assert.deepEqual([...got].sort(), all, `${mode} n=${n}: a partial list`);
        // Which registries can be listed at all (ignore-last-capped caps at n here).
        const secondPage = all.length > n;
        const expectOk = {
          strict: true,
          link: true,
          'ignore-last': all.length !== n,
          'ignore-last-capped': all.length < n,
          // distribution 2.8: exactly a page of tags is told from a capped registry by the n=1 probe,
          // except a page of one entry, which the probe cannot tell apart.
          'ignore-n': !(all.length === 1 && n === 1),
          repeat: !secondPage || n === 1,
          backwards: all.length < n || n === 1,
        }[mode];
        assert.equal(got !== undefined, expectOk, `${mode} n=${n} total=${all.length}`);
      }),
      { numRuns: 600 },
    );
  });
});

describe('Link targets', () => {
  const registry = new URL('https://registry.k8s.io');
  const ar = new URL('https://us-west2-docker.pkg.dev/v2/k8s/pause/tags/list?n=1000');
  test("the registry's origin, and the origin that answered after a redirect, are followed", () => {
    assert.equal(linkRefusal(registry, registry, new URL('https://registry.k8s.io/v2/pause/tags/list?last=x')), undefined);
    assert.equal(linkRefusal(registry, ar, new URL('/v2/k8s/pause/tags/list?last=x', ar)), undefined);
    assert.equal(linkRefusal(registry, ar, new URL('https://registry.k8s.io/v2/pause/tags/list?last=x')), undefined);
  });
  test('any other origin is refused, naming both allowed ones', () => {
    assert.equal(linkRefusal(registry, registry, new URL('https://evil.example/x')), "not on the registry's origin https://registry.k8s.io");
    assert.equal(linkRefusal(registry, ar, new URL('https://evil.example/x')), "not on the registry's origin https://registry.k8s.io nor on https://us-west2-docker.pkg.dev, which answered the page");
    // Another port or scheme is another origin.
    assert.match(linkRefusal(registry, ar, new URL('https://us-west2-docker.pkg.dev:8443/x'))!, /not on the registry's origin/);
    assert.equal(linkRefusal(registry, ar, new URL('http://us-west2-docker.pkg.dev/x')), 'a downgrade from HTTPS to HTTP');
  });
});
