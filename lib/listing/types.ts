// The listing port (issue 9): what the planner needs to enumerate a source's repositories, on
// registries that serve `_catalog` and on the many that do not (Docker Hub, Harbor, Quay, ECR, SWR),
// each through its own API (REFERENCE.md section 3). Adapters live beside this file; `listerFor`
// (index.ts) picks one by host or by the registry entry's `type`.

export interface ListedTag {
  name: string;
  /** When the tag was last pushed (ISO 8601), where the API says (Docker Hub, Harbor, Quay, ECR, SWR). */
  pushedAt?: string;
  /** The manifest digest the tag names, where the API says (Docker Hub, Harbor, Quay, ECR, SWR). */
  digest?: string;
}

export interface ListedRepository {
  /** The repository path as references name it (`team/app`, `library/nginx`), without the host. */
  repository: string;
  /** The repository's tags, when the API gives them along with the listing (saves a tag-list call). */
  tags?: ListedTag[];
}

export interface RepositoryLister {
  /** `generic`, `dockerhub`, `harbor`, `quay`, `ecr`, `swr`: for messages. */
  readonly kind: string;
  /**
   * Repositories under `namespace` (`team`, `team/sub`; undefined: the whole registry), page by
   * page as the API serves them, so the planner can start on the first page while later ones load.
   * An adapter that can only list by namespace (Docker Hub, Quay) throws a ListingError for undefined.
   */
  repositories(namespace: string | undefined, signal?: AbortSignal): AsyncIterable<ListedRepository>;
  /** Tags with push times, where the API has them; undefined: only the registry's tag list exists. */
  tagTimes?(repository: string, signal?: AbortSignal): Promise<ListedTag[]>;
  /**
   * tagTimes also gives each tag's digest, in one paged call per repository: the planner lists tags
   * through it instead of the registry's tag list, and a no-op needs no source HEAD (issue 15, item 2).
   */
  readonly tagDigests?: boolean;
  /** Delete one tag by name through the registry's own API (SWR's management API), for prune. */
  deleteTag?(repository: string, tag: string): Promise<'deleted' | 'gone'>;
}
