// What an expand message fans out into (the second level of the planner's fan-out: lib/lambda/
// planner.ts plans without listing). A copier lists and sends copy messages:
//   - expand-repository: one listed rule;
//   - expand-namespace: a namespace rule listed again after its listing failed: one expand-repository
//     message per repository it keeps;
//   - expand-group: listed rules that share destination repositories, with the exact images of the
//     group's other rules: listed together, so two sources claiming one tag are held back
//     (SWRM_DESTINATION_CONFLICT, as `sync` does), never racing to push it (issue 14, item 3).
// A recheck (pipeline/recheck.ts) sends what it plans through the same fanOut.
import { ErrorCode, errorMessage, failureCode, isRetryable } from '../errors.js';
import { destinationTagsFor, listerFor } from '../listing/index.js';
import { partitionConflicts } from '../plan/conflicts.js';
import { expandNamespaceRules } from '../plan/namespaces.js';
import { copyMessagesFor, expandMessageFor, ruleFromExpand, ruleFromNamespace } from '../plan/planner.js';
import { invalidTags, selectTags } from '../plan/tags.js';
import { listRuleTags } from '../plan/rule-tags.js';
import { invalidTagsWarning, noPushTimesWarning } from '../plan/warnings.js';
import { type CopyImageMessage, type ExpandGroupMessage, type ExpandNamespaceMessage, type ExpandRepositoryMessage, type RecheckMessage, encodeMessage } from '../queue/messages.js';
import type { ProcessDeps } from './copier.js';
import { mapLimit } from '../copy/limiter.js';
import { parseReference } from '../oci/reference.js';
import type { SyncRule } from '../config/types.js';
import { type SourceTags, pruneRule } from './prune.js';

/** A listed rule as copy messages: its tags listed and filtered (include, exclude, semver, times, latest). */
async function listedCopies(m: ExpandRepositoryMessage, deps: ProcessDeps, signal: AbortSignal | undefined): Promise<CopyImageMessage[]> {
  const rule = ruleFromExpand(m);
  const lister = deps.lister ? deps.lister(rule.source.registry) : listerFor(deps.pool, rule.source.registry);
  const listed = await listRuleTags(rule, deps.list, lister, undefined, signal);
  const warn = deps.onWarning ?? ((message: string) => deps.logger?.warn({ source: m.source, origin: rule.origin }, message));
  const invalid = invalidTags(listed.names);
  if (invalid.length) warn(invalidTagsWarning(m.source, invalid, rule.origin));
  // pushedWithinDays needs the source API's push times (lib/listing); without them every tag is kept.
  if (listed.noTimes) warn(noPushTimesWarning(rule.origin, rule.source.registry, lister?.kind ?? 'tag list only', rule.filter!.pushedWithinDays!));
  if (rule.prune) await pruneListed(m, rule, listed, deps, signal);
  const copies = copyMessagesFor(rule, selectTags(listed.names, rule.filter, listed.pushedAt ? { pushedAt: listed.pushedAt } : {}), m.platforms, listed.digests);
  return withDestinationSeen(copies, deps, signal);
}

/**
 * The rule's prune, before its copies are sent (pipeline/prune.ts). What it did goes to deps.onPrune
 * and, for a message of a scheduled run, to the run's counts.
 */
