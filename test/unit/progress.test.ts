import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress, type ProgressState, etaMs, fitLine, progressLine } from '../../lib/cli/progress.js';
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

describe('progress line and ETA (pure)', () => {
  const state = (over: Partial<ProgressState>): ProgressState => ({
    total: 0, copied: 0, skipped: 0, failed: 0, bytes: 0, doneBytes: 0, elapsedMs: 0, ...over,
  });
  const busy = state({ total: 12345, copied: 10234, skipped: 1023, failed: 123, bytes: 987.6 * 1024 ** 3, doneBytes: 900 * 1024 ** 3, elapsedMs: 3_723_000 });

  test('fits an 80-column terminal (79 characters: the last column makes terminals wrap)', () => {
    assert.ok(progressLine(busy).length > 80, 'the case is not a wide one');
    for (const columns of [80, 60, 40, 20, 5]) {
      const line = fitLine(busy, columns);
      assert.ok(line.length <= columns - 1, `${line.length} > ${columns - 1}: ${line}`);
      assert.doesNotMatch(line, /\n/);
    }
    assert.match(fitLine(busy, 80), /^11380\/12345 images, 123 failed \| 987\.6 GiB at .*\/s \| ETA /);
    assert.equal(fitLine(state({ total: 2 }), 200), progressLine(state({ total: 2 })), 'a wide terminal gets the full line');
  });

  test('filtered images count as done (issue 13), and are named when there are some', () => {
    assert.match(progressLine(state({ total: 4, copied: 1, filtered: 2 })), /^images 3\/4 \(copied 1, present 0, filtered 2, failed 0\)/);
    assert.doesNotMatch(progressLine(state({ total: 4, copied: 1 })), /filtered/);
  });

  test('the ETA comes from bytes as well as images: big images left make it longer', () => {
    // Half the images done in 10 s: by images alone, 10 s left.
    const images = state({ total: 4, copied: 2, elapsedMs: 10_000 });
    assert.equal(etaMs(images), 10_000);
    // The same images, but the finished ones moved 100 MB and 300 MB are still to come at 10 MB/s:
    // the finished two average 100 MB... of 400 MB, so 300 MB left: 30 s.
    const bytes = state({ total: 4, copied: 2, elapsedMs: 10_000, doneBytes: 200e6, bytes: 100e6 });
    assert.equal(etaMs(bytes), 30_000);
    // Bytes say "done" when the rest is already present; images still count.
    assert.equal(etaMs(state({ total: 4, copied: 2, elapsedMs: 10_000, doneBytes: 100, bytes: 1e9 })), 10_000);
    assert.equal(etaMs(state({ total: 4, elapsedMs: 10_000 })), undefined);
    assert.equal(etaMs(state({ total: 2, copied: 2, elapsedMs: 10_000 })), undefined);
  });

  test('a terminal redraw never exceeds its width', async () => {
    const tty = Object.assign(sink(true), { columns: 40 });
    const p = new Progress(tty, true, 5);
    p.planned(123456);
    p.moved(5 * 1024 ** 3);
    for (let i = 0; i < 1000; i++) p.outcome(outcome(i % 7 ? 'copied' : 'failed'));
    await new Promise((r) => setTimeout(r, 20));
    p.stop();
    const frames = tty.text.split('\r\x1b[2K').filter(Boolean);
    assert.ok(frames.length > 0);
    for (const f of frames) assert.ok(f.length <= 39, `frame of ${f.length}: ${f}`);
  });
});
