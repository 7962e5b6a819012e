// Issue 16: a rule's `overwrite: false` and `prune` ride every message that stands for the rule
// (copy-image, expand-repository, expand-namespace), survive the strict schemas, and come back as
// the same rule on the copier that expands it; run records count kept and pruned apart from settling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyMessagesFor, expandMessageFor, namespaceMessageFor, ruleFromExpand, ruleFromNamespace } from '../../lib/plan/planner.js';
import { decodeMessage, encodeMessage } from '../../lib/queue/messages.js';
import type { SyncRule } from '../../lib/config/types.js';
import { MemoryStateStore } from '../../lib/state/memory-store.js';
import { RunTracker, runLine } from '../../lib/state/runs.js';
import { emfLine } from '../../lib/lambda/metrics.js';
import { destinationStateFor } from '../../lib/copy/destination-state.js';
import { prunePolicy } from '../../lib/aws/package-grants.js';

const rule: SyncRule = {
  origin: 'sync.yaml: rules[0]',
  source: { registry: 'src.example', repository: 'team/app' },
  destinations: [{ registry: 'dst.example', repository: 'mirror/app' }],
  overwrite: false,
  prune: { max: 10, maxGiven: false, protect: ['v1.*'] },
};

test('expand-repository carries overwrite and prune, and the copier gets the same rule back', () => {
  const m = decodeMessage(encodeMessage(expandMessageFor(rule)));
  assert.equal(m.kind, 'expand-repository');
  if (m.kind !== 'expand-repository') return;
  assert.deepEqual(m.prune, { max: 10, maxGiven: false, protect: ['v1.*'] });
  const back = ruleFromExpand(m);
  assert.equal(back.overwrite, false);
  assert.deepEqual(back.prune, rule.prune);
  // A max that was written stays written; no protect stays empty.
  const given = ruleFromExpand(expandMessageFor({ ...rule, prune: { max: 3, maxGiven: true, protect: [] } }) as never);
  assert.deepEqual(given.prune, { max: 3, maxGiven: true, protect: [] });
});

test('copy-image carries overwrite: false; expand-namespace carries both', () => {
  const [copy] = copyMessagesFor(rule, ['t1']);
  assert.equal(decodeMessage(encodeMessage(copy!)).kind, 'copy-image');
  assert.equal(copy!.overwrite, false);
  assert.equal(copyMessagesFor({ ...rule, overwrite: undefined }, ['t1'])[0]!.overwrite, undefined);
  const ns: SyncRule = { ...rule, source: { registry: 'src.example', repository: 'team/*' }, destinations: [], namespace: { glob: 'team/*', namespace: 'team', targets: ['dst.example/mirror'], mapping: { mode: 'basename' } } };
  const m = decodeMessage(encodeMessage(namespaceMessageFor(ns)));
  if (m.kind !== 'expand-namespace') return assert.fail(m.kind);
  const back = ruleFromNamespace(m);
  assert.equal(back.overwrite, false);
  assert.deepEqual(back.prune, rule.prune);
});

test('the strict schemas refuse overwrite: true and an unknown prune field', () => {
  const m = expandMessageFor(rule);
  assert.throws(() => decodeMessage(JSON.stringify({ ...m, overwrite: true })), /overwrite/);
  assert.throws(() => decodeMessage(JSON.stringify({ ...m, prune: { max: 1, keep: 2 } })), /prune/);
});

test('a run counts kept as a settled outcome and prunes beside the settled messages', async () => {
  const runs = new RunTracker(new MemoryStateStore());
  await runs.start('20260101T000000000Z-abc', 2, { images: 2, repositories: 0 });
  await runs.settled('20260101T000000000Z-abc', 'body1', 'kept');
  await runs.settled('20260101T000000000Z-abc', 'body2', 'copied');
  await runs.pruned('20260101T000000000Z-abc', { pruned: 2, pruneHeld: 0, pruneKept: 1 });
  const [r] = await runs.last(1);
  assert.equal(r!.settled.kept, 1);
  assert.deepEqual(r!.prune, { pruned: 2, pruneHeld: 0, pruneKept: 1 });
  assert.match(runLine(r!), /2 settled \(1 copied, 1 kept\); 2 pruned, 1 kept by prune; done/);
});

test('the copier EMF line carries kept, pruned and held', () => {
  const r = JSON.parse(emfLine({ copied: 0, skipped: 0, filtered: 0, failed: 0, bytes: 0, kept: 2, pruned: 3, pruneHeld: 1 }, { service: 's', timestamp: 1 }));
  assert.deepEqual([r.ImagesKept, r.TagsPruned, r.PruneHeld], [2, 3, 1]);
});

test('a pruned tag\'s record is expired by a put, so a role without DeleteItem forgets it too (the copier\'s)', async () => {
  // The copier role has GetItem, PutItem, UpdateItem (and Query with prune), no DeleteItem.
  class NoDelete extends MemoryStateStore {
    override async delete(): Promise<boolean> {
      throw new Error('AccessDeniedException: not authorized to perform dynamodb:DeleteItem');
    }
  }
  const state = destinationStateFor(new NoDelete(), {});
  await state.record('dst.io', 'm/app', 'gone', { digest: `sha256:${'a'.repeat(64)}`, mediaType: 'x', source: 'src.io/app' });
  await state.record('dst.io', 'm/app', 'stays', { digest: `sha256:${'b'.repeat(64)}`, mediaType: 'x', source: 'src.io/app' });
  await state.forget('dst.io', 'm/app', 'gone');
  assert.deepEqual([...(await state.pushedTags('dst.io', 'm/app')).keys()], ['stays']);
  assert.equal(await state.recorded('dst.io', 'm/app', 'gone'), undefined);
});

test('a rule with prune gives the copier dynamodb:Query on the state table (the records); none without', () => {
  const rule = (prune?: SyncRule['prune']) => ({ origin: 'o', source: { registry: 's.io', repository: 'a' }, destinations: [], ...(prune ? { prune } : {}) }) as SyncRule;
  assert.equal(prunePolicy([rule()], 'CopierRole'), undefined);
  const p = prunePolicy([rule(), rule({ max: 3, maxGiven: true, protect: [] })], 'CopierRole') as { Properties: { Roles: unknown; PolicyDocument: { Statement: unknown[] } } };
  assert.deepEqual(p.Properties.Roles, [{ Ref: 'CopierRole' }]);
  assert.deepEqual(p.Properties.PolicyDocument.Statement, [{ Sid: 'PruneRecords', Effect: 'Allow', Action: ['dynamodb:Query'], Resource: { 'Fn::GetAtt': ['StateTable', 'Arn'] } }]);
});