async function pruneListed(m: ExpandRepositoryMessage, rule: SyncRule, listed: SourceTags, deps: ProcessDeps, signal: AbortSignal | undefined): Promise<void> {
  const counts = { pruned: 0, pruneKept: 0, pruneHeld: 0 };
  const warn = deps.onWarning ?? ((message: string) => deps.logger?.warn({ source: m.source, origin: rule.origin }, message));
  await pruneRule(rule, listed, {
    pool: deps.pool,
    ...(deps.destinations ? { destinations: deps.destinations } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
    onWarning: warn,
    ...(signal ? { signal } : {}),
    onPrune: (o) => {
      if (o.status === 'pruned') counts.pruned++;
      else if (o.status === 'held') counts.pruneHeld++;
      else counts.pruneKept++;
      deps.onPrune?.(o);
    },
  });
  if (m.run && deps.runs?.pruned) {
    await deps.runs.pruned(m.run, counts).catch((err: unknown) => deps.logger?.warn({ run: m.run, err: errorMessage(err) }, 'cannot count the prune in its run'));
  }
}

/** An expand-repository message: its rule listed, one copy message per kept tag and destination. */
export async function expandOne(m: ExpandRepositoryMessage, deps: ProcessDeps, signal: AbortSignal | undefined): Promise<number> {
  const messages = await listedCopies(m, deps, signal);
  await fanOut(m, messages, deps);
  return messages.length;
}

/**
 * A namespace rule listed again (its listing failed at plan time): one expand-repository message
 * per repository it keeps, each then listed and copied like any listed rule. A listing that fails
 * again fails this message, to be retried or dead-lettered with its reason.
 */
export async function expandNamespace(m: ExpandNamespaceMessage, deps: ProcessDeps, signal: AbortSignal | undefined): Promise<number> {
  const rule = ruleFromNamespace(m);
  const onWarning = (message: string) => deps.logger?.warn({ source: m.source, origin: rule.origin }, message);
  const expanded = await expandNamespaceRules([rule], (registry) => listerFor(deps.pool, registry), { signal, onWarning });
  const failed = expanded.failed[0];
  if (failed) throw failed.error;
  const messages = expanded.rules.map((r) => expandMessageFor(r, m.platforms));
  await fanOut(m, messages, deps);
  return messages.length;
}

/**
 * An overlap group: every listed rule's copies and the group's exact copies, checked together. A
 * rule that cannot be listed for a passing reason fails the whole message (to be retried: the check
 * needs every rule); for a permanent one its expand letter goes to the DLQ and the rest goes on, as
 * in `sync`. Conflicting copies go to the DLQ; the rest is sent.
 */
export async function expandGroup(m: ExpandGroupMessage, deps: ProcessDeps, signal: AbortSignal | undefined): Promise<number> {
  const copies: CopyImageMessage[] = [...(m.copies ?? [])];
  const failedRules: { rule: ExpandRepositoryMessage; err: unknown }[] = [];
  for (const rule of m.rules) {
    try {
      copies.push(...(await listedCopies(rule, deps, signal)));
    } catch (err) {
      if (signal?.aborted || isRetryable(err) || !deps.deadLetter) throw err;
      failedRules.push({ rule, err });
    }
  }
  const seen = new Set<string>();
  const unique = copies.filter((c) => {
    const key = `${c.source}\u0000${c.destination}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const { clear, held } = partitionConflicts(unique);
  if (held.length && !deps.deadLetter) throw held[0]!.error;
  for (const f of failedRules) await deps.deadLetter!(encodeMessage(f.rule), { code: failureCode(f.err), message: errorMessage(f.err) });
  for (const h of held) await deps.deadLetter!(encodeMessage(h.message), { code: ErrorCode.DESTINATION_CONFLICT, message: h.error.message });
  await fanOut(m, clear, deps);
  return clear.length;
}

/**
 * Send what an expansion planned. Its messages belong to the expand message's run, whose enqueued
 * count grows by them before they are sent, so the run never looks done while they wait.
 */
export async function fanOut(
  m: ExpandRepositoryMessage | ExpandNamespaceMessage | ExpandGroupMessage | RecheckMessage,
  messages: (CopyImageMessage | ExpandRepositoryMessage | ExpandGroupMessage)[],
  deps: ProcessDeps,
): Promise<void> {
  const bodies = messages.map((x) => encodeMessage(m.run ? { ...x, run: m.run } : x));
  if (m.run && deps.runs && bodies.length) {
    await deps.runs.expanding(m.run, encodeMessage(m), bodies).catch((err: unknown) => {
      // Uncounted, the run may look done early: the next schedule plans again, which is harmless.
      deps.logger?.warn({ run: m.run, code: failureCode(err), err: errorMessage(err) }, 'cannot add the expansion to its run');
    });
  }
  await deps.send(bodies);
}

/**
 * What each copy's destination tag holds, as the repository's tag list (or SWR's listing) and the
 * records of earlier pushes say (copy/destination-state.ts): one tag list per destination repository
 * for the whole expansion, so each copier that takes a message asks nothing more of the destination
 * (a Lambda copier has no view of its own that outlives one message). Best effort: a copy without
 * it looks for itself.
 */
async function withDestinationSeen(copies: CopyImageMessage[], deps: ProcessDeps, signal: AbortSignal | undefined): Promise<CopyImageMessage[]> {
  const state = deps.destinations;
  if (!state) return copies;
  return mapLimit(copies, 16, async (c) => {
    if (c.force || c.deep || c.fullCheck) return c;
    try {
      const dst = parseReference(c.destination);
      if (!dst.tag || dst.digest) return c;
      const client = deps.pool.client(dst.registry, dst.repository, 'destination');
      const look = await state.lookup(client, dst.repository, dst.tag, true, signal, destinationTagsFor(deps.pool, dst.registry).destinationTags);
      const seen = look.trusted ? look.trusted.digest : look.absent ? (look.view.kind === 'fresh' ? 'fresh' : 'absent') : undefined;
      return seen ? { ...c, destinationSeen: seen } : c;
    } catch (err) {
      deps.logger?.debug({ destination: c.destination, err: errorMessage(err) }, 'destination not looked up at expansion');
      return c;
    }
  });
}
