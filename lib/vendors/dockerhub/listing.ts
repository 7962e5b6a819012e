// Docker Hub has no `_catalog`: its Hub API (hub.docker.com, not the registry host) lists a
// namespace's repositories and a repository's tags with push times, paginated by a `next` URL.
// Private repositories need a Hub access token: POST /v2/auth/token {identifier, secret} with the
// username and a PAT (or password) gives `access_token`, sent as Bearer.
import { isDigest } from '../../oci/digest.js';
import type { Credentials } from '../../registry/auth/auth.js';
import { isValidListEntry } from '../../registry/list/listing.js';
import { MAX_ENTRIES } from '../../registry/list/link.js';
import { ListingApi, listField, nextUrl, str, type ApiOptions } from '../../listing/http.js';
import type { ListedRepository, ListedTag, RepositoryLister } from '../../listing/types.js';

export interface DockerHubOptions {
  registry: string;
  /** Default https://hub.docker.com. */
  endpoint?: string;
  credentials?: Credentials;
  /** A PAT that differs from the registry password. */
  apiToken?: string;
  dispatcher?: ApiOptions['dispatcher'];
  pageSize?: number;
}

export class DockerHubLister implements RepositoryLister {
  readonly tagDigests = true;
  readonly kind = 'dockerhub';
  private readonly api: ListingApi;
  private token: Promise<string> | undefined;
  private readonly size: number;

  constructor(private readonly opts: DockerHubOptions) {
    this.size = opts.pageSize ?? 100;
    const secret = opts.apiToken ?? opts.credentials?.password;
    const username = opts.credentials?.username;
    this.api = new ListingApi({
      endpoint: opts.endpoint ?? 'https://hub.docker.com',
      registry: opts.registry,
      dispatcher: opts.dispatcher,
      credentialHint: `username and password (a Docker Hub personal access token) or apiToken of registries.${opts.registry}`,
      authorization: username && secret ? async () => `Bearer ${await this.accessToken(username, secret)}` : undefined,
    });
  }

  /** One Hub token per lister (they last minutes; a listing is one pass). */
  private accessToken(identifier: string, secret: string): Promise<string> {
    this.token ??= (async () => {
      const tokenApi = new ListingApi({ endpoint: this.api.origin, registry: this.opts.registry, dispatcher: this.opts.dispatcher, credentialHint: `username and personal access token of registries.${this.opts.registry}` });
      const { json } = await tokenApi.get(tokenApi.url('/v2/auth/token'), undefined, 'POST', { identifier, secret });
      const t = str((json as Record<string, unknown> | null)?.access_token);
      if (!t) throw this.api.error('POST /v2/auth/token gave no access_token: check the username and personal access token');
      return t;
    })();
    this.token.catch(() => (this.token = undefined));
    return this.token;
  }

  async *repositories(namespace: string | undefined, signal?: AbortSignal): AsyncIterable<ListedRepository> {
    if (!namespace) throw this.api.error('Docker Hub cannot list the whole registry: name the namespace (docker.io/<user or organization>)');
    // Docker Hub namespaces are one component; `team/sub` filters below it.
    const [ns, ...rest] = namespace.split('/');
    const prefix = rest.length ? `${namespace}/` : '';
    const first = this.api.url(`/v2/namespaces/${encodeURIComponent(ns!)}/repositories?page_size=${this.size}`);
    let count = 0;
    for await (const page of this.api.pages(first, (p) => nextUrl(this.api, (p.json as Record<string, unknown>)?.next, p.url), signal)) {
      for (const r of listField(this.api, page.json, 'results')) {
        const name = str((r as Record<string, unknown>)?.name);
        const repository = name && `${str((r as Record<string, unknown>).namespace) ?? ns}/${name}`;
        if (!repository || !isValidListEntry('repositories', repository) || !repository.startsWith(prefix)) continue;
        if (++count > MAX_ENTRIES) throw this.api.error(`more than ${MAX_ENTRIES} repositories`);
        yield { repository };
      }
    }
  }

  async tagTimes(repository: string, signal?: AbortSignal): Promise<ListedTag[]> {
    const i = repository.indexOf('/');
    const [ns, name] = i < 0 ? ['library', repository] : [repository.slice(0, i), repository.slice(i + 1)];
    const first = this.api.url(`/v2/namespaces/${encodeURIComponent(ns)}/repositories/${encodeURIComponent(name)}/tags?page_size=${this.size}`);
    const out: ListedTag[] = [];
    for await (const page of this.api.pages(first, (p) => nextUrl(this.api, (p.json as Record<string, unknown>)?.next, p.url), signal)) {
      for (const t of listField(this.api, page.json, 'results')) {
        const tag = str((t as Record<string, unknown>)?.name);
        if (!tag || !isValidListEntry('tags', tag)) continue;
        const pushedAt = str((t as Record<string, unknown>).tag_last_pushed);
        // `digest`: the manifest (or index) digest the tag names, as the registry would answer a HEAD.
        const digest = str((t as Record<string, unknown>).digest);
        out.push({ name: tag, ...(pushedAt ? { pushedAt } : {}), ...(digest && isDigest(digest) ? { digest } : {}) });
        if (out.length > MAX_ENTRIES) throw this.api.error(`more than ${MAX_ENTRIES} tags in ${repository}`);
      }
    }
    return out;
  }
}
