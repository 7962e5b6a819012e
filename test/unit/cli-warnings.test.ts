// Issue 13: a warning is the same plain line in every command, through one function; the planning
// warnings have one wording whether the planner or a copier's expand step says them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { userWarnings } from '../../lib/cli/warnings.js';
import { invalidTagsWarning, noPushTimesWarning } from '../../lib/plan/warnings.js';

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c.toString()), done()) });
  return { stream, text: () => chunks.join('') };
}

describe('user warnings', () => {
  test('one `warning:` line on stderr, remote text kept to one line; the JSON log gets it at info', async () => {
    const err = sink();
    const log = sink();
    const logger = pino({ level: 'info' }, log.stream);
    let cleared = 0;
    const warn = userWarnings(err.stream, { logger, progress: { clear: () => void cleared++ } as never });
    warn(invalidTagsWarning('r.io/team/app', ['x@sha256:abc', 'evil\n\x1b[2Jtag'], 'sync.yaml: rules[0]'));
    assert.equal(err.text(), 'warning: sync.yaml: rules[0]: skipped invalid tag(s) of r.io/team/app: "x@sha256:abc", "evil\\n\\u001b[2Jtag"\n');
    assert.equal(cleared, 1, 'a progress line is cleared first');
    await new Promise((r) => setImmediate(r));
    assert.match(log.text(), /"level":30.*"msg":"warning"/);
  });

  test('the planner and the copier word "no push times" alike', () => {
    assert.equal(
      noPushTimesWarning('c.yaml: rules[2]', 'src.io', 'generic', 30),
      'c.yaml: rules[2]: src.io gives no push times (generic), so pushedWithinDays 30 keeps every tag; filter with latest or semver instead',
    );
  });
});
