// The planner: rules -> one copy-image message per (source image, destination). Rules that name
// exact tags or a digest are used as given (no tag-list request, as ocync does); the others list the
// repository's tags (paginated) and filter them. Messages stream out rule by rule, so copiers start
// while enumeration is still running: there is no plan-everything-then-copy barrier.
import type { SyncRule, TagFilter } from '../config/types.js';
import { mapLimit } from '../copy/limiter.js';
import { ConfigError, type DestinationConflictError, ErrorCode, MigrateError } from '../errors.js';
import type { CopyImageMessage, ExpandNamespaceMessage, ExpandRepositoryMessage, RuleMessage } from '../queue/messages.js';
import { type RuleTags, listRuleTags } from './rule-tags.js';
import type { ClientPool } from '../registry/pool.js';
import { findConflicts, overlapGroups, partitionConflicts } from './conflicts.js';
import { type ExpandedRules, type ListerFor, type RepositoriesExplained, expandNamespaceRules } from './namespaces.js';
import { type FilterStep, explainTags, invalidTags } from './tags.js';
import { noPushTimesWarning } from './warnings.js';

export type TagLister = (registry: string, repository: string, signal?: AbortSignal) => Promise<string[]>;

/** Tags listed with the source credentials of the pool. */
export function poolTagLister(pool: ClientPool): TagLister {
  return (registry, repository, signal) => pool.client(registry, repository, 'source').tagList(repository, signal);
}

export interface PlanSink {
  /** A batch of tasks, as soon as a rule resolves. */
  tasks(messages: CopyImageMessage[]): Promise<void>;
  /**
   * A rule that could not be listed (its tags, or a namespace rule's repositories): its expand
   * message is tried again by a copier or goes to the DLQ, to be replayed; the other rules go on.
   */
  ruleFailed(message: RuleMessage, err: unknown): Promise<void>;
  /** A listed task whose destination another source claims too: never sent, it goes to the DLQ. */
  conflict(message: CopyImageMessage, err: DestinationConflictError): Promise<void>;
}

export interface PlanOptions {
  platforms?: string[];
  /** Rules listed at once. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Listed tags that are not valid tags, skipped (the registry's tag list is not trusted). */
  onInvalidTags?: (source: string, tags: string[], origin: string) => void;
  /** The repository lister per source registry, for namespace rules and push times (listerFor over the pool). */
  repositories?: ListerFor;
  /** Warnings for the user (a glob matching nothing, push times unavailable), one line each. */
  onWarning?: (message: string) => void;
  /** `plan --explain`: what each filter kept and dropped. */
  explain?: ExplainSink;
  /** For pushedWithinDays (tests); default Date.now(). */
  now?: number;
  /** Namespace rules already expanded by the caller (sync expands before SWR's preflight). */
  expanded?: ExpandedRules;
  /**
   * A listed rule's full tag list, once it was listed successfully and before its copies are sent:
   * where a rule's prune runs (pipeline/prune.ts), or plan shows what it would delete.
   */
  onListed?: (rule: SyncRule, listed: RuleTags) => Promise<void>;
}

export interface TagsExplained {
  origin: string;
  /** registry/repository */
  source: string;
  listed: number;
  steps: FilterStep[];
  kept: string[];
}

export interface ExplainSink {
  repositories(e: RepositoriesExplained): void;
  tags(e: TagsExplained): void;
}

/** Namespace rules as concrete rules (see namespaces.ts), reporting to the plan options' hooks. */
export function expandRules(rules: readonly SyncRule[], opts: PlanOptions): Promise<ExpandedRules> {
  return expandNamespaceRules(rules, opts.repositories, { signal: opts.signal, onWarning: opts.onWarning, onRepositories: opts.explain?.repositories.bind(opts.explain) });
}

