// What a run knows about its destination repositories, so that it asks each one less (issue 15,
// items 1 and 2). Two facts, each checked by something cheaper than a HEAD per tag:
// - A repository the registry does not know (its tag list answers 404 NAME_UNKNOWN) and that this
//   tool never started pushing into (no `touched` record in the state store) is *fresh*: nothing in
//   it can be found by a HEAD, so the copy sends none (manifests, children, blobs), and uploads with
//   POST + PUT or mounts from a repository this run filled. The record is written before the first
//   upload, so a run killed half way (blobs there, no tag yet) is resumed with HEADs, not re-sent.
// - A tag the destination's tag list still names, with a record of the digest this tool pushed or a
//   HEAD found there within `fullCheckEvery`: the record stands for the destination HEAD (the copy
//   then compares it with the source as it would a HEAD's answer). A tag deleted behind the tool's
//   back is missing from the tag list on the next run; one overwritten behind its back is caught by
//   the periodic full check (a HEAD, which refreshes the record) or by --full-check (the copy's
//   `trust: false`). An SWR destination's listing gives each tag's digest: no record is needed.
// The state store is the source of hints only: every hint that proves wrong is healed by the check
// that caught it (a HEAD that disagrees overwrites the record), logged at debug level.
import type { Logger } from 'pino';
import { RegistryError, errorMessage } from '../errors.js';
import { isDigest } from '../oci/digest.js';
import type { RegistryClient } from '../registry/types.js';
import type { StateStore } from '../state/store.js';
import type { ListedTag } from '../listing/types.js';

/** What the destination repository looked like when this run first asked. */
export type RepositoryView =
  /** The tag list could not be read (a registry without one, a denied listing): HEAD as always. */
  | { kind: 'unknown' }
  /** Unknown to the registry and never touched by this tool: nothing to HEAD for. */
  | { kind: 'fresh' }
  | { kind: 'listed'; tags: ReadonlySet<string>; digests?: ReadonlyMap<string, string> };

/** A destination's own listing API with each tag's digest (SWR's management API: lib/vendors/swr/listing.ts). */
export type DestinationTags = (repository: string, signal?: AbortSignal) => Promise<ListedTag[]>;

/** The record of a tag this tool pushed (or found up to date by a HEAD). */
export interface PushedTag {
  /** The digest at the destination tag. */
  digest: string;
  mediaType: string;
  /** When a request last confirmed it (milliseconds since the epoch). */
  checkedAt: number;
  /**
   * The source repository (`registry/repository`) it was copied from: a rule's prune deletes only
   * tags this tool pushed from that rule's source (pipeline/prune.ts). Absent on records written
   * before prune existed, until a push or a HEAD confirms the tag again.
   */
  source?: string;
}

export interface DestinationStateOptions {
  store: StateStore;
  /** A tag record older than this is checked with a HEAD again (0: always). Default 24 h. */
  fullCheckEveryMs?: number;
  /** How long a repository view is used before the tag list is read again (long `work` runs). */
  viewTtlMs?: number;
  clock?: () => number;
  logger?: Logger;
}

/** What the copy needs to know before its HEADs (copy-image.ts). */
export interface DestinationLookup {
  view: RepositoryView;
  /** The destination target is known to be absent (a fresh repository, a tag the list does not name): no HEAD. */
  absent: boolean;
  /** The destination tag's trusted record: what a HEAD would say, without the HEAD. */
  trusted?: PushedTag;
  /** The tag's record, trusted or not: compared with what a HEAD says (healing). */
  record?: PushedTag;
}

export const DEFAULT_FULL_CHECK_EVERY_MS = 24 * 3600_000;
const DEFAULT_VIEW_TTL_MS = 10 * 60_000;
const TOUCHED_GROUP = 'touched';
/** Records read for one repository's prune at most (a repository with more tags is pruned in part). */
const MAX_PUSHED_TAGS = 100_000;

function pushedFrom(d: Record<string, unknown>): PushedTag {
  return { digest: String(d.digest), mediaType: String(d.mediaType ?? ''), checkedAt: Number(d.checkedAt), ...(typeof d.source === 'string' ? { source: d.source } : {}) };
}

const pushedKey = (registry: string, repository: string, tag: string) => ({ group: `pushed#${registry}`.slice(0, 200), id: `${repository}:${tag}` });
const touchedKey = (registry: string, repository: string) => ({ group: TOUCHED_GROUP, id: `${registry}/${repository}` });

