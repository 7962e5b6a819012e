// A recheck (issue 16, continuous mirroring): an event said a source repository changed. Events are
// hints and the sync is the truth, so the copier does for that one repository what a scheduled run
// does (lib/lambda/planner.ts planTwoLevel) under the rules that cover it: copy messages for exact
// tags, an expand-repository message for a listed rule, an expand-group message where rules share
// destination repositories. A namespace rule covering the repository is narrowed to it first (its
// glob and repository include/exclude, its mapping: plan/namespaces.ts), as the planner would after
// listing. The tags an event named are not trusted to be all that changed (Harbor names only the
// first tag, GitHub one manifest at a time): the rules decide what is copied, never the hint.
import type { LoadedConfig, SyncRule } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { planTwoLevel } from '../lambda/planner.js';
import { concreteRule, judgeRepository } from '../plan/namespaces.js';
import { overlapGroups } from '../plan/conflicts.js';
import { parseReference, parseRepositoryReference } from '../oci/reference.js';
import type { CopyImageMessage, ExpandGroupMessage, ExpandRepositoryMessage, RecheckMessage } from '../queue/messages.js';
import type { ProcessDeps } from './copier.js';
import { expandGroup, expandOne, fanOut } from './expand.js';

/** What a copier needs to answer a recheck: the config's rules and its `defaults.platforms`. */
export interface RecheckRules {
  rules: readonly SyncRule[];
  platforms?: string[];
}

/**
 * The rules a copier matches rechecks against; none for a config without rules, or with rules that
 * no longer read (`work` or `replay` given only credentials, or a stale file), so a recheck goes to
 * the DLQ to be replayed with the rules instead of being acknowledged as covered by none.
 */
export function recheckRulesOf(config: Pick<LoadedConfig, 'rules' | 'defaults' | 'staleRules'>): { recheckRules?: RecheckRules } {
  if (!config.rules.length || config.staleRules) return {};
  return { recheckRules: { rules: config.rules, ...(config.defaults.platforms ? { platforms: config.defaults.platforms } : {}) } };
}

export interface Covering {
  /** Ordinary rules for the repository: exact-repository rules and namespace rules narrowed to it. */
  rules: SyncRule[];
  /** Namespace rules whose glob matches but that cannot map it (why, for the log). */
  unmapped: string[];
}

/** The rules that cover `registry/repository` (both normalised as parseRepositoryReference writes them). */
export function rulesCovering(rules: readonly SyncRule[], registry: string, repository: string): Covering {
  const out: Covering = { rules: [], unmapped: [] };
  for (const rule of rules) {
    if (rule.source.registry !== registry) continue;
    if (!rule.namespace) {
      if (rule.source.repository === repository) out.rules.push(rule);
      continue;
    }
    if (judgeRepository(rule, repository).dropped) continue;
    const c = concreteRule(rule, repository);
    if (typeof c === 'string') out.unmapped.push(`${rule.origin}: ${c}`);
    else out.rules.push(c);
  }
  return out;
}

/**
 * The covering rules plus every other ordinary rule sharing a destination repository with them,
 * transitively: a scheduled run lists those together (one expand-group message), so two sources of
 * one destination tag are held back rather than racing (plan/conflicts.ts). Namespace rules' other
 * repositories are not known without a listing: they are not added (the schedule still checks them).
 */
function withOverlapping(covering: SyncRule[], rules: readonly SyncRule[]): SyncRule[] {
  const all = [...covering, ...rules.filter((r) => !r.namespace && !covering.includes(r))];
  const groups = overlapGroups(all);
  const wanted = new Set(covering.map((_, i) => groups[i]).filter((g) => g !== undefined));
  return all.filter((_, i) => i < covering.length || (groups[i] !== undefined && wanted.has(groups[i])));
}

export type RecheckPlan = { messages: (CopyImageMessage | ExpandRepositoryMessage | ExpandGroupMessage)[]; note?: string };

/** The messages a scheduled run would send for this repository, without a registry request. */
export function planRecheck(m: RecheckMessage, given: RecheckRules): RecheckPlan {
  const ref = parseRepositoryReference(m.source);
  const covering = rulesCovering(given.rules, ref.registry, ref.repository);
  const unmapped = covering.unmapped.length ? `; ${covering.unmapped.join('; ')}` : '';
  if (covering.rules.length === 0) return { messages: [], note: `no rule covers ${m.source}${unmapped}` };
  // A deleted tag leaves nothing to copy for exact-tag rules; listed rules are listed again (what
  // they keep may change: `latest: N` moves, a prune policy sees the tag gone).
  const listed = (r: SyncRule) => !r.tags && !r.digest;
  const wanted = m.action === 'delete' ? covering.rules.filter(listed) : covering.rules;
  if (wanted.length === 0) return { messages: [], note: `no listed rule covers ${m.source}; a deleted tag changes nothing for exact-tag rules${unmapped}` };
  const { copies, expands, groups } = planTwoLevel(withOverlapping(wanted, given.rules), given.platforms);
  // Rules added only for the overlap check ride in the groups; their own copies are not this repository's.
  const ownCopies = copies.filter((c) => {
    const s = parseReference(c.source);
    return s.registry === ref.registry && s.repository === ref.repository;
  });
  const ownExpands = expands.filter((e) => e.source === m.source);
  return { messages: [...ownCopies, ...ownExpands, ...groups], ...(unmapped ? { note: unmapped.slice(2) } : {}) };
}

/**
 * Plan a recheck's messages and do their listing here, in this delivery: an expand-repository or
 * expand-group message the plan holds is expanded at once (expand.ts, the same code a copier runs
 * for them), so the copies it finds are sent straight away and an event costs one hop before its
 * images are copied instead of two. Exact copies are sent through the expansion's path (fanOut:
 * they join the recheck's run before they are sent). A listing that fails fails the recheck, which
 * is then retried or dead-lettered with its reason, and `replay` re-checks the repository again.
 * A repository no rule covers is a result, not a failure: it sends nothing and says so (events
 * arrive for every repository of a Harbor project or a Quay organisation).
 */
export async function recheckRepository(m: RecheckMessage, deps: ProcessDeps, signal?: AbortSignal): Promise<{ sent: number; note?: string }> {
  if (!deps.recheckRules) {
    throw new ConfigError(`this copier was started without the config's rules, so it cannot re-check ${m.source}; replay the letter with a copier given the config`);
  }
  const plan = planRecheck(m, deps.recheckRules);
  if (plan.note) deps.logger?.info({ source: m.source, via: m.via, action: m.action, planned: plan.messages.length }, plan.note);
  const run = m.run ? { run: m.run } : {};
  const copies = plan.messages.filter((x): x is CopyImageMessage => x.kind === 'copy-image');
  let sent = copies.length;
  if (copies.length) await fanOut(m, copies, deps);
  for (const x of plan.messages) {
    if (x.kind === 'expand-repository') sent += await expandOne({ ...x, ...run }, deps, signal);
    else if (x.kind === 'expand-group') sent += await expandGroup({ ...x, ...run }, deps, signal);
  }
  return { sent, ...(plan.note ? { note: plan.note } : {}) };
}
