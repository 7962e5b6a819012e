// Namespace and registry rules (issue 9 item 1): a rule whose source is a glob over repositories
// (`HOST/team/*`, `HOST/team/**`, `HOST/**`) is resolved at plan time into one ordinary rule per
// listed repository, through the listing port (lib/listing): `_catalog` where the registry serves it,
// the registry's own API where it does not (Docker Hub, Harbor, Quay, ECR, SWR).
import picomatch from 'picomatch';
import type { SyncRule } from '../config/types.js';
import type { ListedTag, RepositoryLister } from '../listing/types.js';
import { parseRepositoryReference } from '../oci/reference.js';
import { mapRepository } from './mapping.js';
import { ErrorCode, MigrateError } from '../errors.js';

/** The lister for a source registry (lib/listing/index.ts listerFor over the run's pool). */
export type ListerFor = (registry: string) => RepositoryLister;

const GLOB_CHARS = /[*?[\]{}()!+@]/;

/** Whether a rule source's path (after the host) is a glob rather than one repository. */
export function isGlob(path: string): boolean {
  // `repo@sha256:...` pins a digest: its `@` is not picomatch's extglob `@(a|b)`.
  return GLOB_CHARS.test(path.replace(/@[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, ''));
}

/**
 * The fixed path before the first glob segment (`team/sub/*` -> `team/sub`; `**` -> undefined),
 * which is what a lister can narrow by (Docker Hub and Quay list one namespace at a time).
 */
export function globNamespace(glob: string): string | undefined {
  const fixed: string[] = [];
  for (const part of glob.split('/')) {
    if (isGlob(part)) break;
    fixed.push(part);
  }
  return fixed.length ? fixed.join('/') : undefined;
}

/** Why a repository glob is not one, or undefined when it compiles (unbalanced brackets are refused). */
export function globProblem(glob: string): string | undefined {
  if (glob.startsWith('/') || glob.endsWith('/') || glob.includes('//')) return `"${glob}" has an empty path level; write e.g. team/* or team/**`;
  try {
    picomatch.makeRe(glob, { strictBrackets: true });
    return undefined;
  } catch (err) {
    return `invalid glob "${glob}": ${(err as Error).message}`;
  }
}

/** The fewest path levels a match can have, when every match has the same depth; undefined with `**`. */
export function exactDepth(glob: string): number | undefined {
  const parts = glob.split('/');
  return parts.some((p) => p.includes('**')) ? undefined : parts.length;
}

export interface RepositoryVerdict {
  repository: string;
  /** Undefined: kept. */
  dropped?: string;
}

/** What the rule's glob and repository include/exclude make of one listed repository. */
export function judgeRepository(rule: SyncRule, repository: string): RepositoryVerdict {
  const ns = rule.namespace!;
  // A `_catalog` lister returns everything under the namespace; the glob decides the depth.
  if (!picomatch.isMatch(repository, ns.glob)) return { repository, dropped: `outside ${ns.glob}` };
  if (ns.include?.length && !ns.include.some((g) => picomatch.isMatch(repository, g))) return { repository, dropped: `not in repositories.include` };
  const ex = ns.exclude?.find((g) => picomatch.isMatch(repository, g));
  if (ex !== undefined) return { repository, dropped: `repositories.exclude "${ex}"` };
  return { repository };
}

/** The ordinary rule for one repository of a namespace rule, or why it has none. */
export function concreteRule(rule: SyncRule, repository: string): SyncRule | string {
  const ns = rule.namespace!;
  const mapped = mapRepository(rule.source.registry, repository, ns.mapping);
  if ('error' in mapped) return mapped.error;
  const destinations: SyncRule['destinations'] = [];
  for (const target of ns.targets) {
    try {
      const ref = parseRepositoryReference(`${target}/${mapped.path}`);
      if (ref.registry === rule.source.registry && ref.repository === repository) return 'the destination is the source itself';
      destinations.push({ registry: ref.registry, repository: ref.repository });
    } catch (err) {
      return `no valid destination name below ${target}: ${(err as Error).message}`;
    }
  }
  const { namespace: _ns, ...rest } = rule;
  return { ...rest, source: { registry: rule.source.registry, repository }, destinations };
}

export interface RepositoriesExplained {
  origin: string;
  source: string;
  listed: string[];
  dropped: { repository: string; reason: string }[];
}

export interface ExpandOptions {
  signal?: AbortSignal;
  onWarning?: (message: string) => void;
  onRepositories?: (e: RepositoriesExplained) => void;
}

export interface ExpandedRules {
  rules: SyncRule[];
  /** Tags (with push times) the listing gave along, per concrete rule: no tag-list call needed. */
  listedTags: Map<SyncRule, ListedTag[]>;
  /** The lister each concrete rule came from, for push times (tagTimes). */
  listers: Map<SyncRule, RepositoryLister>;
  /** Namespace rules whose repositories could not be listed (or were not, after an interrupt). */
  failed: { rule: SyncRule; error: unknown }[];
}

/**
 * Namespace rules replaced by one rule per listed and kept repository, in listing order; other rules
 * pass through. Every destination is then known, so the collision check (conflicts.ts) and SWR's
 * preflight see each mapping. A glob matching nothing is a warning naming the rule and host.
 */
export async function expandNamespaceRules(rules: readonly SyncRule[], listerFor: ListerFor | undefined, opts: ExpandOptions = {}): Promise<ExpandedRules> {
  const out: ExpandedRules = { rules: [], listedTags: new Map(), listers: new Map(), failed: [] };
  for (const rule of rules) {
    if (!rule.namespace) {
      out.rules.push(rule);
      continue;
    }
    if (!listerFor) throw new Error(`internal: ${rule.origin} is a namespace rule but no repository lister was given`);
    if (opts.signal?.aborted) {
      out.failed.push({ rule, error: new MigrateError(ErrorCode.INTERRUPTED, 'interrupted before this rule was planned') });
      continue;
    }
    const lister = listerFor(rule.source.registry);
    const concrete: SyncRule[] = [];
    const source = `${rule.source.registry}/${rule.source.repository}`;
    const listed: string[] = [];
    const dropped: RepositoriesExplained['dropped'] = [];
    let kept = 0;
    try {
      for await (const r of lister.repositories(rule.namespace.namespace, opts.signal)) {
        listed.push(r.repository);
        const verdict = judgeRepository(rule, r.repository);
        const c = verdict.dropped ?? concreteRule(rule, r.repository);
        if (typeof c === 'string') {
          dropped.push({ repository: r.repository, reason: c });
          continue;
        }
        kept++;
        concrete.push(c);
        out.listers.set(c, lister);
        if (r.tags) out.listedTags.set(c, r.tags);
      }
    } catch (err) {
      // One rule's listing stops no other rule: it is reported, tried again or dead-lettered by
      // the caller (plan/planner.ts ruleFailed). A partial listing is never used.
      const interrupted = opts.signal?.aborted === true;
      // The adapter names the host and the fix; the rule it was listing for is ours to add.
      if (!interrupted && err instanceof Error && !err.message.startsWith(rule.origin)) err.message = `${rule.origin}: ${err.message}`;
      out.failed.push({ rule, error: interrupted ? new MigrateError(ErrorCode.INTERRUPTED, 'interrupted before this rule was planned') : err });
      continue;
    }
    out.rules.push(...concrete);
    opts.onRepositories?.({ origin: rule.origin, source, listed, dropped });
    if (kept === 0) {
      opts.onWarning?.(
        `${rule.origin}: ${source} matches no repository on ${rule.source.registry} (${listed.length} listed${dropped.length ? `, ${dropped.length} dropped by the filters` : ''}); check the glob and repositories.include/exclude`,
      );
    }
  }
  return out;
}
