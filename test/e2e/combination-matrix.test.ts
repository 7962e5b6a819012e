// The combination matrix (issue 13, item 9): features that work alone must work together. Source
// forms {tag, tag list, regex, digest pin, namespace glob} x format {keep, docker} x platform filter
// {none, linux/amd64} x destination {tag (the source's, or named by repo:tag@digest), digest, fan-out to two}. For every cell:
// sync, then verify exits 0; a re-sync makes 0 writes and 0 source manifest GETs; deleting a
// destination image makes verify exit 1 naming exactly it, and a re-sync restores it.
// The rule policies (issue 16) cross the same dimensions: `prune` on a listed rule, a namespace glob and
// a fan-out, and `overwrite: false`, under each format and platform filter (digests at the destination
// then differ from the source's: prune must go by what it pushed, not by the source's digests).
// Lean on purpose: one registry pair, a handful of small images, one config per (format, platform)
// with every source and destination form as its own rule, the four configs run side by side.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { deleteManifest, getManifest, pushImage, pushIndex, randomLayer } from '../helpers/push.js';
import { type CliResult, runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64' };

interface Variant {
  name: string;
  format: 'keep' | 'docker';
  platforms?: string[];
}
const VARIANTS: Variant[] = [
  { name: 'keep-all', format: 'keep' },
  { name: 'keep-amd64', format: 'keep', platforms: ['linux/amd64'] },
  { name: 'docker-all', format: 'docker' },
  { name: 'docker-amd64', format: 'docker', platforms: ['linux/amd64'] },
];

interface VerifyLine {
  source: string;
  destination: string;
  status: string;
  destinationDigest?: string;
}

describe('combination matrix', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  const dir = tempDir();
  let pin: string;

  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    const base = randomLayer(800);
    // m/app: an OCI index (2 platforms), an OCI single and a Docker single; n/app under a namespace glob.
    const v1 = await pushIndex(src, 'm/app', 'v1', { format: 'oci', platforms: [AMD64, ARM64], layers: [base] });
    await pushImage(src, 'm/app', 'v2', { format: 'oci', layers: [base, randomLayer(600)] });
    await pushImage(src, 'm/app', 'v3', { format: 'docker', layers: [base, randomLayer(600)] });
    await pushImage(src, 'm/app', 'old', { format: 'docker', layers: [randomLayer(600)] });
    await pushIndex(src, 'n/app', 'a1', { format: 'oci', platforms: [AMD64, ARM64], layers: [base] });
    await pushImage(src, 'n/app', 'a2', { format: 'docker', layers: [base] });
    pin = v1.digest;
  });
  after(stopAll);

  /** Every (source form x destination form) as a rule of its own, under its own destination prefix. */
  const configFor = (v: Variant): string => {
    const d = (cell: string) => `${dst.host}/${v.name}/${cell}`;
    const fan = (cell: string) => `[${d(`${cell}-a`)}, ${d(`${cell}-b`)}]`;
    const s = `${src.host}/m/app`;
    const rules = [
      [`${s}:v1`, d('tag')],
      [`${s}:v1@${pin}`, d('tag-pinned')],
      [`${s}:v1`, fan('tag-fan')],
      [s, d('list'), 'tags: [v1, v2]'],
      [s, fan('list-fan'), 'tags: [v1, v3]'],
      [s, d('regex'), `tags: { include: ['^v[0-9]$'] }`],
      [s, fan('regex-fan'), `tags: { include: ['^v[23]$'] }`],
      [`${s}@${pin}`, d('pin')],
      [`${s}@${pin}`, fan('pin-fan')],
      [`${src.host}/n/*`, d('ns')],
      [`${src.host}/n/*`, fan('ns-fan')],
    ];
    const body = rules
      .map(([source, destination, extra]) => `  - source: ${source}\n    destination: ${destination}\n${extra ? `    ${extra}\n` : ''}`)
      .join('');
    return writeFile(
      dir,
      `${v.name}.yaml`,
      `version: 1\ndefaults:\n  format: ${v.format}\n${v.platforms ? `  platforms: [${v.platforms.join(', ')}]\n` : ''}registries:\n  "${src.host}": { insecure: true }\n  "${dst.host}": { insecure: true }\nrules:\n${body}`,
    );
  };

  const run = (v: Variant, command: 'sync' | 'verify', extra: string[] = []): Promise<CliResult> =>
    runCli([command, '--config', configFor(v), '--dlq', join(dir, `${v.name}.dlq`), ...(command === 'verify' ? ['--json'] : []), ...extra]);
  const all = <T>(fn: (v: Variant) => Promise<T>): Promise<T[]> => Promise.all(VARIANTS.map(fn));
  const lines = (r: CliResult): VerifyLine[] => r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as VerifyLine);
  const marks = () => [src.mark(), dst.mark()] as const;
  const since = async ([s, d]: readonly [number, number]) => {
    await Promise.all([src.settle(), dst.settle()]);
    return { src: src.requestsSince(s), dst: dst.requestsSince(d) };
  };

  test('every cell: sync, verify, a no-op re-sync, a deletion found by verify and restored by sync', { timeout: 240_000 }, async () => {
    const first = await all((v) => run(v, 'sync'));
    first.forEach((r, i) => assert.equal(r.code, 0, `${VARIANTS[i]!.name}: ${r.stdout}${r.stderr}`));

    const verified = await all((v) => run(v, 'verify'));
    const before: VerifyLine[][] = [];
    verified.forEach((r, i) => {
      const ls = lines(r);
      const bad = ls.filter((l) => l.status !== 'ok');
      assert.deepEqual(bad, [], `${VARIANTS[i]!.name}: verify after sync`);
      assert.equal(r.code, 0, `${VARIANTS[i]!.name}: ${r.stderr}`);
      // tag 1 + tag@pin 1 + fan 2 + list 2 + list-fan 4 + regex 3 + regex-fan 4 + pin 1 + pin-fan 2 + ns 2 + ns-fan 4 = 26
      assert.equal(ls.length, 26, `${VARIANTS[i]!.name}: ${ls.length} images planned`);
      before.push(ls);
    });

    // A re-sync is a no-op: nothing written, no source manifest fetched (HEADs and the memo suffice).
    const m1 = marks();
    const again = await all((v) => run(v, 'sync'));
    again.forEach((r, i) => {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /26 image\(s\): 0 copied, 26 already present/, VARIANTS[i]!.name);
    });
    const noop = await since(m1);
    const writes = noop.dst.filter((e) => e.method !== 'GET' && e.method !== 'HEAD');
    assert.deepEqual(writes.map((e) => `${e.method} ${e.path}`), [], 'the re-sync wrote to the destination');
    const gets = noop.src.filter((e) => e.method === 'GET' && e.path.includes('/manifests/'));
    assert.deepEqual(gets.map((e) => e.path), [], 'the re-sync fetched source manifests');

    // One destination image per cell (per rule, and one side of each fan-out) is deleted.
    const victims = before.map((ls) => {
      const byCell = new Map<string, VerifyLine>();
      for (const l of [...ls].sort((a, b) => a.destination.localeCompare(b.destination))) {
        const cell = l.destination.split('/')[2]!.replace(/-b$/, '-a');
        if (!byCell.has(cell)) byCell.set(cell, l);
      }
      return [...byCell.values()];
    });
    assert.equal(victims[0]!.length, 11, 'one victim per rule');
    for (const vs of victims) {
      for (const l of vs) {
        const repo = l.destination.slice(dst.host.length + 1).replace(/[:@].*$/, '');
        await deleteManifest(dst, repo, l.destinationDigest!);
      }
    }
    const broken = await all((v) => run(v, 'verify'));
    broken.forEach((r, i) => {
      assert.equal(r.code, 1, `${VARIANTS[i]!.name}: verify exited 0 with images deleted`);
      const missing = lines(r).filter((l) => l.status !== 'ok').map((l) => `${l.status} ${l.destination}`).sort();
      assert.deepEqual(missing, victims[i]!.map((l) => `missing ${l.destination}`).sort(), VARIANTS[i]!.name);
    });

    const restored = await all((v) => run(v, 'sync'));
    restored.forEach((r, i) => {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /26 image\(s\): 11 copied, 15 already present/, VARIANTS[i]!.name);
    });
    const healed = await all((v) => run(v, 'verify'));
    healed.forEach((r, i) => {
      assert.equal(r.code, 0, `${VARIANTS[i]!.name}: ${r.stdout}`);
      assert.deepEqual(lines(r).filter((l) => l.status !== 'ok'), []);
    });
  });
  /** Per variant: prune on a listed rule, a namespace glob and a fan-out; overwrite: false on a listed rule. */
  const policyConfig = (v: Variant): string => {
    const d = (cell: string) => `${dst.host}/${v.name}/${cell}`;
    const s = `${src.host}/m/app`;
    const rules = [
      [s, d('p-regex'), `tags: { include: ['^(v[0-9]|gone)$'] }\n    prune: { max: 5 }`],
      [`${src.host}/n/*`, d('p-ns'), 'prune: { max: 5 }'],
      [s, `[${d('p-fan-a')}, ${d('p-fan-b')}]`, `tags: { include: ['^(v2|gone)$'] }\n    prune: { max: 5 }`],
      [s, d('o-regex'), `tags: { include: ['^v[23]$'] }\n    overwrite: false`],
    ];
    const body = rules.map(([source, destination, extra]) => `  - source: ${source}\n    destination: ${destination}\n    ${extra}\n`).join('');
    return writeFile(
      dir,
      `${v.name}-policy.yaml`,
      `version: 1\ndefaults:\n  format: ${v.format}\n${v.platforms ? `  platforms: [${v.platforms.join(', ')}]\n` : ''}registries:\n  "${src.host}": { insecure: true }\n  "${dst.host}": { insecure: true }\nrules:\n${body}`,
    );
  };

  test('policies in every format and platform filter: prune deletes what the source deleted, overwrite: false keeps', { timeout: 240_000 }, async () => {
    const gone = [
      await pushImage(src, 'm/app', 'gone', { format: 'oci', layers: [randomLayer(500)] }),
      await pushImage(src, 'n/app', 'gone', { format: 'docker', layers: [randomLayer(500)] }),
    ];
    let n = 0;
    const reports = new Map<string, string>();
    const sync = (v: Variant) => {
      reports.set(v.name, join(dir, `${v.name}-policy-${++n}.json`));
      return runCli(['sync', '--config', policyConfig(v), '--dlq', join(dir, `${v.name}-policy.dlq`), '--report', reports.get(v.name)!]);
    };
    // Someone else's o-regex:v2 is at the destination before the first run.
    const theirs = await Promise.all(VARIANTS.map((v) => pushImage(dst, `${v.name}/o-regex/app`, 'v2', { format: 'docker', layers: [randomLayer(400)] })));
    const first = await all(sync);
    first.forEach((r, i) => assert.equal(r.code, 0, `${VARIANTS[i]!.name}: ${r.stdout}${r.stderr}`));
    assert.match(first[0]!.stdout, /1 kept \(overwrite: false\)/);
    await deleteManifest(src, 'm/app', gone[0]!.digest);
    await deleteManifest(src, 'n/app', gone[1]!.digest);

    const second = await all(sync);
    for (const [i, r] of second.entries()) {
      const v = VARIANTS[i]!;
      assert.equal(r.code, 0, `${v.name}: ${r.stdout}${r.stderr}`);
      const out = (JSON.parse(readFileSync(reports.get(v.name)!, 'utf8')) as { images: { kind?: string; status: string; destination: string }[] }).images;
      const pruned = out.filter((o) => o.status === 'pruned').map((o) => o.destination.slice(dst.host.length + 1)).sort();
      assert.deepEqual(pruned, [`${v.name}/p-fan-a/app:gone`, `${v.name}/p-fan-b/app:gone`, `${v.name}/p-ns/n/app:gone`, `${v.name}/p-regex/app:gone`], v.name);
      const kept = out.filter((o) => o.status === 'kept').map((o) => o.destination.slice(dst.host.length + 1));
      assert.deepEqual(kept, [`${v.name}/o-regex/app:v2`], v.name);
      const o = await getManifest(dst, `${v.name}/o-regex/app`, 'v2');
      assert.equal(o?.digest, theirs[i]!.digest, `${v.name}: overwrite: false left their image`);
      for (const cell of ['p-regex/app', 'p-fan-a/app', 'p-fan-b/app', 'p-ns/n/app']) {
        assert.equal(await getManifest(dst, `${v.name}/${cell}`, 'gone'), undefined, `${v.name}/${cell}:gone deleted`);
      }
      assert.ok(await getManifest(dst, `${v.name}/p-regex/app`, 'v2'), `${v.name}: what the source still has stays`);
    }
  });
});
