// What becomes of a rule the planner could not list (its tags, or a namespace rule's repositories):
// one decision for `sync`, `sync --queue-url` and the Lambda planner, so a rule fails the same way
// on every path and never stops the others (issues 13 and 14).
import { ErrorCode, errorMessage, failureCode, isRetryable } from '../errors.js';

export type RuleVerdict = { action: 'retry' } | { action: 'dead-letter'; reason: { code: string; message: string }; notStarted: boolean };

/**
 * What becomes of a rule the planner could not list: interrupted before it was listed (not started:
 * saved, so replay plans it), a passing failure (listed again by a copier, under the message's
 * attempts), or a permanent one (the DLQ, with its reason). The other rules go on either way.
 */
export function ruleFailure(err: unknown, signal: AbortSignal | undefined): RuleVerdict {
  if (signal?.aborted && failureCode(err) === ErrorCode.INTERRUPTED) {
    return { action: 'dead-letter', reason: { code: ErrorCode.NOT_STARTED, message: 'interrupted before this rule was planned' }, notStarted: true };
  }
  if (isRetryable(err)) return { action: 'retry' };
  return { action: 'dead-letter', reason: { code: failureCode(err), message: errorMessage(err) }, notStarted: false };
}