/** Throws a ConfigError (exit 2) when exact tags of different sources share a destination. */
export async function runPlanner(given: readonly SyncRule[], list: TagLister, sink: PlanSink, opts: PlanOptions = {}): Promise<void> {
  // Every destination must be known before anything is sent, for the collision check: namespace
  // rules are listed first (repositories only; their tags stream below like any listed rule).
  const expanded = opts.expanded ?? (await expandRules(given, opts));
  // A namespace rule whose repositories could not be listed stops no other rule (issue 13, item 6).
  for (const f of expanded.failed) await sink.ruleFailed(namespaceMessageFor(f.rule, opts.platforms), f.error);
  const rules = expanded.rules;
  const timesWarned = new Set<string>();
  const seen = new Set<string>();
  const dedup = (ms: CopyImageMessage[]) =>
    ms.filter((m) => {
      const key = `${m.source}\u0000${m.destination}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  const isExact = (r: SyncRule) => Boolean(r.tags || r.digest);
  const exactMessages = rules.map((r) => (isExact(r) ? copyMessagesFor(r, r.tags ?? [], opts.platforms) : []));
  const exactConflicts = findConflicts(exactMessages.flat());
  if (exactConflicts.length) {
    throw new ConfigError(`${exactConflicts.length} destination(s) claimed by more than one source`, exactConflicts.map((e) => e.message));
  }

  // Rules sharing a destination repository with a listed rule are held until the whole group is
  // listed (see conflicts.ts); the others go out at once.
  const groupOf = overlapGroups(rules);
  const groups = new Map<number, { pending: number; held: CopyImageMessage[] }>();
  rules.forEach((r, i) => {
    const g = groupOf[i];
    if (g === undefined) return;
    const group = groups.get(g) ?? { pending: 0, held: [] };
    if (!isExact(r)) group.pending++;
    groups.set(g, group);
  });
  const settle = async (i: number, messages: CopyImageMessage[]) => {
    const group = groupOf[i] === undefined ? undefined : groups.get(groupOf[i]!);
    if (!group || group.pending === 0) {
      const batch = dedup(messages);
      if (batch.length) await sink.tasks(batch);
      return;
    }
    group.held.push(...messages);
    if (!isExact(rules[i]!)) group.pending--;
    if (group.pending > 0) return;
    const { clear, held } = partitionConflicts(group.held);
    const batch = dedup(clear);
    if (batch.length) await sink.tasks(batch);
    for (const h of held) await sink.conflict(h.message, h.error);
  };

  // Exact rules first: they cost no request, so copiers get work at once.
  const free: CopyImageMessage[] = [];
  for (const [i, r] of rules.entries()) {
    if (!isExact(r)) continue;
    const group = groupOf[i] === undefined ? undefined : groups.get(groupOf[i]!);
    if (group?.pending) group.held.push(...exactMessages[i]!);
    else free.push(...exactMessages[i]!);
  }
  const now = dedup(free);
  if (now.length) await sink.tasks(now);
  const listed = [...rules.entries()].filter(([, r]) => !isExact(r));
  await mapLimit(listed, opts.concurrency ?? 8, async ([i, rule]) => {
    // Interrupted before this rule was planned: it goes to the DLQ too, so replay plans it.
    const interrupted = () => new MigrateError(ErrorCode.INTERRUPTED, 'interrupted before this rule was planned');
    let listed: RuleTags;
    const source = `${rule.source.registry}/${rule.source.repository}`;
    try {
      if (opts.signal?.aborted) throw interrupted();
      const lister = expanded.listers.get(rule) ?? opts.repositories?.(rule.source.registry);
      listed = await listRuleTags(rule, list, lister, expanded.listedTags.get(rule), opts.signal);
      if (listed.noTimes && !timesWarned.has(rule.origin)) {
        timesWarned.add(rule.origin);
        opts.onWarning?.(noPushTimesWarning(rule.origin, rule.source.registry, lister?.kind ?? 'tag list only', rule.filter!.pushedWithinDays!));
      }
    } catch (err) {
      await sink.ruleFailed(expandMessageFor(rule, opts.platforms), opts.signal?.aborted ? interrupted() : err);
      return settle(i, []);
    }
    const tags = listed.names;
    const invalid = invalidTags(tags);
    if (invalid.length) opts.onInvalidTags?.(source, invalid, rule.origin);
    const selection = explainTags(tags, rule.filter, { pushedAt: listed.pushedAt, now: opts.now });
    opts.explain?.tags({ origin: rule.origin, source, listed: tags.length, steps: selection.steps, kept: selection.kept });
    if (rule.prune) await opts.onListed?.(rule, listed);
    await settle(i, copyMessagesFor(rule, selection.kept, opts.platforms, listed.digests));
  });
}

/** One message per (tag or digest) x destination. */
export function copyMessagesFor(rule: SyncRule, tags: readonly string[], platforms?: string[], digests?: ReadonlyMap<string, string>): CopyImageMessage[] {
  const src = `${rule.source.registry}/${rule.source.repository}`;
  const out: CopyImageMessage[] = [];
  // Destinations in one registry mount from each other; each other registry reads the source's blobs again.
  const fanOut = new Set(rule.destinations.map((d) => d.registry)).size;
  const push = (source: string, destination: string, listedDigest?: string) =>
    out.push({ v: 1, kind: 'copy-image', source, destination, origin: rule.origin, ...(platforms?.length ? { platforms } : {}), ...(rule.format ? { format: rule.format } : {}), ...(rule.force ? { force: true } : {}), ...(rule.deep ? { deep: true } : {}), ...(rule.fullCheck ? { fullCheck: true } : {}), ...(rule.overwrite === false ? { overwrite: false as const } : {}), ...(listedDigest ? { listedDigest } : {}), ...(fanOut > 1 ? { fanOut } : {}) });
  for (const d of rule.destinations) {
    const dst = `${d.registry}/${d.repository}`;
    if (rule.digest) {
      const source = rule.tags?.length === 1 ? `${src}:${rule.tags[0]}@${rule.digest}` : `${src}@${rule.digest}`;
      // A tag that came with the digest names the image at the destination too.
      const tag = d.tag ?? (rule.tags?.length === 1 ? rule.tags[0] : undefined);
      push(source, tag ? `${dst}:${tag}` : `${dst}@${rule.digest}`);
      continue;
    }
    for (const tag of tags) push(`${src}:${tag}`, `${dst}:${d.tag ?? tag}`, digests?.get(tag));
  }
  return out;
}

export function expandMessageFor(rule: SyncRule, platforms?: string[]): ExpandRepositoryMessage {
  return {
    v: 1,
    kind: 'expand-repository',
    source: `${rule.source.registry}/${rule.source.repository}`,
    destinations: rule.destinations.map((d) => `${d.registry}/${d.repository}`),
    ...ruleOptions(rule, platforms),
  };
}

/** What a rule message carries besides its source and destinations: filters and copy options. */
function ruleOptions(rule: SyncRule, platforms?: string[]): Pick<ExpandRepositoryMessage, 'filter' | 'platforms' | 'format' | 'force' | 'deep' | 'fullCheck' | 'overwrite' | 'prune' | 'origin'> {
  return {
    ...(rule.filter ? { filter: filterToMessage(rule.filter) } : {}),
    ...(platforms?.length ? { platforms } : {}),
    ...(rule.format ? { format: rule.format } : {}),
    ...(rule.force ? { force: true } : {}),
    ...(rule.deep ? { deep: true } : {}),
    ...(rule.fullCheck ? { fullCheck: true } : {}),
    ...(rule.overwrite === false ? { overwrite: false as const } : {}),
    ...(rule.prune ? { prune: { max: rule.prune.max, ...(rule.prune.maxGiven ? {} : { maxGiven: false }), ...(rule.prune.protect.length ? { protect: rule.prune.protect } : {}) } } : {}),
    origin: rule.origin,
  };
}

/** The rule options of an expand message back on a rule (the inverse of ruleOptions' overwrite and prune). */
function ruleExtras(m: Pick<ExpandRepositoryMessage, 'overwrite' | 'prune'>): Pick<SyncRule, 'overwrite' | 'prune'> {
  return {
    ...(m.overwrite === false ? { overwrite: false as const } : {}),
    ...(m.prune ? { prune: { max: m.prune.max, maxGiven: m.prune.maxGiven !== false, protect: m.prune.protect ?? [] } } : {}),
  };
}

/** The expand-namespace message of a namespace rule whose listing failed, so a copier or replay lists it again. */
export function namespaceMessageFor(rule: SyncRule, platforms?: string[]): ExpandNamespaceMessage {
  const ns = rule.namespace!;
  const m = ns.mapping;
  return {
    v: 1,
    kind: 'expand-namespace',
    source: `${rule.source.registry}/${ns.glob}`,
    namespace: {
      glob: ns.glob,
      ...(ns.namespace !== undefined ? { namespace: ns.namespace } : {}),
      ...(ns.include ? { include: ns.include } : {}),
      ...(ns.exclude ? { exclude: ns.exclude } : {}),
      targets: ns.targets,
      mapping: {
        mode: m.mode,
        ...(m.stripLevels !== undefined ? { stripLevels: m.stripLevels } : {}),
        ...(m.prefix !== undefined ? { prefix: m.prefix } : {}),
        ...(m.template !== undefined ? { template: m.template } : {}),
      },
    },
    ...ruleOptions(rule, platforms),
  };
}

/** The namespace rule an expand-namespace message stands for. */
export function ruleFromNamespace(m: ExpandNamespaceMessage): SyncRule {
  const registry = m.source.split('/')[0]!;
  return {
    origin: m.origin ?? m.source,
    source: { registry, repository: m.namespace.glob },
    filter: filterFromMessage(m.filter),
    destinations: [],
    namespace: { ...m.namespace, mapping: { ...m.namespace.mapping } },
    ...(m.format ? { format: m.format } : {}),
    ...(m.force ? { force: true } : {}),
    ...(m.deep ? { deep: true } : {}),
    ...(m.fullCheck ? { fullCheck: true } : {}),
    ...ruleExtras(m),
  };
}

function filterToMessage(f: TagFilter): NonNullable<ExpandRepositoryMessage['filter']> {
  return {
    ...(f.include ? { include: f.include.map((r) => r.source) } : {}),
    ...(f.exclude ? { exclude: f.exclude.map((r) => r.source) } : {}),
    ...(f.latest !== undefined ? { latest: f.latest } : {}),
    ...(f.semver !== undefined ? { semver: f.semver } : {}),
    ...(f.pushedWithinDays !== undefined ? { pushedWithinDays: f.pushedWithinDays } : {}),
  };
}

/** The rule an expand message stands for, so the worker can plan it again. */
export function ruleFromExpand(m: ExpandRepositoryMessage): SyncRule {
  const [registry, ...rest] = m.source.split('/');
  const destinations = m.destinations.map((d) => {
    const [r, ...p] = d.split('/');
    return { registry: r!, repository: p.join('/') };
  });
  return {
    origin: m.origin ?? m.source,
    source: { registry: registry!, repository: rest.join('/') },
    filter: filterFromMessage(m.filter),
    destinations,
    ...(m.format ? { format: m.format } : {}),
    ...(m.force ? { force: true } : {}),
    ...(m.deep ? { deep: true } : {}),
    ...(m.fullCheck ? { fullCheck: true } : {}),
    ...ruleExtras(m),
  };
}

function filterFromMessage(f: ExpandRepositoryMessage['filter']): TagFilter | undefined {
  if (!f) return undefined;
  return {
    include: f.include?.map((s) => new RegExp(s)),
    exclude: f.exclude?.map((s) => new RegExp(s)),
    latest: f.latest,
    ...(f.semver !== undefined ? { semver: f.semver } : {}),
    ...(f.pushedWithinDays !== undefined ? { pushedWithinDays: f.pushedWithinDays } : {}),
  };
}
