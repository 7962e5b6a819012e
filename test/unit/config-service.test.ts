// Issue 16's config sections: events (webhook secrets, burst window), notify, schedule, and the
// rules' prune and overwrite. Every problem in one pass; a secret is never quoted back.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PRUNE_MAX, parseNativeConfig } from '../../lib/config/native.js';
import { problemsOf } from '../helpers/config-problems.js';

const rules = [{ source: 'h.io/a/b', destination: 'r.io/m' }];
const SECRET = 'a-long-enough-webhook-secret-42';

describe('config: events, notify, schedule', () => {
  test('events: literal and ${env:} secrets per source, the window in ms (default 2 s)', () => {
    const c = parseNativeConfig({ version: 1, events: { harbor: { secret: SECRET }, github: { secret: '${env:GH_SECRET}' }, windowSeconds: 0.5 }, rules }, 'sync.yaml', { GH_SECRET: 'another-secret-from-the-env' });
    assert.deepEqual(c.events, { secrets: { harbor: SECRET, github: 'another-secret-from-the-env' }, windowMs: 500 });
    const d = parseNativeConfig({ version: 1, events: { quay: { secret: SECRET } }, rules }, 'sync.yaml', {});
    assert.equal(d.events?.windowMs, 2000);
    assert.equal(parseNativeConfig({ version: 1, rules }, 'sync.yaml', {}).events, undefined);
  });

  test('a secret reference to AWS waits for the resolver, like a password', () => {
    const c = parseNativeConfig({ version: 1, events: { dockerhub: { secret: '${secretsmanager:hooks#hub}' } }, rules }, 'sync.yaml', {});
    assert.equal(c.secrets?.length, 1);
    assert.equal(c.events?.secrets.dockerhub, undefined);
  });

  test('notify: sns and/or webhook, on defaults to failure; schedule is checked as cron', () => {
    const c = parseNativeConfig({ version: 1, notify: { sns: 'arn:aws:sns:eu-west-1:123456789012:runs', webhook: 'https://hooks.slack.example/T/B/x' }, schedule: '*/15 * * * *', rules }, 'sync.yaml', {});
    assert.deepEqual(c.notify, { on: 'failure', snsTopicArn: 'arn:aws:sns:eu-west-1:123456789012:runs', webhookUrl: 'https://hooks.slack.example/T/B/x' });
    assert.equal(c.schedule, '*/15 * * * *');
  });

  test('every problem of the new sections in one pass, none quoting a secret', () => {
    const problems = problemsOf(() =>
      parseNativeConfig(
        {
          version: 1,
          events: { harbor: { secret: 'short' }, gitlab: { secret: SECRET }, windowSeconds: 900 },
          notify: { on: 'sometimes', webhook: 'ftp://secret-token-in-url' },
          schedule: 'every day',
          rules: [
            { source: 'h.io/a/b:1', destination: 'r.io/m', prune: true },
            { source: 'h.io/a/c', destination: 'r.io/m', prune: { max: 0, protect: ['a/b'] }, overwrite: 'no' },
          ],
        },
        'sync.yaml',
        {},
      ),
    );
    const text = problems.join('\n');
    for (const want of [
      /events\.harbor\.secret: expected a secret of at least 16 characters/,
      /events: .*gitlab/,
      /events\.windowSeconds: expected seconds from 0 to 300/,
      /notify\.on: expected failure/,
      /schedule: "every day" is not a cron expression/,
      /rules\[0\]\.prune: only valid on a rule that lists its tags/,
      /rules\[1\]\.prune\.max: expected a whole number of tags/,
      /rules\[1\]\.overwrite: expected true/,
    ]) assert.match(text, want);
    assert.doesNotMatch(text, /secret-token-in-url/);
  });

  test('a literal webhook that is not http(s) is a problem that does not quote it', () => {
    const problems = problemsOf(() => parseNativeConfig({ version: 1, notify: { webhook: 'ftp://tok-123' }, rules }, 'sync.yaml', {}));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /notify\.webhook: expected an http\(s\) URL/);
    assert.doesNotMatch(problems[0]!, /tok-123/);
  });
});

describe('config: prune and overwrite on rules', () => {
  test('prune: true takes the default max; an object gives max and protect; overwrite: false is kept', () => {
    const c = parseNativeConfig(
      {
        version: 1,
        rules: [
          { source: 'h.io/a/b', destination: 'r.io/m', prune: true, overwrite: false },
          { source: 'h.io/team/*', destination: 'r.io/m', prune: { max: 3, protect: ['latest', 'v1.*'] } },
          { source: 'h.io/a/c', destination: 'r.io/m', prune: false, overwrite: true },
        ],
      },
      'sync.yaml',
      {},
    );
    assert.deepEqual(c.rules[0]!.prune, { max: DEFAULT_PRUNE_MAX, maxGiven: false, protect: [] });
    assert.equal(c.rules[0]!.overwrite, false);
    assert.deepEqual(c.rules[1]!.prune, { max: 3, maxGiven: true, protect: ['latest', 'v1.*'] });
    assert.equal(c.rules[2]!.prune, undefined);
    assert.equal(c.rules[2]!.overwrite, undefined);
  });
});
