// What every config source (the native file, image-syncer's --auth + --images) is normalised to.
// The planner and the copiers only ever see this.
import type { AccessResolver, RegistryAccess } from '../registry/pool.js';
import type { SecretSlot } from './secret-resolve.js';
import type { Format } from '../copy/transforms.js';
import type { EventsSettings, NotifySettings } from './service-settings.js';

export interface TagFilter {
  include?: RegExp[];
  exclude?: RegExp[];
  /** Keep the last N tags in version order (see plan/tags.ts), after include/exclude. */
  latest?: number;
  /** A semver range (`>=1.2 <2`); tags that are not versions are dropped (plan/tags.ts). */
  semver?: string;
  /** Keep tags pushed within the last N days, where the source gives push times (plan/tags.ts). */
  pushedWithinDays?: number;
}

/** How a destination repository is named from a source repository path (plan/mapping.ts). */
export interface DestinationMapping {
  /** `path` keeps the whole source path; `basename` only its last component. */
  mode: 'path' | 'basename';
  /** Drop the first N levels of the source path (Harbor's dest_namespace_replace_count); `path` only. */
  stripLevels?: number;
  /** Put before the mapped name, e.g. `mirror/hub`. */
  prefix?: string;
  /** A template instead of mode (`{namespace}-{name}`); stripLevels applies to its source path first. */
  template?: string;
}

/** A rule over many repositories: `HOST/team/*`, `HOST/team/**`, `HOST/**` (plan/namespaces.ts). */
export interface NamespaceSource {
  /** The glob over repository paths, as written after the host: `team/*`, `**`. */
  glob: string;
  /** The fixed path before the first glob segment, handed to the lister; undefined: the whole registry. */
  namespace?: string;
  /** Repository globs (picomatch) over the whole repository path. */
  include?: string[];
  exclude?: string[];
  /** `registry[/namespace]` each listed repository is copied below. */
  targets: string[];
  mapping: DestinationMapping;
}

export interface RuleDestination {
  registry: string;
  /** The final repository name at the destination (name mapping already applied). */
  repository: string;
  /** An explicit destination tag; only allowed when the source names exactly one tag or digest. */
  tag?: string;
}

export interface SyncRule {
  /** Where the rule came from, for messages: `sync.yaml: rules[2]`, `images.json: "quay.io/a:t1,t2"`. */
  origin: string;
  source: { registry: string; repository: string };
  /** Exact tags: used as given, the tag list is not fetched. */
  tags?: string[];
  /** An exact digest. */
  digest?: string;
  /** When neither tags nor digest: list the repository's tags and keep those that pass. */
  filter?: TagFilter;
  destinations: RuleDestination[];
  /** Set for a glob source: `source.repository` holds the glob, `destinations` is empty until the
   *  planner lists the repositories and maps each one (plan/namespaces.ts). */
  namespace?: NamespaceSource;
  /** Media types at the destination: the rule's `format`, else `defaults.format`, else the destination decides. */
  format?: Format;
  /** --force: PUT the manifest even when the destination has the digest. */
  force?: boolean;
  /** --deep: an image counts as there only with every child manifest and blob (copy/deep-check.ts). */
  deep?: boolean;
  /** --full-check: no record of the destination stands for a HEAD (copy/destination-state.ts). */
  fullCheck?: boolean;
  /** `prune` (listed rules only): delete destination tags this tool pushed that the source no longer has. */
  prune?: PrunePolicy;
  /** false: a destination tag that holds another digest is kept, never overwritten (reported `kept`). */
  overwrite?: false;
}

export interface PrunePolicy {
  /** Tags one run may delete under the rule; above it nothing is deleted and the run says why. */
  max: number;
  /** Whether `max` was written (`prune: true` alone is warned about at plan time). */
  maxGiven: boolean;
  /** Tag globs never deleted. */
  protect: string[];
}

export interface SyncDefaults {
  /** Copiers running at once (images in flight). */
  concurrency: number;
  /** Extra attempts for an image after its first failure, before it goes to the DLQ. */
  retries: number;
  /** `os/arch[/variant]` to keep from multi-platform images; undefined keeps all. */
  platforms?: string[];
  /** Seconds a whole request may take (see registry/http/transport.ts); undefined: the built-in default. */
  timeout?: number;
  /** Connections at most per registry origin; undefined: the built-in default. */
  connections?: number;
  /** `docker`: convert OCI to Docker media types for every destination; `keep`: never. Unset: SWR Basic converts. */
  format?: Format;
  /** Scheduled planner: run even when the previous run is still in progress (default: skip). */
  overlap?: boolean;
  /** Milliseconds a record of a pushed tag stands for a destination HEAD (`fullCheckEvery`); default 24 h. */
  fullCheckEvery?: number;
  /** --force (image-syncer): every copy message PUTs its manifest even when the destination has it. */
  force?: boolean;
}

export interface RegistrySettings {
  /** `registry` or `registry/namespace`: the longest matching prefix applies. */
  prefix: string;
  access: RegistryAccess;
  /** Blob transfers to or from this registry at once. */
  concurrency?: number;
}

export interface LoadedConfig {
  /** The file(s) it came from, for messages. */
  source: string;
  defaults: SyncDefaults;
  registries: RegistrySettings[];
  resolve: AccessResolver;
  rules: SyncRule[];
  /** replay/work: some of the file's rules no longer read; `rules` holds the others (no recheck trusts them). */
  staleRules?: true;
  /** Webhook secrets and the burst window (serve, the receiver function). */
  events?: EventsSettings;
  /** Where a run's summary goes. */
  notify?: NotifySettings;
  /** serve's cron expression. */
  schedule?: string;
  /** Credentials still to fetch from Secrets Manager / SSM (native config). Set only by parseNativeConfig:
   *  loadNativeConfig resolves them into each registry's access and removes the field. */
  secrets?: SecretSlot[];
}

// 16 copiers: each image is a chain of 6-8 dependent round trips, so over real network latency more
// copiers overlap more; on a CPU-bound box 5 to 64 measured the same (bench, many-small).
export const DEFAULTS: SyncDefaults = { concurrency: 16, retries: 3 };
