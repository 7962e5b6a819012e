// Issue 9 items 1, 3, 4: namespace rules (glob sources), repository and tag filters, destination
// mapping, through fake listers (no registry): the config checks, the planner's expansion, push
// times, and the Lambda planner's two-level fan-out.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNativeConfig } from '../../lib/config/native.js';
import type { SyncRule } from '../../lib/config/types.js';
import { runScheduledPlan } from '../../lib/lambda/planner.js';
import type { ListedRepository, ListedTag, RepositoryLister } from '../../lib/listing/types.js';
import { ExplainCollector } from '../../lib/plan/explain.js';
import { mapRepository } from '../../lib/plan/mapping.js';
import { expandMessageFor, ruleFromExpand, runPlanner, type PlanSink } from '../../lib/plan/planner.js';
import { explainTags, selectTags } from '../../lib/plan/tags.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { type CopyImageMessage, decodeMessage } from '../../lib/queue/messages.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.parse('2025-06-01T00:00:00Z');
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();

class FakeLister implements RepositoryLister {
  readonly kind = 'fake';
  namespaces: (string | undefined)[] = [];
  constructor(private readonly repos: ListedRepository[], readonly tagTimes?: (repo: string) => Promise<ListedTag[]>) {}
  async *repositories(namespace: string | undefined): AsyncIterable<ListedRepository> {
    this.namespaces.push(namespace);
    for (const r of this.repos) if (!namespace || r.repository.startsWith(`${namespace}/`)) yield r;
  }
}

const config = (rules: unknown[]) => parseNativeConfig({ version: 1, rules }, 'c.yaml');
const problems = (rules: unknown[]): string[] => {
  try {
    config(rules);
    return [];
  } catch (err) {
    return (err as { problems: string[] }).problems;
  }
};

function recorder() {
  const tasks: CopyImageMessage[] = [];
  const conflicts: string[] = [];
  const sink: PlanSink = {
    tasks: async (ms) => void tasks.push(...ms),
    ruleFailed: async (m, err) => assert.fail(`${m.source}: ${String(err)}`),
    conflict: async (m) => void conflicts.push(`${m.source} -> ${m.destination}`),
  };
  return { tasks, conflicts, sink, pairs: () => tasks.map((m) => `${m.source} -> ${m.destination}`).sort() };
}

describe('namespace rules in the config', () => {
  test('a glob source keeps the fixed namespace for the lister, and keeps the path by default', () => {
    const [r] = config([{ source: 'src.io/team/**', destination: 'dst.io/mirror' }]).rules;
    assert.equal(r!.namespace?.namespace, 'team');
    assert.equal(r!.namespace?.glob, 'team/**');
    assert.deepEqual(r!.namespace?.mapping, { mode: 'path' });
    assert.equal(config([{ source: 'src.io/**', destination: 'dst.io' }]).rules[0]!.namespace?.namespace, undefined);
  });

  test('bad input: each a config error with its path and a fix', () => {
    const lines = problems([
      { source: 'src.io/team/[ab', destination: 'dst.io/m' },
      { source: 'src.io/team/*', destination: 'dst.io/m', tags: { semver: 'not a range' } },
      { source: 'src.io/team/*', destination: 'dst.io/m', tags: { pushedWithinDays: 0 } },
      { source: 'src.io/team/*', destination: 'dst.io/m', stripLevels: 2 },
      { source: 'src.io/team/app', destination: 'dst.io/m', mapping: 'path', stripLevels: 2 },
      { source: 'src.io/team/*', destination: 'dst.io/m', repositories: { include: ['{a,b'] } },
      { source: 'src.io/team/app', destination: 'dst.io/m', repositories: { include: ['x'] } },
      { source: 'src.io/team/*', destination: 'dst.io/m', tags: { pushedWithinDays: -3 } },
    ]);
    const at = (i: number) => lines.filter((l) => l.startsWith(`c.yaml: rules[${i}]`)).join('\n');
    assert.match(at(0), /rules\[0\]\.source: invalid glob "team\/\[ab"/);
    assert.match(at(1), /rules\[1\]\.tags\.semver: "not a range" is not a semver range; write e\.g\. ">=1\.2 <2"/);
    assert.match(at(2), /rules\[2\]\.tags\.pushedWithinDays: expected a whole number of days, 1 or more/);
    assert.match(at(3), /rules\[3\]\.stripLevels: stripLevels 2 removes all .*use at most 1/);
    assert.match(at(4), /rules\[4\]\.stripLevels: stripLevels 2 removes all of "team\/app" \(2 levels\); use at most 1/);
    assert.match(at(5), /rules\[5\]\.repositories\.include\[0\]: invalid glob/);
    assert.match(at(6), /rules\[6\]\.repositories: only valid when the source is a glob/);
    assert.match(at(7), /rules\[7\]\.tags\.pushedWithinDays/);
  });
});