export class DestinationState {
  private readonly views = new Map<string, { at: number; view: Promise<RepositoryView> }>();
  private readonly touched = new Map<string, Promise<void>>();
  /** Tags this process pushed or saw by HEAD, by `registry/repository:tag` (bounded: a long \`work\` forgets the oldest). */
  private readonly local = new Map<string, PushedTag>();
  private readonly clock: () => number;
  readonly fullCheckEveryMs: number;

  constructor(private readonly opts: DestinationStateOptions) {
    this.clock = opts.clock ?? Date.now;
    this.fullCheckEveryMs = opts.fullCheckEveryMs ?? DEFAULT_FULL_CHECK_EVERY_MS;
  }

  /** The repository's view: one tag list per repository per run (per view TTL), shared by its images. */
  view(client: RegistryClient, repository: string, signal?: AbortSignal, listing?: DestinationTags): Promise<RepositoryView> {
    const key = `${client.registry}/${repository}`;
    const now = this.clock();
    const known = this.views.get(key);
    if (known && now - known.at < (this.opts.viewTtlMs ?? DEFAULT_VIEW_TTL_MS)) return known.view;
    const view = this.read(client, repository, signal, listing);
    this.views.set(key, { at: now, view });
    // A view that failed for a passing reason is asked again by the next image.
    void view.then((v) => v.kind === 'unknown' && this.views.get(key)?.view === view && this.views.delete(key));
    return view;
  }

  private async read(client: RegistryClient, repository: string, signal?: AbortSignal, listing?: DestinationTags): Promise<RepositoryView> {
    if (listing) {
      // The registry's own answer with digests: as good as a HEAD per tag, for one call per page.
      try {
        const tags = await listing(repository, signal);
        const digests = new Map(tags.filter((t) => t.digest).map((t) => [t.name, t.digest!]));
        if (digests.size === tags.length && tags.length > 0) return { kind: 'listed', tags: new Set(tags.map((t) => t.name)), digests };
      } catch (err) {
        this.opts.logger?.debug({ registry: client.registry, repository, err: errorMessage(err) }, 'destination listing API unreadable: reading the tag list');
      }
    }
    try {
      return { kind: 'listed', tags: new Set(await client.tagList(repository, signal)) };
    } catch (err) {
      if (!(err instanceof RegistryError) || err.status !== 404) {
        this.opts.logger?.debug({ registry: client.registry, repository, err: errorMessage(err) }, 'destination tag list unreadable: checking by HEAD');
        return { kind: 'unknown' };
      }
    }
    // Unknown to the registry. Fresh only if this tool never began pushing there: a run that died
    // after its first blobs left a repository without tags that HEADs still find things in.
    try {
      if (await this.opts.store.get(touchedKey(client.registry, repository))) return { kind: 'unknown' };
    } catch (err) {
      this.opts.logger?.debug({ err: errorMessage(err) }, 'state store unreadable: checking by HEAD');
      return { kind: 'unknown' };
    }
    return { kind: 'fresh' };
  }

  /** The view of the repository and, for a tag target, its record. `trust: false` (--force, --deep) ignores records. */
  async lookup(client: RegistryClient, repository: string, target: string, trust: boolean, signal?: AbortSignal, listing?: DestinationTags): Promise<DestinationLookup> {
    const view = await this.view(client, repository, signal, listing);
    // What this process pushed or confirmed since the view was read: newer than the view.
    const mine = target ? this.local.get(`${client.registry}/${repository}:${target}`) : undefined;
    if (mine) return { view, absent: false, record: mine, ...(trust && this.clock() - mine.checkedAt < this.fullCheckEveryMs ? { trusted: mine } : {}) };
    if (view.kind === 'fresh') return { view, absent: true };
    if (!target || isDigest(target) || view.kind !== 'listed') return { view, absent: false };
    if (!view.tags.has(target)) return { view, absent: true };
    const listed = view.digests?.get(target);
    if (listed && trust) return { view, absent: false, trusted: { digest: listed, mediaType: '', checkedAt: this.clock() } };
    const record = await this.recorded(client.registry, repository, target);
    const fresh = record && this.clock() - record.checkedAt < this.fullCheckEveryMs;
    return { view, absent: false, ...(record ? { record } : {}), ...(fresh && trust ? { trusted: record } : {}) };
  }

