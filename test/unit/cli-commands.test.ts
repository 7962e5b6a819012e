// Each command takes its own options (issue 6 item 12): a flag it does not take is an error, not
// silently ignored, and `COMMAND --help` lists exactly what it takes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, commandHelp, parseCommandLine } from '../../lib/cli/commands.js';
import { UsageError } from '../../lib/errors.js';

const refused = (argv: string[], pattern: RegExp) =>
  assert.throws(() => parseCommandLine(argv), (err: unknown) => err instanceof UsageError && pattern.test(err.message));

describe('command line', () => {
  test('copy refuses --arch, --os, --config, --dlq (they used to be ignored)', () => {
    for (const flag of ['--arch', '--os', '--config', '--dlq', '--report', '--proc']) {
      refused(['copy', 'a', 'b', flag, 'x'], new RegExp(`^copy: Unknown option '${flag}'`));
    }
    assert.deepEqual({ ...parseCommandLine(['copy', 'a', 'b', '--auth', 'f', '--timeout', '30']).values }, { auth: 'f', timeout: '30' });
  });

  test('each command takes its own flags, wherever the command name is', () => {
    refused(['plan', '--config', 'c', '--report', 'r'], /^plan: Unknown option '--report'/);
    refused(['verify', '--config', 'c', '--report', 'r'], /^verify: Unknown option '--report'/);
    refused(['replay', '--auth', 'a', '--os', 'linux'], /^replay: Unknown option '--os'/);
    refused(['demo', '--config', 'c'], /^demo: Unknown option '--config'/);
    assert.equal(parseCommandLine(['--config', 'c.yaml', 'sync', '--dry-run']).command, 'sync');
    assert.equal(parseCommandLine(['sync', '--config', 'c.yaml', '--timeout', '5']).values.timeout, '5');
  });

  test('arguments: copy takes two, the others none', () => {
    refused(['copy', 'a'], /copy takes exactly 2 arguments/);
    refused(['sync', 'extra', '--config', 'c'], /unexpected argument "extra" for sync/);
    assert.equal(parseCommandLine(['copy', '--help']).values.help, true);
  });

  test('every command lists its own options in --help, and only those', () => {
    for (const [name, spec] of Object.entries(COMMANDS)) {
      const help = commandHelp(name);
      assert.ok(help.startsWith(spec.usage), name);
      const listed = [...help.matchAll(/--([a-z-]+)/g)].map((m) => m[1]);
      for (const o of spec.options) assert.ok(listed.includes(o), `${name} --help does not list --${o}`);
      for (const l of listed) assert.ok((spec.options as string[]).includes(l!) || l === 'help' || /^(config|auth|images|dlq)$/.test(l!) && spec.usage.includes(`--${l}`), `${name} --help lists --${l}`);
      assert.match(help, /143 +terminated/);
    }
  });
});
