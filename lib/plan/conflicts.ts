// Destination collisions: two different sources mapped to one destination tag (`team-a/app:1.0`
// and `team-b/app:1.0` under the default basename mapping) would race, and whichever push lands
// last wins. The planner finds them before anything is sent. Exact tags are known up front, so a
// conflict among them is a config error. Listed tags are only known after listing, so a rule that
// shares a destination repository with another rule holds its messages back until every rule of
// that group is listed; the conflicting messages then go to the DLQ, never to a copier. Rules whose
// destination repositories nobody else uses cannot collide, and stream at once.
import type { SyncRule } from '../config/types.js';
import { DestinationConflictError } from '../errors.js';
import { decodeMessage, type CopyImageMessage } from '../queue/messages.js';

/** A tag destination; undefined for a push by digest (content-addressed: two pushes agree). */
export function destinationKey(m: CopyImageMessage): string | undefined {
  const at = m.destination.indexOf('@');
  return at >= 0 ? undefined : m.destination;
}

/** One error per destination claimed by more than one distinct source, in first-seen order. */
export function findConflicts(messages: readonly CopyImageMessage[]): DestinationConflictError[] {
  const claims = new Map<string, Map<string, string | undefined>>();
  for (const m of messages) {
    const key = destinationKey(m);
    if (key === undefined) continue;
    const sources = claims.get(key) ?? new Map<string, string | undefined>();
    // The same source twice is a duplicate (dropped by the planner), not a conflict.
    if (!sources.has(m.source)) sources.set(m.source, m.origin);
    claims.set(key, sources);
  }
  return [...claims]
    .filter(([, sources]) => sources.size > 1)
    .map(([destination, sources]) => new DestinationConflictError(destination, [...sources].map(([source, origin]) => ({ source, origin }))));
}

/** Split messages into those free to copy and those caught in a conflict (each with its error). */
export function partitionConflicts(messages: readonly CopyImageMessage[]): {
  clear: CopyImageMessage[];
  held: { message: CopyImageMessage; error: DestinationConflictError }[];
} {
  const errors = new Map(findConflicts(messages).map((e) => [e.destination, e]));
  const clear: CopyImageMessage[] = [];
  const held: { message: CopyImageMessage; error: DestinationConflictError }[] = [];
  for (const m of messages) {
    const error = errors.get(destinationKey(m) ?? '');
    if (error) held.push({ message: m, error });
    else clear.push(m);
  }
  return { clear, held };
}

/** The same split for raw queue bodies (replay runs dead letters together: they must not race either). */
export function partitionConflictBodies(bodies: readonly string[]): { clear: string[]; held: { body: string; error: DestinationConflictError }[] } {
  const decoded = bodies.map((body) => ({ body, message: copyMessageOrUndefined(body) }));
  const errors = new Map(findConflicts(decoded.flatMap((d) => (d.message ? [d.message] : []))).map((e) => [e.destination, e]));
  const out = { clear: [] as string[], held: [] as { body: string; error: DestinationConflictError }[] };
  for (const { body, message } of decoded) {
    const error = message && errors.get(destinationKey(message) ?? '');
    if (error) out.held.push({ body, error });
    else out.clear.push(body);
  }
  return out;
}

function copyMessageOrUndefined(body: string): CopyImageMessage | undefined {
  try {
    const m = decodeMessage(body);
    return m.kind === 'copy-image' ? m : undefined;
  } catch {
    return undefined; // an invalid body is the copier's to reject, with its own reason
  }
}

/**
 * Rules that could collide: those sharing a destination repository, transitively. Returns a group
 * id per rule index; a rule sharing with nobody gets none.
 */
export function overlapGroups(rules: readonly SyncRule[]): (number | undefined)[] {
  const parent = rules.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  const owner = new Map<string, number>();
  rules.forEach((r, i) => {
    for (const d of r.destinations) {
      const repo = `${d.registry}/${d.repository}`;
      const j = owner.get(repo);
      if (j === undefined) owner.set(repo, i);
      else parent[find(i)] = find(j);
    }
  });
  const size = new Map<number, number>();
  rules.forEach((_, i) => size.set(find(i), (size.get(find(i)) ?? 0) + 1));
  return rules.map((_, i) => ((size.get(find(i)) ?? 0) > 1 ? find(i) : undefined));
}
