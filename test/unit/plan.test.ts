import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareTags, selectTags } from '../../lib/plan/tags.js';
import { copyMessagesFor, expandMessageFor, ruleFromExpand, runPlanner } from '../../lib/plan/planner.js';
import type { SyncRule } from '../../lib/config/types.js';
import type { CopyImageMessage, RuleMessage } from '../../lib/queue/messages.js';
import { RegistryError } from '../../lib/errors.js';

const rule = (over: Partial<SyncRule>): SyncRule => ({
  origin: 'test: rules[0]',
  source: { registry: 'src.io', repository: 'team/app' },
  destinations: [{ registry: 'dst.io', repository: 'mirror/app' }],
  ...over,
});

describe('tag selection', () => {
  test('version order: numbers compare as numbers, and sort after words', () => {
    const sorted = ['1.10', '1.9', 'v2', '1.2.3', 'v10', '1.2', 'latest'].sort(compareTags);
    assert.deepEqual(sorted, ['latest', 'v2', 'v10', '1.2', '1.2.3', '1.9', '1.10']);
  });
  test('include, exclude, then latest N', () => {
    const tags = ['3.18', '3.19', '3.20', '3.20-rc1', '3.9', 'edge', 'latest'];
    assert.deepEqual(selectTags(tags, { include: [/^3\./], exclude: [/-rc/], latest: 2 }), ['3.19', '3.20']);
    assert.deepEqual(selectTags(tags, { include: [/^edge$/, /^latest$/] }).sort(), ['edge', 'latest']);
    assert.deepEqual(selectTags(tags, undefined).length, 7);
  });
  test('duplicates are dropped', () => assert.deepEqual(selectTags(['a', 'a', 'b'], undefined), ['a', 'b']));
});

describe('messages for a rule', () => {
  test('one message per tag and destination, keeping the tag', () => {
    const ms = copyMessagesFor(rule({ destinations: [{ registry: 'd1', repository: 'x' }, { registry: 'd2', repository: 'y' }] }), ['t1', 't2']);
    assert.deepEqual(
      ms.map((m) => `${m.source} -> ${m.destination}`),
      ['src.io/team/app:t1 -> d1/x:t1', 'src.io/team/app:t2 -> d1/x:t2', 'src.io/team/app:t1 -> d2/y:t1', 'src.io/team/app:t2 -> d2/y:t2'],
    );
    assert.ok(ms.every((m) => m.v === 1 && m.kind === 'copy-image' && m.origin === 'test: rules[0]'));
  });
  test('a digest is pushed by digest unless the destination names a tag', () => {
    const d = 'sha256:' + 'a'.repeat(64);
    assert.equal(copyMessagesFor(rule({ digest: d }), [])[0]?.destination, `dst.io/mirror/app@${d}`);
    const tagged = copyMessagesFor(rule({ digest: d, destinations: [{ registry: 'dst.io', repository: 'm', tag: 'stable' }] }), []);
    assert.equal(tagged[0]?.destination, 'dst.io/m:stable');
    const pinned = copyMessagesFor(rule({ digest: d, tags: ['v1'] }), ['v1'])[0];
    assert.equal(pinned?.source, `src.io/team/app:v1@${d}`);
    assert.equal(pinned?.destination, 'dst.io/mirror/app:v1', 'the tag given with the digest names the destination');
  });
  test('platforms travel with the message', () => {
    assert.deepEqual(copyMessagesFor(rule({}), ['t'], ['linux/amd64'])[0]?.platforms, ['linux/amd64']);
  });
  test('an expand message round-trips to the same rule, filter included', () => {
    const r = rule({ filter: { include: [/^v\d/], exclude: [/rc/], latest: 3 } });
    const back = ruleFromExpand(expandMessageFor(r));
    assert.deepEqual(back.source, r.source);
    assert.deepEqual(back.destinations, r.destinations);
    assert.deepEqual(selectTags(['v1', 'v2-rc', 'x', 'v3', 'v4', 'v5'], back.filter), ['v3', 'v4', 'v5']);
  });
});

describe('runPlanner', () => {
  test('interrupted: rules not yet planned are handed back as expand messages, reason SWRM_INTERRUPTED', async () => {
    const abort = new AbortController();
    const failed: { source: string; code: string }[] = [];
    await runPlanner(
      [rule({ source: { registry: 's', repository: 'one' } }), rule({ source: { registry: 's', repository: 'two' } })],
      async () => {
        abort.abort();
        throw new Error('aborted');
      },
      {
        tasks: async () => undefined,
        ruleFailed: async (m, err) => void failed.push({ source: m.source, code: (err as { code: string }).code }),
        conflict: async () => assert.fail('no conflict here'),
      },
      { signal: abort.signal, concurrency: 1 },
    );
    assert.deepEqual(failed, [
      { source: 's/one', code: 'SWRM_INTERRUPTED' },
      { source: 's/two', code: 'SWRM_INTERRUPTED' },
    ]);
  });
  test('exact rules are used as given; listed rules stream batch by batch; failures are reported', async () => {
    const listed: string[] = [];
    const batches: CopyImageMessage[][] = [];
    const failed: RuleMessage[] = [];
    // Each rule has its own destination repository (rules that share one are held: plan-conflicts.test.ts).
    const to = (repository: string) => [{ registry: 'd', repository }];
    const rules = [
      rule({ source: { registry: 's', repository: 'exact' }, tags: ['1', '2'], destinations: to('exact') }),
      rule({ source: { registry: 's', repository: 'listed' }, destinations: to('listed') }),
      rule({ source: { registry: 's', repository: 'gone' }, destinations: to('gone') }),
      rule({ source: { registry: 's', repository: 'exact' }, tags: ['1'], destinations: to('exact') }), // duplicate of the first
    ];
    await runPlanner(
      rules,
      async (_reg, repo) => {
        listed.push(repo);
        if (repo === 'gone') throw new RegistryError('no', 404, 's', [{ code: 'NAME_UNKNOWN' }]);
        return ['a', 'b', 'c'];
      },
      { tasks: async (ms) => void batches.push(ms), ruleFailed: async (m) => void failed.push(m), conflict: async () => assert.fail('no conflict') },
    );
    assert.deepEqual(listed.sort(), ['gone', 'listed'], 'exact rules must not list tags');
    assert.equal(batches[0]?.length, 2, 'exact tasks come first, at once');
    assert.equal(batches.flat().length, 5, 'the duplicate exact task was not dropped');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.source, 's/gone');
  });
});
