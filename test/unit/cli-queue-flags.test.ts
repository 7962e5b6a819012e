// The queue options of the CLI (issue 7 item 7), parsed without a queue: which commands take
// --queue-url, --enqueue and --until-empty, their help, and the one-line refusal of a bad URL.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { commandHelp, parseCommandLine } from '../../lib/cli/commands.js';
import { queueUrlFlag } from '../../lib/cli/queue-run.js';
import { ConfigError, UsageError } from '../../lib/errors.js';

const URL_ = 'https://sqs.eu-west-1.amazonaws.com/123456789012/swr-migrate-work';

describe('CLI queue flags', () => {
  test('sync, plan, replay, work and status take --queue-url', () => {
    assert.equal(parseCommandLine(['sync', '--config', 'c.yaml', '--queue-url', URL_]).values['queue-url'], URL_);
    assert.equal(parseCommandLine(['plan', '--enqueue', '--config', 'c.yaml', '--queue-url', URL_]).values.enqueue, true);
    assert.equal(parseCommandLine(['replay', '--queue-url', URL_]).values['queue-url'], URL_);
    assert.equal(parseCommandLine(['work', '--auth', 'a.json', '--queue-url', URL_, '--until-empty']).values['until-empty'], true);
    assert.equal(parseCommandLine(['status', '--queue-url', URL_, '--json']).values.json, true);
  });

  test('copy, verify and demo refuse --queue-url; only work takes --until-empty; an unknown flag is still an error', () => {
    for (const argv of [['copy', 'a', 'b'], ['verify', '--config', 'c.yaml'], ['demo']]) {
      assert.throws(() => parseCommandLine([...argv, '--queue-url', URL_]), (e: unknown) => e instanceof UsageError && /Unknown option '--queue-url'/.test(e.message));
    }
    assert.throws(() => parseCommandLine(['sync', '--config', 'c.yaml', '--until-empty']), /Unknown option '--until-empty'/);
    assert.throws(() => parseCommandLine(['status', '--queue-url', URL_, '--config', 'c.yaml']), /Unknown option '--config'/);
    assert.throws(() => parseCommandLine(['work', '--queue-url', URL_, '--bogus']), /Unknown option '--bogus'/);
  });

  test('help names the queue options per command', () => {
    assert.match(commandHelp('work'), /--until-empty/);
    assert.match(commandHelp('status'), /--queue-url URL/);
    assert.match(commandHelp('plan'), /--enqueue/);
    assert.doesNotMatch(commandHelp('copy'), /--queue-url/);
  });

  test('a missing or malformed queue URL is a usage error naming the command or the value', () => {
    assert.equal(queueUrlFlag(URL_, 'sync'), URL_);
    assert.equal(queueUrlFlag('http://127.0.0.1:9324/000000000000/q', 'sync'), 'http://127.0.0.1:9324/000000000000/q');
    assert.throws(() => queueUrlFlag(undefined, 'status'), (e: unknown) => e instanceof UsageError && e.message === 'status needs --queue-url URL (the SQS work queue)');
    assert.throws(() => queueUrlFlag('swr-migrate-work', 'sync'), /--queue-url must be an SQS queue URL .*got "swr-migrate-work"/);
    assert.throws(() => queueUrlFlag('ftp://host/q', 'sync'), /must be an http\(s\) URL/);
  });

  test('flags --queue-url would ignore are refused, with the config\'s problems in one error (issue 13)', async () => {
    const { queueWorkCommand, replayQueueCommand } = await import('../../lib/cli/queue-commands.js');
    const { pino } = await import('pino');
    const env = { logger: pino({ level: 'silent' }), signal: new AbortController().signal, stdout: process.stdout, stderr: process.stderr };
    // Refused before any queue is opened: nothing listens on 127.0.0.1:9.
    const q = 'http://127.0.0.1:9/000000000000/q';
    await assert.rejects(replayQueueCommand({ 'queue-url': q, dlq: 'x.jsonl', proc: '4' }, env), (e: unknown) =>
      e instanceof UsageError && /^2 problems with the options:\n {2}- replay --queue-url: --proc is not used .*\n {2}- replay --queue-url: --dlq is not used/.test(e.message));
    await assert.rejects(queueWorkCommand({ 'queue-url': q, pace: true, dlq: 'x.jsonl', images: '/nonexistent/images.yaml' }, env, 'sync'), (e: unknown) =>
      e instanceof ConfigError &&
      /^cannot read \/nonexistent\/images\.yaml/.test(e.problems[0]!) &&
      e.problems.some((p) => /^sync --queue-url: --dlq is not used/.test(p)) &&
      // --pace acts on the queue path too: its local copiers wait at the same pull-budget gate.
      !e.problems.some((p) => /--pace/.test(p)));
  });
});
