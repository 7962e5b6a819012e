// A rule's `prune` (issue 16, item 8; REFERENCE.md section 10): after a successful, non-empty
// listing of the source repository, delete the destination tags that
//   - this tool pushed from that very source (the `pushed#<registry>` records of
//     copy/destination-state.ts name the source they came from: a tag someone else pushed, or that
//     another rule copied from another source into the same repository, is never a candidate),
//   - are absent from the source's *full* tag list (a tag the rule's filter drops but the source
//     still has is not gone),
//   - are still at the destination, and match none of `protect`,
// and only when there are at most `max` of them over the rule's destinations: above it nothing is
// deleted and the run says why. SWR deletes by tag through its management API; any other registry
// by digest, which removes every tag naming it, so only when no other tag there shares it.
// A registry that refuses DELETE is reported, never a failure: pruning is housekeeping.
//
// It runs where the rule is listed, before the rule's copies are sent (sync's planner, the copier
// that expands a listed rule), so a tag of this run's copies that could share a digest is either at
// the destination already or in the source's listing with its digest; both are checked.
import type { Logger } from 'pino';
import type { SyncRule } from '../config/types.js';
import { tagMatcher } from '../config/tag-globs.js';
import type { DestinationState, PushedTag } from '../copy/destination-state.js';
import { mapLimit } from '../copy/limiter.js';
import { RegistryError, errorMessage } from '../errors.js';
import { destinationTagDeleterFor, destinationTagsFor } from '../listing/index.js';
import type { ClientPool } from '../registry/pool.js';
import { protectMatchesNothingWarning, pruneAboveMaxWarning, pruneDefaultMaxWarning, pruneSkippedWarning } from '../plan/warnings.js';
import type { ImageOutcome } from './copier.js';

export interface PruneDeps {
  pool: ClientPool;
  /** The records of pushed tags; without them nothing can be attributed, so nothing is pruned. */
  destinations?: DestinationState;
  logger?: Logger;
  onWarning?: (message: string) => void;
  /** Each tag dealt with (pruned, kept) and each rule held above its max. */
  onPrune?: (o: ImageOutcome) => void;
  signal?: AbortSignal;
}

/** What the source listing gave: every tag name, and digests where its API gave them. */
export interface SourceTags {
  names: readonly string[];
  digests?: ReadonlyMap<string, string>;
}

/** One destination repository's candidates, decided before anything is deleted. */
export interface PruneCandidates {
  registry: string;
  repository: string;
  /** Tags to delete, with the digest this tool recorded. */
  tags: { tag: string; record: PushedTag }[];
  /** Candidates a protect glob keeps. */
  protected: string[];
  /** The destination's tags, and their digests where its listing gave them (SWR). */
  present: ReadonlySet<string>;
  digests?: ReadonlyMap<string, string>;
}

export interface PrunePlan {
  origin: string;
  source: string;
  max: number;
  destinations: PruneCandidates[];
  /** Candidates over all destinations (protected ones excluded). */
  count: number;
  /** count > max: nothing is deleted. */
  held: boolean;
}

const sourceOf = (rule: SyncRule) => `${rule.source.registry}/${rule.source.repository}`;

/**
 * What the rule's prune would delete, with the warnings every command gives (plan, sync, work):
 * undefined when the rule does not prune or must not (empty listing, unreadable records).
 */
