// The pre-flight's pure half: every SWR destination name is checked and all problems are listed in
// one error; other registries are not SWR's business; a console login skips the organization check
// with one warning; replayed message bodies yield their destinations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseNativeConfig } from '../../lib/config/native.js';
import { ConfigError, ErrorCode } from '../../lib/errors.js';
import { messageDestinations, ruleDestinations, swrPreflight, SwrNamesError } from '../../lib/vendors/swr/preflight.js';
import { exitCodeFor } from '../../lib/cli/errors.js';
import { runScheduledPlan } from '../../lib/lambda/planner.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';

const SWR = 'swr.cn-north-4.myhuaweicloud.com';
const config = (destinations: Array<{ destination: string; name?: string }>) => parseNativeConfig({
  version: 1,
  registries: { [SWR]: { username: 'cn-north-4@AK', password: 'x' } },
  rules: destinations.map((d) => ({ source: 'src.example/team/app', tags: ['v1'], ...d })),
}, 'c.yaml');

const capture = () => {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'info' }, new Writable({ write(chunk, _e, cb) { lines.push(JSON.parse(String(chunk))); cb(); } }));
  return { logger, lines };
};

test('every bad SWR destination name is listed in one error (exit 2); other registries are not checked', async () => {
  const c = config([
    { destination: `${SWR}/9team` },
    { destination: `${SWR}/team`, name: 'a__b' },
    { destination: `${SWR}/ok` },
    { destination: 'other.example/9anything' },
  ]);
  await assert.rejects(swrPreflight(ruleDestinations(c.rules), c.resolve), (err: unknown) => {
    assert.ok(err instanceof SwrNamesError && err instanceof ConfigError);
    assert.equal(err.code, ErrorCode.SWR_NAME);
    assert.equal(exitCodeFor(err), 2);
    assert.equal(err.problems.length, 2);
    assert.match(err.problems[0]!, /^swr\.cn-north-4\.myhuaweicloud\.com\/9team\/app: SWR name "9team": an organization name starts with a lowercase letter$/);
    assert.match(err.problems[1]!, /team\/a__b: SWR name "a__b": a repository name has no two separators in a row$/);
    return true;
  });
});

test('a console login: names pass, organizations are not checked, one warning says why', async () => {
  const c = config([{ destination: `${SWR}/team` }, { destination: `${SWR}/team`, name: 'other' }]);
  const { logger, lines } = capture();
  const r = await swrPreflight(ruleDestinations(c.rules), c.resolve, { logger });
  assert.deepEqual(r.unchecked, [SWR]);
  const warns = lines.filter((l) => l.level === 40);
  assert.equal(warns.length, 1);
  assert.match(warns[0]!.msg, /organizations on swr\.cn-north-4\.myhuaweicloud\.com are not checked: a console login cannot call the management API/);
});

test('destinations of replayed bodies: copy-image references and expand destinations; junk is skipped', () => {
  const bodies = [
    JSON.stringify({ v: 1, kind: 'copy-image', source: 'a.example/x:v1', destination: `${SWR}/team/x:v1` }),
    JSON.stringify({ v: 1, kind: 'expand-repository', source: 'a.example/y', destinations: [`${SWR}/team/y`, 'b.example/z/y'] }),
    'not json',
  ];
  assert.deepEqual(messageDestinations(bodies), [
    { registry: SWR, repository: 'team/x' },
    { registry: SWR, repository: 'team/y' },
    { registry: 'b.example', repository: 'z/y' },
  ]);
});

test('the Lambda planner refuses bad SWR names before it enqueues anything', async () => {
  const q = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 3, dlq: new InMemoryDeadLetterStore() });
  await assert.rejects(runScheduledPlan({ config: config([{ destination: `${SWR}/9team` }]), queue: q }), SwrNamesError);
  assert.equal((await q.receive(10, 0)).length, 0);
});

