// Shared by the config tests: the problem lines of the ConfigError a parse throws.
import assert from 'node:assert/strict';
import { ConfigError } from '../../lib/errors.js';

export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}
