// What a webhook says, reduced to what a re-check needs: a source repository, the tag the sender
// named (a hint), and whether something was pushed or deleted. Each vendor's parser (lib/vendors/
// */events.ts) produces hints; rechecksFrom merges them into queue messages. Pure: no I/O.
import { isValidTag, parseRepositoryReference } from '../oci/reference.js';
import type { EventVia, RecheckMessage } from '../queue/messages.js';

export interface RepositoryHint {
  /** `registry/repository`, normalised (`docker.io/library/nginx`). */
  source: string;
  tag?: string;
  action: 'push' | 'delete';
}

/** What a vendor parser made of an authenticated body. */
export type ParsedEvent =
  /** Repositories to re-check (at least one), or none with a note (an event that needs nothing: a ping, a pull). */
  | { hints: RepositoryHint[]; note?: string }
  /** Not what this sender sends: one line, quoting nothing from the body. */
  | { invalid: string };

/** Tags a recheck carries at most; beyond it the hint is dropped: the whole repository is re-checked anyway. */
export const MAX_HINT_TAGS = 100;

const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * The hint for `host/path`, or why it is not a repository. The host must come out as written:
 * a bare `team/app` would otherwise be read as Docker Hub's.
 */
export function repositoryHint(host: string, path: string, tag: string | undefined, action: RepositoryHint['action']): RepositoryHint | string {
  // Hostnames are case-insensitive; the config's are written in lower case.
  const registry = host.toLowerCase();
  let ref;
  try {
    ref = parseRepositoryReference(`${registry}/${path}`);
  } catch {
    return 'the repository it names is not a valid repository name';
  }
  if (ref.tag !== undefined || ref.digest !== undefined) return 'the repository it names carries a tag or digest';
  if (ref.registry !== registry && !DOCKER_HUB_NAMES.has(registry)) return 'the registry host it names is not a host';
  // A digest in the tag field (Harbor 2.x for an index's children) or an empty tag: no tag hint.
  const hinted = tag !== undefined && isValidTag(tag) ? { tag } : {};
  return { source: `${ref.registry}/${ref.repository}`, ...hinted, action };
}

/** Two tag hints as one: their union, or none (the whole repository) when either is none or it grows past the cap. */
export function mergeTags(a: readonly string[] | undefined, b: readonly string[] | undefined): string[] | undefined {
  if (!a || !b) return undefined;
  const all = [...new Set([...a, ...b])];
  return all.length > MAX_HINT_TAGS ? undefined : all;
}

/** One recheck per repository and action, their tags merged. */
export function rechecksFrom(hints: readonly RepositoryHint[], via: EventVia): RecheckMessage[] {
  const out = new Map<string, RecheckMessage>();
  for (const h of hints) {
    const key = `${h.action}\u0000${h.source}`;
    const tags = h.tag !== undefined ? [h.tag] : undefined;
    const held = out.get(key);
    if (!held) {
      out.set(key, { v: 1, kind: 'recheck', source: h.source, ...(tags ? { tags } : {}), action: h.action, via });
      continue;
    }
    const merged = mergeTags(held.tags, tags);
    if (merged) held.tags = merged;
    else delete held.tags;
  }
  return [...out.values()];
}