  /**
   * Before the first write into a fresh repository: its record, so a later run that finds the
   * repository still without tags checks by HEAD. Failing to write it fails the copy (retried):
   * without it a resumed run could send blobs again that are already there.
   */
  touch(registry: string, repository: string): Promise<void> {
    const key = `${registry}/${repository}`;
    let p = this.touched.get(key);
    if (!p) {
      p = this.opts.store.put(touchedKey(registry, repository), { at: this.clock() }).then(() => undefined);
      this.touched.set(key, p);
      p.catch(() => this.touched.delete(key));
    }
    return p;
  }

  async recorded(registry: string, repository: string, tag: string): Promise<PushedTag | undefined> {
    try {
      const item = await this.opts.store.get(pushedKey(registry, repository, tag));
      const d = item?.data;
      if (!d || typeof d.digest !== 'string' || typeof d.checkedAt !== 'number') return undefined;
      return pushedFrom(d);
    } catch (err) {
      this.opts.logger?.debug({ err: errorMessage(err) }, 'state store unreadable: checking by HEAD');
      return undefined;
    }
  }

  /**
   * Every tag of a destination repository this tool pushed or confirmed, by tag: one query by id
   * prefix (`repository:`) in the registry's `pushed#` group, which every state adapter serves (a
   * repository name holds no `:`, so the prefix names exactly its tags). Unlike `recorded`, a store
   * that cannot be read fails the call: prune must not act on a partial answer.
   */
  async pushedTags(registry: string, repository: string): Promise<Map<string, PushedTag>> {
    const { group } = pushedKey(registry, repository, '');
    const prefix = `${repository}:`;
    const items = await this.opts.store.query(group, { prefix, limit: MAX_PUSHED_TAGS });
    const out = new Map<string, PushedTag>();
    for (const item of items) {
      const tag = item.id.slice(prefix.length);
      const d = item.data;
      if (tag && typeof d.digest === 'string' && typeof d.checkedAt === 'number') out.set(tag, pushedFrom(d));
    }
    return out;
  }

  /**
   * A tag prune deleted (or found gone): its record goes, so no later run counts it as there. It is
   * expired by a put, not deleted, as blob claims are released: the copier role has PutItem and no
   * DeleteItem (infra/roles.yml), and an expired item reads as absent in every adapter.
   */
  async forget(registry: string, repository: string, tag: string): Promise<void> {
    this.local.delete(`${registry}/${repository}:${tag}`);
    await this.opts.store.put(pushedKey(registry, repository, tag), { forgotten: true }, { ttlSeconds: 0 }).then(() => undefined, (err: unknown) => {
      this.opts.logger?.debug({ err: errorMessage(err) }, 'cannot remove the pruned tag\'s record');
    });
  }

  /**
   * What a push or a HEAD just confirmed: known to this process at once, and written to the store
   * when `persist` (something changed, or a HEAD refreshed it). Best effort: a record that is not
   * written costs a HEAD later.
   */
  async record(registry: string, repository: string, tag: string, entry: Omit<PushedTag, 'checkedAt'>, persist = true): Promise<void> {
    const key = `${registry}/${repository}:${tag}`;
    this.local.delete(key);
    this.local.set(key, { ...entry, checkedAt: this.clock() });
    if (this.local.size > 100_000) this.local.delete(this.local.keys().next().value!);
    if (!persist) return;
    try {
      await this.opts.store.put(pushedKey(registry, repository, tag), { ...entry, checkedAt: this.clock() });
    } catch (err) {
      this.opts.logger?.debug({ err: errorMessage(err) }, 'cannot record the pushed tag');
    }
  }
}

/** The state of a run's destinations over `store`, with the config's `defaults.fullCheckEvery`. */
export function destinationStateFor(store: StateStore, defaults: { fullCheckEvery?: number }, logger?: Logger, viewTtlMs?: number): DestinationState {
  return new DestinationState({
    store,
    ...(defaults.fullCheckEvery !== undefined ? { fullCheckEveryMs: defaults.fullCheckEvery } : {}),
    ...(logger ? { logger } : {}),
    ...(viewTtlMs !== undefined ? { viewTtlMs } : {}),
  });
}
