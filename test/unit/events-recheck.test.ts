// Issue 16: a recheck through the copier (processMessage) does what a scheduled run would do for
// the rules covering its repository: exact copies sent, listed rules (and overlap groups) listed in
// the same delivery and their copies sent (one hop from event to copies); ECR's EventBridge body
// decodes into one. The source's tag list here: every repository holds v1 and v2.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNativeConfig } from '../../lib/config/native.js';
import { createCopyContext } from '../../lib/copy/context.js';
import { InvalidMessageError } from '../../lib/errors.js';
import { type ProcessDeps, processMessage } from '../../lib/pipeline/copier.js';
import { recheckRulesOf } from '../../lib/pipeline/recheck.js';
import { type QueueMessageBody, type RecheckMessage, decodeMessage, encodeMessage, isRuleKind } from '../../lib/queue/messages.js';
import { letterKey } from '../../lib/queue/letters.js';
import type { ClientPool } from '../../lib/registry/pool.js';

const config = parseNativeConfig(
  {
    version: 1,
    rules: [
      { source: 'src.io/a/exact', tags: ['1.0', '2.0'], destination: 'dst.io/m' },
      { source: 'src.io/a/listed', destination: 'dst.io/m' },
      { source: 'src.io/team/*', destination: 'dst.io/ns', repositories: { exclude: ['team/skip'] } },
      { source: 'nginx', tags: ['1.27'], destination: 'dst.io/hub' },
      // Two listed sources of one destination repository (dst.io/shared/app): listed together.
      { source: 'src.io/g1/app', destination: 'dst.io/shared' },
      { source: 'src.io/g2/app', destination: 'dst.io/shared' },
    ],
  },
  'c.yaml',
);

const recheck = (source: string, extra: Partial<RecheckMessage> = {}): RecheckMessage => ({ v: 1, kind: 'recheck', source, action: 'push', via: 'harbor', ...extra });

async function run(m: RecheckMessage | string, withRules = true) {
  const sent: QueueMessageBody[] = [];
  const listed: string[] = [];
  const letters: string[] = [];
  const deps: ProcessDeps = {
    pool: {} as ClientPool,
    ctx: createCopyContext(),
    maxReceiveCount: 3,
    list: async (_registry, repository) => (listed.push(repository), ['v1', 'v2']),
    lister: () => undefined,
    deadLetter: async (_body, reason) => void letters.push(reason.code),
    send: async (bodies) => void sent.push(...bodies.map(decodeMessage)),
    ...(withRules ? recheckRulesOf(config) : {}),
  };
  const body = typeof m === 'string' ? m : encodeMessage(m);
  const processed = await processMessage({ id: '1', body, receiptHandle: 'h', receiveCount: 1 }, deps);
  return { sent, processed, listed, letters };
}

const brief = (m: QueueMessageBody) =>
  m.kind === 'copy-image' ? `copy ${m.source} -> ${m.destination}` : m.kind === 'expand-repository' ? `expand ${m.source} -> ${m.destinations.join(',')}` : m.kind === 'expand-group' ? `group ${m.rules.map((r) => r.source).join('+')}` : m.kind;