export async function prunePlan(rule: SyncRule, source: SourceTags, deps: PruneDeps): Promise<PrunePlan | undefined> {
  const policy = rule.prune;
  if (!policy || rule.tags || rule.digest) return undefined;
  const warn = deps.onWarning ?? ((m: string) => deps.logger?.warn(m));
  if (!policy.maxGiven) warn(pruneDefaultMaxWarning(rule.origin, policy.max));
  // An empty listing is never trusted (goharbor/harbor #19358): a repository emptied by mistake, or
  // a registry answering [] for a moment, must not empty the destination.
  if (!source.names.length) {
    warn(pruneSkippedWarning(rule.origin, `the source ${sourceOf(rule)} listed no tags; nothing is deleted from an empty listing`));
    return undefined;
  }
  if (!deps.destinations) return undefined;
  const at = new Set(source.names);
  const protect = tagMatcher(policy.protect);
  const destinations: PruneCandidates[] = [];
  const everyTag: string[] = [];
  for (const d of rule.destinations) {
    const where = `${d.registry}/${d.repository}`;
    let pushed: Map<string, PushedTag>;
    try {
      pushed = await deps.destinations.pushedTags(d.registry, d.repository);
    } catch (err) {
      warn(pruneSkippedWarning(rule.origin, `the records of ${where} cannot be read (${errorMessage(err)}); nothing is deleted there`));
      continue;
    }
    const mine = [...pushed].filter(([tag, r]) => r.source === sourceOf(rule) && !at.has(tag));
    // The run's view of the repository (copy/destination-state.ts): one tag list, shared with this
    // run's copies into it, so pruning costs no listing of its own.
    const client = deps.pool.client(d.registry, d.repository, 'destination');
    const view = await deps.destinations.view(client, d.repository, deps.signal, destinationTagsFor(deps.pool, d.registry).destinationTags);
    if (view.kind === 'unknown') {
      warn(pruneSkippedWarning(rule.origin, `the tags of ${where} cannot be listed; nothing is deleted there`));
      continue;
    }
    const listed = view.kind === 'listed' ? { present: view.tags, ...(view.digests ? { digests: view.digests } : {}) } : { present: new Set<string>() };
    everyTag.push(...listed.present);
    const tags: PruneCandidates['tags'] = [];
    const kept: string[] = [];
    for (const [tag, record] of mine) {
      if (!listed.present.has(tag)) continue; // gone already (by hand, by retention): nothing to do
      if (protect(tag)) kept.push(tag);
      else tags.push({ tag, record });
    }
    tags.sort((a, b) => a.tag.localeCompare(b.tag));
    destinations.push({ registry: d.registry, repository: d.repository, tags, protected: kept.sort(), present: listed.present, ...(listed.digests ? { digests: listed.digests } : {}) });
  }
  const names = rule.destinations.map((d) => `${d.registry}/${d.repository}`);
  for (const glob of policy.protect) {
    const matches = tagMatcher([glob]);
    if (!everyTag.some(matches)) warn(protectMatchesNothingWarning(rule.origin, glob, names));
  }
  const count = destinations.reduce((n, d) => n + d.tags.length, 0);
  const held = count > policy.max;
  if (held) warn(pruneAboveMaxWarning(rule.origin, count, policy.max, names));
  return { origin: rule.origin, source: sourceOf(rule), max: policy.max, destinations, count, held };
}

/** Plan and carry out the rule's prune; every tag dealt with goes to onPrune. Never throws for a registry's refusal. */
export async function pruneRule(rule: SyncRule, source: SourceTags, deps: PruneDeps): Promise<void> {
  let plan: PrunePlan | undefined;
  try {
    plan = await prunePlan(rule, source, deps);
  } catch (err) {
    (deps.onWarning ?? ((m: string) => deps.logger?.warn(m)))(pruneSkippedWarning(rule.origin, errorMessage(err)));
    return;
  }
  if (!plan?.count) return;
  const report = (status: ImageOutcome['status'], destination: string, digest?: string, why?: string) =>
    deps.onPrune?.({ body: '', kind: 'prune', source: plan!.source, destination, status, ...(digest ? { digest } : {}), ...(why ? { conversion: why } : {}), bytes: 0, durationMs: 0, attempt: 1 });
  if (plan.held) {
    report('held', plan.destinations.filter((d) => d.tags.length).map((d) => `${d.registry}/${d.repository}`).join(', '), undefined, `${plan.count} tag(s) gone at the source, more than prune.max ${plan.max}: nothing deleted`);
    return;
  }
  for (const d of plan.destinations) if (d.tags.length) await pruneRepository(d, source, deps, report);
}

