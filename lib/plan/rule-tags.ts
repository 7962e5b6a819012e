// A listed rule's tags, from the cheapest answer that has what the rule needs (issue 15, item 2).
// A source whose listing API gives each tag's digest (Docker Hub, Harbor, Quay, ECR, SWR) is listed
// through it: one paged call per repository instead of the registry's tag list, and the digests
// ride on the copy messages, so an unchanged tag needs no source HEAD. Push times come along for
// `pushedWithinDays`. Any other source: the registry's tag list, and push times only if the filter
// asks for them and the source has an API that gives them.
import type { ListedTag, RepositoryLister } from '../listing/types.js';
import type { SyncRule } from '../config/types.js';
import type { TagLister } from './planner.js';

export interface RuleTags {
  names: string[];
  /** Push times by tag, when the rule filters by them and the source gave any. */
  pushedAt?: Map<string, string>;
  /** Digests by tag, as the source's listing API gave them. */
  digests?: Map<string, string>;
  /** The rule filters by push time and the source gave none. */
  noTimes: boolean;
}

export async function listRuleTags(
  rule: SyncRule,
  list: TagLister,
  lister: RepositoryLister | undefined,
  given: readonly ListedTag[] | undefined,
  signal?: AbortSignal,
): Promise<RuleTags> {
  const { registry, repository } = rule.source;
  let listed = given;
  let times = false;
  if (!listed && lister?.tagDigests && lister.tagTimes) {
    listed = await lister.tagTimes(repository, signal);
    times = true;
  }
  const names = listed ? listed.map((t) => t.name) : await list(registry, repository, signal);
  let pushedAt: Map<string, string> | undefined;
  if (rule.filter?.pushedWithinDays !== undefined) {
    let withTimes = (listed ?? []).filter((t) => t.pushedAt !== undefined);
    if (!withTimes.length && !times && lister?.tagTimes) withTimes = (await lister.tagTimes(repository, signal)).filter((t) => t.pushedAt !== undefined);
    if (withTimes.length) pushedAt = new Map(withTimes.map((t) => [t.name, t.pushedAt!]));
  }
  const withDigests = (listed ?? []).filter((t) => t.digest !== undefined);
  return {
    names,
    ...(pushedAt ? { pushedAt } : {}),
    ...(withDigests.length ? { digests: new Map(withDigests.map((t) => [t.name, t.digest!])) } : {}),
    noTimes: rule.filter?.pushedWithinDays !== undefined && !pushedAt,
  };
}
