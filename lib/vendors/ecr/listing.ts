// Amazon ECR: repositories and image push times through the ECR API (DescribeRepositories,
// DescribeImages; @aws-sdk/client-ecr, credentials from the SDK's usual chain), and the registry
// login: GetAuthorizationToken gives base64 `AWS:<password>` valid 12 hours, refreshed here at 11 h
// (or 1 h before its stated expiry) so a long migration never presents an expired login.
// AWS_ENDPOINT_URL_ECR (SDK endpoint configuration) or the entry's apiEndpoint points it elsewhere.
import { isDigest } from '../../oci/digest.js';
import { awsClient } from '../../aws/clients.js';
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { Credentials } from '../../registry/auth/auth.js';
import { isValidListEntry } from '../../registry/list/listing.js';
import { MAX_ENTRIES } from '../../registry/list/link.js';
import { ListingError, errorMessage } from '../../errors.js';
import { remoteText } from '../../text.js';
import { ecrHost } from './detect.js';
import type { ListedRepository, ListedTag, RepositoryLister } from '../../listing/types.js';

export interface EcrOptions {
  registry: string;
  /** The ECR API endpoint (a stand-in, a VPC endpoint); default: the SDK's (AWS_ENDPOINT_URL_ECR, else the region's). */
  endpoint?: string;
  pageSize?: number;
}

/** Region and account from the host, else the SDK's region (AWS_REGION) for a `type: ecr` alias host. */
function target(registry: string): { region?: string; registryId?: string } {
  const h = ecrHost(registry);
  return h ? { region: h.region, registryId: h.account } : {};
}

async function ecrClient(registry: string, endpoint?: string): Promise<ECRClient> {
  // Imported on first use: the SDK costs startup time every other run does not need.
  const { ECRClient } = await import('@aws-sdk/client-ecr');
  const { region } = target(registry);
  return awsClient(new ECRClient({ ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}) }));
}

/** An SDK failure as a ListingError that says what to do; the SDK's message is AWS's, without secrets. */
function refusal(registry: string, err: unknown, what: string): Error {
  if (err instanceof ListingError) return err;
  const name = (err as { name?: string })?.name ?? '';
  const msg = remoteText(errorMessage(err), 200);
  if (name === 'RepositoryNotFoundException') return new ListingError(registry, `${what}: repository not found (${msg})`, 404, { cause: err });
  if (/AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken|CredentialsProviderError/.test(name) || /credential/i.test(msg)) {
    return new ListingError(registry, `${what}: AWS refused (${name || msg}): give AWS credentials with ecr:DescribeRepositories, ecr:DescribeImages and ecr:GetAuthorizationToken (AWS_PROFILE, AWS_ACCESS_KEY_ID, or a role)`, 403, { cause: err });
  }
  return new ListingError(registry, `${what} failed: ${name ? `${name}: ` : ''}${msg}`, undefined, { cause: err });
}

export class EcrLister implements RepositoryLister {
  readonly tagDigests = true;
  readonly kind = 'ecr';
  private client: Promise<ECRClient> | undefined;
  private readonly size: number;
  constructor(private readonly opts: EcrOptions) {
    // DescribeRepositories and DescribeImages serve up to 1,000 a page (the API's maximum).
    this.size = opts.pageSize ?? 1000;
  }

  private api(): Promise<ECRClient> {
    return (this.client ??= ecrClient(this.opts.registry, this.opts.endpoint));
  }

  async *repositories(namespace: string | undefined, signal?: AbortSignal): AsyncIterable<ListedRepository> {
    const { DescribeRepositoriesCommand } = await import('@aws-sdk/client-ecr');
    const api = await this.api();
    const { registryId } = target(this.opts.registry);
    const prefix = namespace ? `${namespace}/` : '';
    const seen = new Set<string>();
    let count = 0;
    for (let nextToken: string | undefined; ; ) {
      const out = await api.send(new DescribeRepositoriesCommand({ ...(registryId ? { registryId } : {}), maxResults: this.size, ...(nextToken ? { nextToken } : {}) }), { abortSignal: signal })
        .catch((err: unknown) => { throw refusal(this.opts.registry, err, 'DescribeRepositories'); });
      for (const r of out.repositories ?? []) {
        const repository = r.repositoryName;
        if (!repository || !repository.startsWith(prefix) || !isValidListEntry('repositories', repository)) continue;
        if (++count > MAX_ENTRIES) throw new ListingError(this.opts.registry, `more than ${MAX_ENTRIES} repositories`);
        yield { repository };
      }
      nextToken = out.nextToken;
      if (!nextToken) return;
      // A token handed out twice is a loop: the listing would never end.
      if (seen.has(nextToken)) throw new ListingError(this.opts.registry, 'DescribeRepositories: nextToken loops');
      seen.add(nextToken);
    }
  }