type Report = (status: ImageOutcome['status'], destination: string, digest?: string, why?: string) => void;

async function pruneRepository(d: PruneCandidates, source: SourceTags, deps: PruneDeps, report: Report): Promise<void> {
  const where = `${d.registry}/${d.repository}`;
  const log = deps.logger?.child({ destination: where });
  const deleteTag = destinationTagDeleterFor(deps.pool, d.registry);
  if (deleteTag) {
    // SWR: one tag at a time by name; other tags naming the same digest stay.
    for (const { tag, record } of d.tags) {
      try {
        await deleteTag(d.repository, tag);
        await deps.destinations?.forget(d.registry, d.repository, tag);
        log?.info({ tag, digest: record.digest }, 'pruned: gone at the source');
        report('pruned', `${where}:${tag}`, record.digest);
      } catch (err) {
        log?.warn({ tag, err: errorMessage(err) }, 'prune: cannot delete the tag');
        report('kept', `${where}:${tag}`, record.digest, `delete failed: ${errorMessage(err)}`);
      }
    }
    return;
  }
  const client = deps.pool.client(d.registry, d.repository, 'destination');
  const leaving = new Set(d.tags.map((t) => t.tag));
  // What every other tag there names: the listing's digests, else one HEAD each (only when there
  // is something to prune, which is rare). Tags of the source not at the destination yet are about
  // to be copied: their listed digest counts too.
  const others = new Map<string, string>();
  await mapLimit([...d.present].filter((t) => !leaving.has(t)), 8, async (tag) => {
    const digest = d.digests?.get(tag) ?? (await client.manifestHead(d.repository, tag, deps.signal))?.digest;
    if (digest) others.set(tag, digest);
  });
  for (const name of source.names) {
    const digest = source.digests?.get(name);
    if (digest && !d.present.has(name)) others.set(name, digest);
  }
  const deleted = new Map<string, string>();
  let refused: string | undefined;
  for (const { tag, record } of d.tags) {
    const ref = `${where}:${tag}`;
    const now = await client.manifestHead(d.repository, tag, deps.signal).catch(() => undefined);
    if (!now) {
      await deps.destinations?.forget(d.registry, d.repository, tag);
      const by = [...deleted].find(([, digest]) => digest === record.digest)?.[0];
      // Deleted along with a tag of the same digest this run pruned, or gone meanwhile.
      if (by) report('pruned', ref, record.digest, `went with ${by} (same digest)`);
      continue;
    }
    if (now.digest !== record.digest) {
      report('kept', ref, now.digest, `the tag now holds ${now.digest}, not the ${record.digest} this tool pushed`);
      continue;
    }
    const sharing = [...others].find(([, digest]) => digest === now.digest)?.[0];
    if (sharing) {
      report('kept', ref, now.digest, `shares its digest with tag ${sharing}`);
      continue;
    }
    if (refused) {
      report('kept', ref, now.digest, refused);
      continue;
    }
    try {
      await client.manifestDelete(d.repository, now.digest, deps.signal);
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) {
        // Gone between the HEAD and the DELETE: what prune wanted.
      } else if (err instanceof RegistryError && (err.status === 405 || err.hasCode('UNSUPPORTED'))) {
        refused = `the registry refuses DELETE (${err.status}${err.hasCode('UNSUPPORTED') ? ' UNSUPPORTED' : ''}): enable deletion there, or prune by hand`;
        (deps.onWarning ?? ((m: string) => log?.warn(m)))(`prune: ${where} ${refused}`);
        report('kept', ref, now.digest, refused);
        continue;
      } else {
        log?.warn({ tag, err: errorMessage(err) }, 'prune: cannot delete the manifest');
        report('kept', ref, now.digest, `delete failed: ${errorMessage(err)}`);
        continue;
      }
    }
    deleted.set(tag, now.digest);
    await deps.destinations?.forget(d.registry, d.repository, tag);
    log?.info({ tag, digest: now.digest }, 'pruned: gone at the source');
    report('pruned', ref, now.digest);
  }
}
