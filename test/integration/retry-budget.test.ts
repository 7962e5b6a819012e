// The attempt budget end to end (issue 6, item 7): the real CLI against a proxy that always answers
// 503, counting the requests each blob costs. HTTP retries (3 attempts per idempotent request),
// blob retries and message deliveries add up instead of multiplying: at most 3 requests per blob
// per delivery, so 3 with --retries 0 and 12 with the default --retries 3 (it was 16 per delivery).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { pushImage, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

const DIGEST = /sha256:[0-9a-f]{64}/;

/** Requests per blob digest seen by the proxy. */
function perBlob(proxy: ProxyHandle, from: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const q of proxy.requests.slice(from)) {
    const digest = q.path.includes('/blobs/') ? DIGEST.exec(decodeURIComponent(q.path))?.[0] : undefined;
    if (digest) counts.set(digest, (counts.get(digest) ?? 0) + 1);
  }
  return counts;
}

describe('one retry budget against a registry that always answers 503', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let badSource: ProxyHandle;
  let badDestination: ProxyHandle;
  let dir: string;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    // Manifests pass, so the copy reaches its blobs; every blob request is refused.
    [badSource, badDestination] = await Promise.all([
      startProxy(src, { always503: /^GET \/v2\/.+\/blobs\// }),
      startProxy(dst, { always503: /^\S+ \/v2\/.+\/blobs\// }),
    ]);
    dir = tempDir();
    await pushImage(src, 'app/one', 'v1', { format: 'oci', layers: [randomLayer(20_000)] });
  });
  after(stopAll);

  const sync = (from: string, to: string, retries: string[]) => {
    const file = writeFile(
      dir,
      `sync-${Math.random().toString(36).slice(2)}.yaml`,
      `version: 1
registries:
  "${from}": { insecure: true }
  "${to}": { insecure: true }
rules:
  - source: ${from}/app/one:v1
    destination: ${to}/mirror
`,
    );
    return runCli(['sync', '--config', file, '--dlq', join(dir, `dlq-${Math.random()}.jsonl`), ...retries]);
  };

  for (const [label, flags, deliveries] of [
    ['--retries 0', ['--retries', '0'], 1],
    ['the default --retries 3', [], 4],
  ] as const) {
    test(`source blob GETs: at most 3 per blob per delivery, ${label}`, async (t) => {
      const mark = badSource.requests.length;
      const r = await sync(badSource.host, dst.host, [...flags]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /UNAVAILABLE/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'stack trace printed');
      const counts = perBlob(badSource, mark);
      assert.ok(counts.size >= 1, 'no blob was requested');
      const seen = JSON.stringify([...counts]);
      assert.ok(Math.max(...counts.values()) <= 3 * deliveries, seen);
      // Each delivery ends when one blob has spent its 3 attempts (its sibling is stopped then).
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      assert.ok(total >= 3 * deliveries && total <= 2 * 3 * deliveries, `per image: ${total} ${seen}`);
      // Each delivery HEADs the source tag once (the manifest itself comes from the run's cache after
      // the first: copy/manifest-cache.ts), and the pull-budget probe once before them. No delivery
      // made progress, so each spent an attempt.
      const tagHeads = badSource.requests.slice(mark).filter((q) => q.method === 'HEAD' && q.path.endsWith('/manifests/v1'));
      assert.equal(tagHeads.length, deliveries + 1, 'the message layer did not retry the image');
      const manifestGets = badSource.requests.slice(mark).filter((q) => q.method === 'GET' && q.path.includes('/manifests/sha256:'));
      assert.equal(manifestGets.length, 1, 'the manifest was fetched again on a later delivery');
      t.diagnostic(`${label}: ${tagHeads.length - 1} deliveries; source requests per blob ${seen}; ${total} in all`);
    });
  }

  test('destination blob HEADs, POSTs and PUTs: at most 3 per blob per delivery', async () => {
    // A destination repository that exists (a tag in it): blobs are checked by HEAD first. A fresh
    // one is not (issue 15, item 1): see the next test.
    await pushImage(dst, 'mirror/one', 'other', { format: 'oci', layers: [randomLayer(100)] });
    const mark = badDestination.requests.length;
    const r = await sync(src.host, badDestination.host, ['--retries', '0']);
    assert.equal(r.code, 1, r.stderr);
    const counts = perBlob(badDestination, mark);
    assert.ok(counts.size >= 1);
    assert.ok(Math.max(...counts.values()) <= 3, JSON.stringify([...counts]));
    const uploads = badDestination.requests.slice(mark).filter((q) => q.method === 'POST' && q.path.includes('/blobs/uploads/'));
    assert.equal(uploads.length, 0, 'an upload was opened although every HEAD failed');
  });

  test('a fresh destination repository: no HEAD, and the upload POSTs stay within 3 per blob', async () => {
    const mark = badDestination.requests.length;
    const file = writeFile(
      dir,
      'fresh.yaml',
      `version: 1
registries:
  "${src.host}": { insecure: true }
  "${badDestination.host}": { insecure: true }
rules:
  - source: ${src.host}/app/one:v1
    destination: ${badDestination.host}/fresh
`,
    );
    const r = await runCli(['sync', '--config', file, '--dlq', join(dir, 'dlq-fresh.jsonl'), '--retries', '0']);
    assert.equal(r.code, 1, r.stderr);
    const seen = badDestination.requests.slice(mark);
    assert.equal(seen.filter((q) => q.method === 'HEAD' && q.path.includes('/blobs/')).length, 0, 'a blob HEAD in a fresh repository');
    const posts = seen.filter((q) => q.method === 'POST' && q.path.includes('/blobs/uploads/')).length;
    // config + layer, each at most 3 attempts of its upload POST in the one delivery.
    assert.ok(posts >= 1 && posts <= 3 * 2, `${posts} upload POSTs`);
  });
});