describe('recheck through the copier', () => {
  test('(a) an exact-tag rule: its copies, every tag of the rule (the event\'s tag is a hint only)', async () => {
    const { sent, processed } = await run(recheck('src.io/a/exact', { tags: ['1.0'] }));
    assert.deepEqual(sent.map(brief), ['copy src.io/a/exact:1.0 -> dst.io/m/exact:1.0', 'copy src.io/a/exact:2.0 -> dst.io/m/exact:2.0']);
    assert.equal(processed.settlement.action, 'ack');
    assert.equal(processed.outcome?.status, 'expanded');
    assert.equal(processed.outcome?.expandedInto, 2);
    assert.equal(processed.outcome?.kind, 'recheck');
  });
  test('(b) a listed rule: listed in this delivery, one copy per tag it keeps', async () => {
    const { sent, processed, listed } = await run(recheck('src.io/a/listed'));
    assert.deepEqual(listed, ['a/listed']);
    assert.deepEqual(sent.map(brief), ['copy src.io/a/listed:v1 -> dst.io/m/listed:v1', 'copy src.io/a/listed:v2 -> dst.io/m/listed:v2']);
    assert.equal(sent[0]!.kind === 'copy-image' && sent[0]!.origin, 'c.yaml: rules[1]');
    assert.equal(processed.outcome?.expandedInto, 2);
  });
  test('(c) a namespace rule narrowed to the repository, mapped as the planner maps it; excluded repositories are not covered', async () => {
    const { sent } = await run(recheck('src.io/team/app', { tags: ['v1'] }));
    assert.deepEqual(sent.map(brief), ['copy src.io/team/app:v1 -> dst.io/ns/team/app:v1', 'copy src.io/team/app:v2 -> dst.io/ns/team/app:v2']);
    const skipped = await run(recheck('src.io/team/skip'));
    assert.deepEqual(skipped.sent, []);
    assert.equal(skipped.processed.outcome?.note, 'no rule covers src.io/team/skip');
    // Deeper than `team/*`: not the glob's.
    assert.deepEqual((await run(recheck('src.io/team/x/y'))).sent, []);
  });
  test('(d) a repository no rule covers: acked, expanded into 0 with a note, never the DLQ', async () => {
    const { sent, processed } = await run(recheck('src.io/other/thing', { tags: ['1'] }));
    assert.deepEqual(sent, []);
    assert.equal(processed.settlement.action, 'ack');
    assert.equal(processed.outcome?.status, 'expanded');
    assert.equal(processed.outcome?.expandedInto, 0);
    assert.equal(processed.outcome?.note, 'no rule covers src.io/other/thing');
  });
  test('Docker Hub names are matched normalised: docker.io/library/nginx is the rule written `nginx`', async () => {
    const { sent } = await run(recheck('docker.io/library/nginx', { via: 'dockerhub' }));
    assert.deepEqual(sent.map(brief), ['copy docker.io/library/nginx:1.27 -> dst.io/hub/nginx:1.27']);
  });
  test('a delete re-lists listed rules and copies nothing for exact-tag rules', async () => {
    assert.deepEqual((await run(recheck('src.io/a/listed', { action: 'delete' }))).sent.map(brief), ['copy src.io/a/listed:v1 -> dst.io/m/listed:v1', 'copy src.io/a/listed:v2 -> dst.io/m/listed:v2']);
    const exact = await run(recheck('src.io/a/exact', { action: 'delete' }));
    assert.deepEqual(exact.sent, []);
    assert.match(exact.processed.outcome?.note ?? '', /no listed rule covers src\.io\/a\/exact/);
  });
  test('rules sharing a destination repository are listed together (as an expand-group): a tag both claim is held back', async () => {
    const { sent, listed, letters, processed } = await run(recheck('src.io/g1/app'));
    assert.deepEqual(listed.sort(), ['g1/app', 'g2/app']);
    // Both sources hold v1 and v2 for dst.io/shared/app: every tag is claimed twice, none is sent,
    // each held back with its reason (as `sync` and the scheduled run do).
    assert.deepEqual(sent, []);
    assert.deepEqual(letters, ['SWRM_DESTINATION_CONFLICT', 'SWRM_DESTINATION_CONFLICT', 'SWRM_DESTINATION_CONFLICT', 'SWRM_DESTINATION_CONFLICT']);
    assert.equal(processed.settlement.action, 'ack');
  });
  test('what a recheck sends joins its run', async () => {
    const { sent } = await run(recheck('src.io/a/exact', { run: 'run-7' }));
    assert.equal(sent.length, 2);
    assert.ok(sent.every((m) => m.run === 'run-7'));
  });
  test('a copier without the config\'s rules dead-letters it with SWRM_CONFIG (replayable), never pretends', async () => {
    const { sent, processed } = await run(recheck('src.io/a/listed'), false);
    assert.deepEqual(sent, []);
    assert.equal(processed.settlement.action, 'dead-letter');
    assert.equal(processed.settlement.action === 'dead-letter' && processed.settlement.reason.code, 'SWRM_CONFIG');
  });
  test('counted as a rule, not an image; one letter per repository', () => {
    assert.equal(isRuleKind('recheck'), true);
    assert.equal(letterKey(encodeMessage(recheck('src.io/a/b'))), letterKey(encodeMessage(recheck('src.io/a/b', { action: 'delete', tags: ['x'] }))));
  });
  test('the message schema refuses a source with a tag, an unnormalised one, and more than 100 tags', () => {
    for (const bad of [recheck('src.io/a/b:1'), recheck('nginx'), recheck('docker.io/nginx'), recheck('src.io/a/b', { tags: Array.from({ length: 101 }, (_, i) => `t${i}`) }), recheck('src.io/a/b', { tags: ['a@b'] })]) {
      assert.throws(() => decodeMessage(JSON.stringify(bad)), InvalidMessageError, JSON.stringify(bad).slice(0, 80));
    }
  });
});