  async tagTimes(repository: string, signal?: AbortSignal): Promise<ListedTag[]> {
    const { DescribeImagesCommand } = await import('@aws-sdk/client-ecr');
    const api = await this.api();
    const { registryId } = target(this.opts.registry);
    const tags: ListedTag[] = [];
    const seen = new Set<string>();
    for (let nextToken: string | undefined; ; ) {
      const out = await api.send(new DescribeImagesCommand({
        ...(registryId ? { registryId } : {}), repositoryName: repository, filter: { tagStatus: 'TAGGED' }, maxResults: this.size, ...(nextToken ? { nextToken } : {}),
      }), { abortSignal: signal }).catch((err: unknown) => { throw refusal(this.opts.registry, err, `DescribeImages ${repository}`); });
      for (const d of out.imageDetails ?? []) {
        const pushedAt = d.imagePushedAt instanceof Date && !Number.isNaN(d.imagePushedAt.getTime()) ? d.imagePushedAt.toISOString() : undefined;
        const digest = typeof d.imageDigest === 'string' && isDigest(d.imageDigest) ? d.imageDigest : undefined;
        for (const name of d.imageTags ?? []) if (isValidListEntry('tags', name)) tags.push({ name, ...(pushedAt ? { pushedAt } : {}), ...(digest ? { digest } : {}) });
      }
      if (tags.length > MAX_ENTRIES) throw new ListingError(this.opts.registry, `more than ${MAX_ENTRIES} tags in ${repository}`);
      nextToken = out.nextToken;
      if (!nextToken) return tags;
      if (seen.has(nextToken)) throw new ListingError(this.opts.registry, `DescribeImages ${repository}: nextToken loops`);
      seen.add(nextToken);
    }
  }
}

/** Refresh the ECR login this long after it was fetched (it lasts 12 h), or 1 h before its stated expiry. */
export const ECR_REFRESH_MS = 11 * 3600_000;

/**
 * The registry login of an ECR host, from GetAuthorizationToken, cached and refreshed before it
 * expires. Concurrent callers share one request. The password is never logged.
 */
export function ecrCredentialsProvider(registry: string, opts: { endpoint?: string; now?: () => number } = {}): () => Promise<Credentials> {
  const now = opts.now ?? Date.now;
  let cached: { creds: Credentials; refreshAt: number } | undefined;
  let pending: Promise<Credentials> | undefined;
  let client: Promise<ECRClient> | undefined;
  const fetch = async (): Promise<Credentials> => {
    const { GetAuthorizationTokenCommand } = await import('@aws-sdk/client-ecr');
    const api = await (client ??= ecrClient(registry, opts.endpoint));
    const out = await api.send(new GetAuthorizationTokenCommand({})).catch((err: unknown) => { throw refusal(registry, err, 'GetAuthorizationToken'); });
    const data = out.authorizationData?.[0];
    const decoded = data?.authorizationToken ? Buffer.from(data.authorizationToken, 'base64').toString('utf8') : '';
    const i = decoded.indexOf(':');
    if (i <= 0) throw new ListingError(registry, 'GetAuthorizationToken gave no usable token (expected base64 "AWS:<password>")');
    const fetchedAt = now();
    const expires = data?.expiresAt instanceof Date ? data.expiresAt.getTime() : fetchedAt + 12 * 3600_000;
    const creds = { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
    cached = { creds, refreshAt: Math.min(fetchedAt + ECR_REFRESH_MS, expires - 3600_000) };
    return creds;
  };
  return async () => {
    if (cached && now() < cached.refreshAt) return cached.creds;
    pending ??= fetch().finally(() => (pending = undefined));
    return pending;
  };
}