describe('destination mapping', () => {
  test('keep the path, strip levels, prefix, template', () => {
    assert.deepEqual(mapRepository('s.io', 'team/sub/app', { mode: 'path' }), { path: 'team/sub/app' });
    assert.deepEqual(mapRepository('s.io', 'team/sub/app', { mode: 'path', stripLevels: 1 }), { path: 'sub/app' });
    assert.deepEqual(mapRepository('s.io', 'team/sub/app', { mode: 'path', stripLevels: 1, prefix: 'org/hub' }), { path: 'org/hub/sub/app' });
    assert.deepEqual(mapRepository('s.io:5000', 'team/app', { mode: 'path', template: '{registry}-{namespace}-{name}' }), { path: 's.io-team-app' });
    assert.match((mapRepository('s.io', 'app', { mode: 'path', stripLevels: 1 }) as { error: string }).error, /removes all of "app"/);
  });

  test('two listed repositories stripped onto one destination: a collision, sent to the DLQ, never copied', async () => {
    const rules = config([{ source: 'src.io/**', destination: 'dst.io/org', stripLevels: 1, tags: { include: ['.'] } }]).rules;
    const lister = new FakeLister([
      { repository: 'a/app', tags: [{ name: '1.0' }, { name: 'a-only' }] },
      { repository: 'b/app', tags: [{ name: '1.0' }] },
      { repository: 'b/tool', tags: [{ name: 't' }] },
    ]);
    const rec = recorder();
    await runPlanner(rules, async () => assert.fail('tags came with the listing'), rec.sink, { repositories: () => lister });
    assert.deepEqual(rec.pairs(), ['src.io/a/app:a-only -> dst.io/org/app:a-only', 'src.io/b/tool:t -> dst.io/org/tool:t']);
    assert.deepEqual(rec.conflicts.sort(), ['src.io/a/app:1.0 -> dst.io/org/app:1.0', 'src.io/b/app:1.0 -> dst.io/org/app:1.0']);
    assert.deepEqual(lister.namespaces, [undefined], 'HOST/** lists the whole registry');
  });
});

