// The planner: rules -> one copy-image message per (source image, destination). Rules that name
// exact tags or a digest are used as given (no tag-list request, as ocync does); the others list the
// repository's tags (paginated) and filter them. Messages stream out rule by rule, so copiers start
// while enumeration is still running: there is no plan-everything-then-copy barrier.
import type { SyncRule, TagFilter } from '../config/types.js';
import { mapLimit } from '../copy/limiter.js';
import { ErrorCode, MigrateError } from '../errors.js';
import type { CopyImageMessage, ExpandRepositoryMessage } from '../queue/messages.js';
import type { ClientPool } from '../registry/pool.js';
import { selectTags } from './tags.js';

export type TagLister = (registry: string, repository: string, signal?: AbortSignal) => Promise<string[]>;

/** Tags listed with the source credentials of the pool. */
export function poolTagLister(pool: ClientPool): TagLister {
  return (registry, repository, signal) => pool.client(registry, repository, 'source').tagList(repository, signal);
}

export interface PlanSink {
  /** A batch of tasks, as soon as a rule resolves. */
  tasks(messages: CopyImageMessage[]): Promise<void>;
  /** A rule whose tags could not be listed: its expand message goes to the DLQ, to be replayed. */
  ruleFailed(message: ExpandRepositoryMessage, err: unknown): Promise<void>;
}

export interface PlanOptions {
  platforms?: string[];
  /** Rules listed at once. */
  concurrency?: number;
  signal?: AbortSignal;
}

export async function runPlanner(rules: readonly SyncRule[], list: TagLister, sink: PlanSink, opts: PlanOptions = {}): Promise<void> {
  const seen = new Set<string>();
  const dedup = (ms: CopyImageMessage[]) =>
    ms.filter((m) => {
      const key = `${m.source}\u0000${m.destination}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  // Exact rules first: they cost no request, so copiers get work at once.
  const exact = rules.filter((r) => r.tags || r.digest);
  const listed = rules.filter((r) => !r.tags && !r.digest);
  const now = dedup(exact.flatMap((r) => copyMessagesFor(r, r.tags ?? [], opts.platforms)));
  if (now.length) await sink.tasks(now);
  await mapLimit(listed, opts.concurrency ?? 8, async (rule) => {
    // Interrupted before this rule was planned: it goes to the DLQ too, so replay plans it.
    const interrupted = () => new MigrateError(ErrorCode.INTERRUPTED, 'interrupted before this rule was planned');
    if (opts.signal?.aborted) return sink.ruleFailed(expandMessageFor(rule, opts.platforms), interrupted());
    let tags: string[];
    try {
      tags = await list(rule.source.registry, rule.source.repository, opts.signal);
    } catch (err) {
      await sink.ruleFailed(expandMessageFor(rule, opts.platforms), opts.signal?.aborted ? interrupted() : err);
      return;
    }
    const batch = dedup(copyMessagesFor(rule, selectTags(tags, rule.filter), opts.platforms));
    if (batch.length) await sink.tasks(batch);
  });
}

/** One message per (tag or digest) x destination. */
export function copyMessagesFor(rule: SyncRule, tags: readonly string[], platforms?: string[]): CopyImageMessage[] {
  const src = `${rule.source.registry}/${rule.source.repository}`;
  const out: CopyImageMessage[] = [];
  const push = (source: string, destination: string) =>
    out.push({ v: 1, kind: 'copy-image', source, destination, origin: rule.origin, ...(platforms?.length ? { platforms } : {}) });
  for (const d of rule.destinations) {
    const dst = `${d.registry}/${d.repository}`;
    if (rule.digest) {
      const source = rule.tags?.length === 1 ? `${src}:${rule.tags[0]}@${rule.digest}` : `${src}@${rule.digest}`;
      // A tag that came with the digest names the image at the destination too.
      const tag = d.tag ?? (rule.tags?.length === 1 ? rule.tags[0] : undefined);
      push(source, tag ? `${dst}:${tag}` : `${dst}@${rule.digest}`);
      continue;
    }
    for (const tag of tags) push(`${src}:${tag}`, `${dst}:${d.tag ?? tag}`);
  }
  return out;
}

export function expandMessageFor(rule: SyncRule, platforms?: string[]): ExpandRepositoryMessage {
  return {
    v: 1,
    kind: 'expand-repository',
    source: `${rule.source.registry}/${rule.source.repository}`,
    destinations: rule.destinations.map((d) => `${d.registry}/${d.repository}`),
    ...(rule.filter ? { filter: filterToMessage(rule.filter) } : {}),
    ...(platforms?.length ? { platforms } : {}),
    origin: rule.origin,
  };
}

function filterToMessage(f: TagFilter): NonNullable<ExpandRepositoryMessage['filter']> {
  return {
    ...(f.include ? { include: f.include.map((r) => r.source) } : {}),
    ...(f.exclude ? { exclude: f.exclude.map((r) => r.source) } : {}),
    ...(f.latest !== undefined ? { latest: f.latest } : {}),
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
    filter: m.filter
      ? {
          include: m.filter.include?.map((s) => new RegExp(s)),
          exclude: m.filter.exclude?.map((s) => new RegExp(s)),
          latest: m.filter.latest,
        }
      : undefined,
    destinations,
  };
}
