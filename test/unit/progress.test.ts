import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress } from '../../lib/cli/progress.js';
import type { ImageOutcome } from '../../lib/pipeline/copier.js';

function sink(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}
const outcome = (status: ImageOutcome['status']): ImageOutcome =>
  ({ body: '', kind: 'copy-image', source: 's', destination: 'd', status, bytes: 0, durationMs: 1, attempt: 1 }) as ImageOutcome;

describe('progress', () => {
  test('counts images by outcome; retries do not count as done', () => {
    const p = new Progress(sink(false), false, 60_000);
    p.planned(4);
    p.outcome(outcome('copied'));
    p.outcome(outcome('skipped'));
    p.outcome(outcome('retrying'));
    p.outcome(outcome('failed'));
    p.moved(3 * 1024 * 1024);
    p.stop();
    assert.match(p.line(), /^images 3\/4 \(copied 1, present 1, failed 1\) \| 3\.0 MiB at .*\/s \| ETA /);
  });
  test('a terminal gets one line redrawn in place; a pipe gets plain lines', async () => {
    const tty = sink(true);
    const pipe = sink(false);
    const a = new Progress(tty, true, 10);
    const b = new Progress(pipe, false, 10);
    a.planned(1);
    b.planned(1);
    await new Promise((r) => setTimeout(r, 35));
    a.stop();
    b.stop();
    assert.match(tty.text, /^\r\x1b\[2Kimages 0\/1/);
    assert.doesNotMatch(tty.text, /\n/);
    assert.match(pipe.text, /^progress: images 0\/1 .*\n/);
  });
});
