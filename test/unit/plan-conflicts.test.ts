// Destination collisions (issue 6, item 1) and the validation of listed tags (item 11): pure
// planner logic, with scripted tag listers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNativeConfig } from '../../lib/config/native.js';
import { parseImagesFile } from '../../lib/config/image-syncer.js';
import type { SyncRule } from '../../lib/config/types.js';
import { ConfigError, DestinationConflictError, ErrorCode } from '../../lib/errors.js';
import { findConflicts, overlapGroups, partitionConflictBodies } from '../../lib/plan/conflicts.js';
import { type PlanSink, type TagLister, runPlanner } from '../../lib/plan/planner.js';
import { invalidTags, selectTags } from '../../lib/plan/tags.js';
import { type CopyImageMessage, encodeMessage } from '../../lib/queue/messages.js';

const D = `sha256:${'d'.repeat(64)}`;

/** A sink that records everything, in order. */
function recorder() {
  const events: string[] = [];
  const sent: CopyImageMessage[] = [];
  const conflicts: { m: CopyImageMessage; err: DestinationConflictError }[] = [];
  const sink: PlanSink = {
    tasks: async (ms) => {
      sent.push(...ms);
      events.push(...ms.map((m) => `task ${m.source}`));
    },
    ruleFailed: async (m) => void events.push(`failed ${m.source}`),
    conflict: async (m, err) => {
      conflicts.push({ m, err });
      events.push(`conflict ${m.source}`);
    },
  };
  return { sink, events, sent, conflicts };
}

/** Two teams, one destination namespace, default basename mapping: the collision of the issue. */
function teamsConfig(tagsA?: string[], tagsB?: string[]): SyncRule[] {
  const rule = (team: string, tags?: string[]) => ({ source: `src.io/${team}/app`, destination: 'dst.io/mirror', ...(tags ? { tags } : {}) });
  return parseNativeConfig({ version: 1, rules: [rule('team-a', tagsA), rule('team-b', tagsB), { source: 'src.io/other/tool', destination: 'dst.io/mirror' }] }, 'sync.yaml').rules;
}

const lister =
  (tags: Record<string, string[]>, gate?: Promise<void>): TagLister =>
  async (_registry, repository) => {
    if (gate && repository === 'team-b/app') await gate;
    return tags[repository] ?? [];
  };

describe('finding conflicts', () => {
  const m = (source: string, destination: string, origin?: string): CopyImageMessage => ({ v: 1, kind: 'copy-image', source, destination, origin });
  test('two sources, one destination tag: one error naming both sources and both origins', () => {
    const [err, ...rest] = findConflicts([m('s/team-a/app:1.0', 'd/mirror/app:1.0', 'rules[0]'), m('s/team-b/app:1.0', 'd/mirror/app:1.0', 'rules[1]'), m('s/x:1', 'd/x:1')]);
    assert.equal(rest.length, 0);
    assert.equal(err?.code, ErrorCode.DESTINATION_CONFLICT);
    assert.equal(err?.destination, 'd/mirror/app:1.0');
    assert.match(err!.message, /s\/team-a\/app:1\.0 \(rules\[0\]\) and s\/team-b\/app:1\.0 \(rules\[1\]\)/);
    assert.doesNotMatch(err!.message, /\n/, 'one line');
  });
  test('the same source twice, or two pushes by digest, are not conflicts', () => {
    assert.deepEqual(findConflicts([m('s/a:1', 'd/a:1', 'r0'), m('s/a:1', 'd/a:1', 'r1')]), []);
    assert.deepEqual(findConflicts([m(`s/a@${D}`, `d/a@${D}`), m(`s/b@${D}`, `d/a@${D}`)]), []);
  });
  test('rules sharing a destination repository are grouped, transitively; lone rules are not', () => {
    const r = (...repos: string[]): SyncRule => ({ origin: 'o', source: { registry: 's', repository: 'x' }, destinations: repos.map((repository) => ({ registry: 'd', repository })) });
    const groups = overlapGroups([r('a'), r('b', 'c'), r('c', 'e'), r('e'), r('a'), r('z')]);
    assert.equal(groups[0], groups[4]);
    assert.ok(groups[1] !== undefined && groups[1] === groups[2] && groups[2] === groups[3]);
    assert.notEqual(groups[0], groups[1]);
    assert.equal(groups[5], undefined);
  });
});

