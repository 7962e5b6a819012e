// Bounds on what the copy engine has in flight per registry (issue 6, item 8).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCopyContext, transferCap } from '../../lib/copy/context.js';

describe('transfers per registry', () => {
  test('at most half the connections, so a download never starves its own upload', () => {
    assert.equal(transferCap(undefined, undefined), undefined);
    assert.equal(transferCap(undefined, 2), 1);
    assert.equal(transferCap(undefined, 1), 1);
    assert.equal(transferCap(undefined, 9), 4);
    assert.equal(transferCap(3, 64), 3);
    assert.equal(transferCap(12, 8), 4);
  });
  test('the context applies the per-registry and the default connections', () => {
    const ctx = createCopyContext({ registryConnections: { 'a.io': 4 }, connections: 10 });
    assert.equal(ctx.registryLimiter?.('a.io')?.size, 2);
    assert.equal(ctx.registryLimiter?.('b.io')?.size, 5);
    assert.equal(createCopyContext().registryLimiter, undefined);
  });
  test('blob checks (HEAD, mount) share one limiter per registry', () => {
    const ctx = createCopyContext();
    assert.equal(ctx.checks('a.io'), ctx.checks('a.io'));
    assert.notEqual(ctx.checks('a.io'), ctx.checks('b.io'));
    assert.equal(ctx.checks('a.io').size, 32);
  });
});
