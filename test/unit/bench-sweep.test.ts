// `npm run bench -- --sweep ...` must run exactly the grid asked for: every combination once,
// "unlimited" as no connection cap, and a bad axis refused with one line instead of a silent default.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSweep, pointLabel } from '../../bench/sweep.js';

describe('bench --sweep', () => {
  it('is the cartesian product of the axes, in the order given', () => {
    assert.deepEqual(parseSweep(['transfers=8,16', 'connections=8,unlimited']), [
      { transfers: 8, connections: 8 },
      { transfers: 8, connections: 0 },
      { transfers: 16, connections: 8 },
      { transfers: 16, connections: 0 },
    ]);
  });

  it('takes several axes in one option too', () => {
    assert.deepEqual(parseSweep(['proc=16,32 transfers=64']), [{ proc: 16, transfers: 64 }, { proc: 32, transfers: 64 }]);
  });

  it('labels a point the way it was asked for', () => {
    assert.equal(pointLabel({ transfers: 32, connections: 0 }), 'transfers=32 connections=unlimited');
    assert.equal(pointLabel({ connections: 16, proc: 8 }), 'connections=16 proc=8');
  });

  it('refuses unknown axes, bad values, repeats and an empty sweep with one line each', () => {
    for (const [spec, message] of [
      [['transfer=8'], /expected transfers\|connections\|proc=N/],
      [['transfers=0'], /from 1 to 1024/],
      [['transfers=unlimited'], /from 1 to 1024/],
      [['connections=-1'], /from 0 to 1024/],
      [['proc=1.5'], /whole numbers/],
      [['transfers=8', 'transfers=16'], /transfers given twice/],
      [[' '], /nothing to sweep/],
    ] as const) {
      const r = parseSweep([...spec]);
      assert.equal(typeof r, 'string', `${spec.join(' ')} should be refused`);
      assert.match(r as string, message);
      assert.ok(!(r as string).includes('\n'));
    }
  });
});
