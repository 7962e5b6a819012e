// Which of an event's re-checks any rule covers (issue 16: "an event for a repository no rule covers
// is ignored and counted"). Decided where the event is received, from the config's rules, so an
// event for one of the many repositories a Harbor project or a Quay organisation holds that no rule
// copies costs no queue message; the copier still answers an uncovered re-check (a config changed
// in between) with a note, never a failure. Pure: no I/O.
import type { SyncRule } from '../config/types.js';
import { planRecheck } from '../pipeline/recheck.js';
import type { RecheckMessage } from '../queue/messages.js';
import type { WebhookResult } from './receive.js';

export interface Routed {
  covered: RecheckMessage[];
  /** Repositories no rule covers (for the log line and the count). */
  ignored: string[];
}

export function routeRechecks(rechecks: readonly RecheckMessage[], rules: readonly SyncRule[]): Routed {
  const out: Routed = { covered: [], ignored: [] };
  for (const m of rechecks) {
    // planRecheck applies every rule as the copier will (namespace globs, delete vs exact tags).
    if (planRecheck(m, { rules }).messages.length) out.covered.push(m);
    else out.ignored.push(m.source);
  }
  return out;
}

/** A receiver's result with only the covered re-checks; the ignored ones named in its note. */
export function routedResult(result: WebhookResult, rules: readonly SyncRule[]): WebhookResult & { ignored?: string[] } {
  if (!('rechecks' in result) || !result.rechecks.length) return result;
  const { covered, ignored } = routeRechecks(result.rechecks, rules);
  if (!ignored.length) return result;
  const note = `no rule covers ${ignored.join(', ')}`;
  return { ...result, rechecks: covered, note: result.note ? `${result.note}; ${note}` : note, ignored };
}