describe('planning with conflicts', () => {
  test('exact tags: the plan fails with a ConfigError listing the conflict, before any task is sent', async () => {
    const rec = recorder();
    const err = await runPlanner(teamsConfig(['1.0', '2.0'], ['1.0']), lister({ 'other/tool': ['t'] }), rec.sink).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.problems.length, 1);
    assert.match(err.problems[0]!, /dst\.io\/mirror\/app:1\.0 .*src\.io\/team-a\/app:1\.0 \(sync\.yaml: rules\[0\]\) and src\.io\/team-b\/app:1\.0 \(sync\.yaml: rules\[1\]\)/);
    assert.deepEqual(rec.events, [], 'nothing sent, nothing listed into the sink');
  });

  test('listed tags: both sides of a conflict go to the conflict sink, the rest is sent; a lone rule streams first', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const rec = recorder();
    const tags = { 'team-a/app': ['1.0', 'a-only'], 'team-b/app': ['1.0', 'b-only'], 'other/tool': ['t'] };
    const planning = runPlanner(teamsConfig(), lister(tags, gate), rec.sink);
    // team-b is still listing: team-a's tasks are held (they might collide), the lone rule is not.
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(rec.events, ['task src.io/other/tool:t']);
    open();
    await planning;
    assert.deepEqual(rec.sent.map((m) => m.destination).sort(), ['dst.io/mirror/app:a-only', 'dst.io/mirror/app:b-only', 'dst.io/mirror/tool:t']);
    assert.deepEqual(rec.conflicts.map((c) => c.m.source).sort(), ['src.io/team-a/app:1.0', 'src.io/team-b/app:1.0']);
    for (const { err } of rec.conflicts) {
      assert.equal(err.code, ErrorCode.DESTINATION_CONFLICT);
      assert.match(err.message, /rules\[0\].*rules\[1\]/, 'both rule origins');
    }
  });

  test('an exact tag against a listed one: both held, neither sent', async () => {
    const rec = recorder();
    await runPlanner(teamsConfig(['1.0', '3.0']), lister({ 'team-b/app': ['1.0', '2.0'] }), rec.sink);
    assert.deepEqual(rec.conflicts.map((c) => c.m.source).sort(), ['src.io/team-a/app:1.0', 'src.io/team-b/app:1.0']);
    assert.deepEqual(rec.sent.map((m) => m.source).sort(), ['src.io/team-a/app:3.0', 'src.io/team-b/app:2.0']);
  });

  test('a rule that cannot be listed still releases what its group held', async () => {
    const rec = recorder();
    const list: TagLister = async (_r, repo) => {
      if (repo === 'team-b/app') throw new Error('no such repository');
      return ['1.0'];
    };
    await runPlanner(teamsConfig(), list, rec.sink);
    assert.ok(rec.events.includes('failed src.io/team-b/app'));
    assert.ok(rec.sent.some((m) => m.source === 'src.io/team-a/app:1.0'));
    assert.deepEqual(rec.conflicts, []);
  });

  test('image-syncer --images fan-out: a conflict on one destination fails only that destination', async () => {
    const exact = parseImagesFile({ 'a.io/team-a/app:1.0': ['d1.io/mirror/app', 'd2.io/a/app'], 'a.io/team-b/app:1.0': 'd1.io/mirror/app' }, 'images.yaml');
    const err = await runPlanner(exact, lister({}), recorder().sink).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems.length, 1);
    assert.match(err.problems[0]!, /^destination d1\.io\/mirror\/app:1\.0 .*images\.yaml: "a\.io\/team-a\/app:1\.0".*images\.yaml: "a\.io\/team-b\/app:1\.0"/);

    const listed = parseImagesFile({ 'a.io/team-a/app': ['d1.io/mirror/app', 'd2.io/a/app'], 'a.io/team-b/app': 'd1.io/mirror/app' }, 'images.yaml');
    const rec = recorder();
    await runPlanner(listed, lister({ 'team-a/app': ['1.0'], 'team-b/app': ['1.0'] }), rec.sink);
    assert.deepEqual(rec.sent.map((m) => m.destination), ['d2.io/a/app:1.0'], 'the other fan-out destination is copied');
    assert.deepEqual(rec.conflicts.map((c) => `${c.m.source} -> ${c.m.destination}`).sort(), [
      'a.io/team-a/app:1.0 -> d1.io/mirror/app:1.0',
      'a.io/team-b/app:1.0 -> d1.io/mirror/app:1.0',
    ]);
  });

  test('replayed dead letters: conflicting bodies are held, the others run', () => {
    const body = (source: string, destination: string) => encodeMessage({ v: 1, kind: 'copy-image', source, destination });
    const a = body('s/a:1', 'd/x:1');
    const b = body('s/b:1', 'd/x:1');
    const c = body('s/c:1', 'd/c:1');
    const { clear, held } = partitionConflictBodies([a, b, c, 'not json']);
    assert.deepEqual(clear, [c, 'not json']);
    assert.deepEqual(held.map((h) => h.body), [a, b]);
  });
});

describe('listed tags are validated (item 11)', () => {
  const bad = [`x@${D}`, '-lead', '.dot', 'a/b', 'é', 'x'.repeat(129), ''];
  test('tags outside the grammar are dropped and reported; valid ones are kept', () => {
    assert.deepEqual(selectTags(['v1', ...bad, 'x'.repeat(128), '_u'], undefined), ['v1', 'x'.repeat(128), '_u']);
    assert.deepEqual(invalidTags(['v1', ...bad, `x@${D}`]), bad);
  });
  test('a listed "x@sha256:..." never becomes a message; the planner warns with the rule origin', async () => {
    const rec = recorder();
    const warned: string[] = [];
    await runPlanner(teamsConfig().slice(2), lister({ 'other/tool': ['ok', `x@${D}`] }), rec.sink, {
      onInvalidTags: (source, tags, origin) => warned.push(`${source} ${origin} ${tags.join(',')}`),
    });
    assert.deepEqual(rec.sent.map((m) => m.source), ['src.io/other/tool:ok']);
    assert.deepEqual(warned, [`src.io/other/tool sync.yaml: rules[2] x@${D}`]);
  });
});