const ecrEvent = (detail: Record<string, unknown>, over: Record<string, unknown> = {}) =>
  JSON.stringify({
    version: '0',
    id: '13cde686-328b-6117-af20-0e5566167482',
    'detail-type': 'ECR Image Action',
    source: 'aws.ecr',
    account: '123456789012',
    time: '2019-11-16T01:54:34Z',
    region: 'us-west-2',
    resources: [],
    detail: { result: 'SUCCESS', 'repository-name': 'team/app', 'image-digest': `sha256:${'a'.repeat(64)}`, 'action-type': 'PUSH', 'image-tag': 'v1', ...detail },
    ...over,
  });

describe('ECR events through EventBridge, as the queue body', () => {
  test('a successful push is a recheck of the repository with its tag', () => {
    assert.deepEqual(decodeMessage(ecrEvent({})), { v: 1, kind: 'recheck', source: '123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app', tags: ['v1'], action: 'push', via: 'ecr' });
  });
  test('a delete is a delete recheck; a digest-only push has no tag hint; China regions are .amazonaws.com.cn', () => {
    assert.equal((decodeMessage(ecrEvent({ 'action-type': 'DELETE' })) as RecheckMessage).action, 'delete');
    assert.equal((decodeMessage(ecrEvent({ 'image-tag': undefined })) as RecheckMessage).tags, undefined);
    assert.equal((decodeMessage(ecrEvent({}, { region: 'cn-north-1' })) as RecheckMessage).source, '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/app');
  });
  test('a FAILURE is a recheck without the tag (harmless, never the DLQ)', () => {
    const m = decodeMessage(ecrEvent({ result: 'FAILURE' })) as RecheckMessage;
    assert.equal(m.kind, 'recheck');
    assert.equal(m.tags, undefined);
  });
  test('another ECR event type, or a malformed one, is an invalid message naming why', () => {
    assert.throws(() => decodeMessage(ecrEvent({}, { 'detail-type': 'ECR Image Scan' })), /ECR Image Scan.*not one the copier reads/);
    assert.throws(() => decodeMessage(ecrEvent({ 'repository-name': undefined })), (e: unknown) => e instanceof InvalidMessageError && /repository-name/.test(e.message));
    assert.throws(() => decodeMessage(ecrEvent({}, { account: 'x' })), InvalidMessageError);
  });
  test('through the copier it is matched against the rules like any recheck', async () => {
    const { processed } = await run(ecrEvent({}));
    assert.equal(processed.outcome?.kind, 'recheck');
    assert.equal(processed.outcome?.note, 'no rule covers 123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app');
  });
});

describe('the rules a worker matches rechecks against', () => {
  test('work/replay read the rules that still read; with a stale one, or none, no recheck is trusted to them', () => {
    const raw = { version: 1, rules: [{ source: 'src.io/a/listed', destination: 'dst.io/m' }] };
    const fresh = parseNativeConfig(raw, 'c.yaml', {}, { requireRules: false });
    assert.equal(recheckRulesOf(fresh).recheckRules?.rules.length, 1);
    const stale = parseNativeConfig({ ...raw, rules: [...raw.rules, { source: 'Not A Ref' }] }, 'c.yaml', {}, { requireRules: false });
    assert.equal(stale.rules.length, 1, 'the stale rule is dropped, as before');
    assert.deepEqual(recheckRulesOf(stale), {});
    assert.deepEqual(recheckRulesOf(parseNativeConfig({ version: 1 }, 'c.yaml', {}, { requireRules: false })), {});
  });
});