describe('planner over a namespace rule', () => {
  test('repository globs and tag filters (regex, semver, latest) select exactly, and --explain says why', async () => {
    const rules = config([
      {
        source: 'src.io/team/*',
        destination: 'dst.io/mirror',
        prefix: 'hub',
        repositories: { include: ['team/*-api', 'team/web'], exclude: ['team/old-*'] },
        tags: { exclude: ['-rc'], semver: '>=1.2 <2', latest: 2 },
      },
    ]).rules;
    const tags: Record<string, string[]> = {
      'team/pay-api': ['1.0.0', 'v1.2.0', '1.3', '1.4.0-rc1', '1.5.1', '2.0.0', 'latest'],
      'team/web': ['1.2.0'],
    };
    const lister = new FakeLister(['team/pay-api', 'team/web', 'team/old-api', 'team/db', 'team/deep/x', 'other/y'].map((repository) => ({ repository })));
    const explain = new ExplainCollector();
    const rec = recorder();
    await runPlanner(rules, async (_r, repo) => tags[repo] ?? assert.fail(`listed ${repo}`), rec.sink, { repositories: () => lister, explain });
    assert.deepEqual(rec.pairs(), [
      'src.io/team/pay-api:1.3 -> dst.io/mirror/hub/team/pay-api:1.3',
      'src.io/team/pay-api:1.5.1 -> dst.io/mirror/hub/team/pay-api:1.5.1',
      'src.io/team/web:1.2.0 -> dst.io/mirror/hub/team/web:1.2.0',
    ]);
    assert.deepEqual(lister.namespaces, ['team']);
    const text = explain.lines().join('\n');
    assert.match(text, /repositories: 5 listed, 2 kept: team\/pay-api, team\/web/);
    assert.match(text, /team\/old-api \(repositories\.exclude "team\/old-\*"\)/);
    assert.match(text, /team\/db \(not in repositories\.include\)/);
    assert.match(text, /team\/deep\/x \(outside team\/\*\)/);
    assert.match(text, /exclude \/-rc\/: dropped 1: 1\.4\.0-rc1/);
    assert.match(text, /semver >=1\.2 <2: dropped 3: 1\.0\.0, 2\.0\.0, latest/);
    assert.match(text, /latest 2: dropped 1: v1\.2\.0/);
    assert.match(text, /kept 2: 1\.3, 1\.5\.1/);
  });

  test('a glob matching nothing is a warning naming the rule and host, not an error', async () => {
    const rules = config([{ source: 'src.io/nobody/*', destination: 'dst.io/m' }]).rules;
    const warnings: string[] = [];
    const rec = recorder();
    await runPlanner(rules, async () => [], rec.sink, { repositories: () => new FakeLister([{ repository: 'team/a' }]), onWarning: (w) => warnings.push(w) });
    assert.equal(rec.tasks.length, 0);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /c\.yaml: rules\[0\]: src\.io\/nobody\/\* matches no repository on src\.io/);
  });
});

describe('pushedWithinDays', () => {
  const rule = (): SyncRule[] => config([{ source: 'src.io/team/app', destination: 'dst.io/m', tags: { pushedWithinDays: 30 } }]).rules;

  test('tags pushed within N days, from the lister\'s push times', async () => {
    const times = async () => [
      { name: 'new', pushedAt: ago(2) },
      { name: 'old', pushedAt: ago(90) },
      { name: 'edge', pushedAt: ago(29) },
    ];
    const rec = recorder();
    const warnings: string[] = [];
    await runPlanner(rule(), async () => ['new', 'old', 'edge'], rec.sink, { repositories: () => new FakeLister([], times), now: NOW, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(rec.pairs(), ['src.io/team/app:edge -> dst.io/m/app:edge', 'src.io/team/app:new -> dst.io/m/app:new']);
    assert.deepEqual(warnings, []);
  });

  test('push times that came with the listing are used without another call', () => {
    const s = explainTags(['a', 'b'], { pushedWithinDays: 7 }, { pushedAt: new Map([['a', ago(1)], ['b', ago(8)]]), now: NOW });
    assert.deepEqual(s.kept, ['a']);
    assert.deepEqual(s.steps[0]?.dropped, ['b']);
  });

  test('without push times: one warning per rule, and every tag kept', async () => {
    const rec = recorder();
    const warnings: string[] = [];
    await runPlanner(rule(), async () => ['x', 'y'], rec.sink, { repositories: () => new FakeLister([]), now: NOW, onWarning: (w) => warnings.push(w) });
    assert.equal(rec.tasks.length, 2);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /c\.yaml: rules\[0\]: src\.io gives no push times \(fake\), so pushedWithinDays 30 keeps every tag/);
  });
});

describe('semver filter', () => {
  test('a leading v is allowed, X.Y counts as X.Y.0, other tags are dropped', () => {
    assert.deepEqual(selectTags(['v1.2.3', '1.4', '1.1.9', 'latest', '1.2.3-beta.1', 'stable-1.3'], { semver: '^1.2' }), ['v1.2.3', '1.4']);
  });
  test('semver and pushedWithinDays travel in the expand message', () => {
    const [r] = config([{ source: 'src.io/team/app', destination: 'dst.io/m', tags: { semver: '>=2', pushedWithinDays: 5 } }]).rules;
    const m = expandMessageFor(r!);
    assert.deepEqual(m.filter, { semver: '>=2', pushedWithinDays: 5 });
    assert.deepEqual(decodeMessage(JSON.stringify(m)), m);
    assert.deepEqual(ruleFromExpand(m).filter?.semver, '>=2');
    assert.deepEqual(ruleFromExpand(m).filter?.pushedWithinDays, 5);
  });
});

describe('Lambda planner with a namespace rule', () => {
  test('the planner lists repositories only: one expand message per kept repository, filters carried', async () => {
    const cfg = config([
      { source: 'src.io/team/**', destination: 'dst.io/mirror', stripLevels: 1, repositories: { exclude: ['team/tmp/**'] }, tags: { semver: '^1' } },
      { source: 'src.io/solo/app', destination: 'dst.io/mirror', tags: ['v1'] },
    ]);
    const q = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 3, dlq: new InMemoryDeadLetterStore() });
    const lister = new FakeLister(['team/a', 'team/sub/b', 'team/tmp/c'].map((repository) => ({ repository })));
    const summary = await runScheduledPlan({ config: cfg, queue: q, repositories: () => lister });
    assert.deepEqual({ images: summary.images, repositories: summary.repositories }, { images: 1, repositories: 2 });
    const sent = (await q.receive(100, 0)).map((m) => decodeMessage(m.body));
    const expands = sent.flatMap((m) => (m.kind === 'expand-repository' ? [m] : []));
    assert.deepEqual(expands.map((m) => [m.source, m.destinations]), [
      ['src.io/team/a', ['dst.io/mirror/a']],
      ['src.io/team/sub/b', ['dst.io/mirror/sub/b']],
    ]);
    assert.ok(expands.every((m) => m.filter?.semver === '^1'));
  });
});

test('a digest pin is not a glob: repo@sha256:... and repo:tag@sha256:... stay single-repository rules', async () => {
  const { isGlob } = await import('../../lib/plan/namespaces.js');
  const d = `sha256:${'a'.repeat(64)}`;
  assert.equal(isGlob(`team/app@${d}`), false);
  assert.equal(isGlob(`team/app:v1@${d}`), false);
  assert.equal(isGlob('team/*'), true);
  assert.equal(isGlob('team/@(a|b)'), true);
});

test('a listing API that refuses names the rule as well as the host', async () => {
  const { expandNamespaceRules } = await import('../../lib/plan/namespaces.js');
  const { ListingError } = await import('../../lib/errors.js');
  const [rule] = parseNativeConfig({ version: 1, rules: [{ source: 'harbor.example.com/team/*', destination: 'r.example.com/x' }] }, 'sync.yaml').rules;
  const refusing: RepositoryLister = {
    kind: 'harbor',
    // eslint-disable-next-line require-yield
    async *repositories() {
      throw new ListingError('harbor.example.com', 'answered an HTML page, not JSON: is apiEndpoint the API (https://<host>/api/v2.0)?');
    },
  };
  // The rule is reported as failed (to be listed again or dead-lettered), never thrown: the others go on.
  const other = parseNativeConfig({ version: 1, rules: [{ source: 'r.example.com/a/b:v1', destination: 'r.example.com/x' }] }, 'sync.yaml').rules[0]!;
  const out = await expandNamespaceRules([rule!, other], () => refusing);
  assert.deepEqual(out.rules, [other]);
  assert.equal(out.failed.length, 1);
  const e = out.failed[0]!.error as Error & { code?: string };
  assert.equal(out.failed[0]!.rule, rule);
  assert.equal(e.code, 'SWRM_LISTING');
  assert.match(e.message, /^sync\.yaml: rules\[0\]: listing harbor\.example\.com: answered an HTML page/);
});
