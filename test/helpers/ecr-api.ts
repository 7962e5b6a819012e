// A stand-in for the Amazon ECR API (JSON 1.1 protocol: POST / with X-Amz-Target
// AmazonEC2ContainerRegistry_V20150921.<Operation>, content-type application/x-amz-json-1.1):
// DescribeRepositories and DescribeImages paged by maxResults/nextToken, GetAuthorizationToken.
// Timestamps are epoch seconds, as the protocol sends them. Signatures are not checked.
import { type JsonApi, reply, startJsonApi } from './json-api.js';

/** An image's `digest`: the real one of the registry behind this API, when the test gives it (else a made-up one). */
export interface EcrRepo { name: string; images: Array<{ tags: string[]; pushedAt: number; digest?: string }> }
export interface EcrOptions {
  repositories: EcrRepo[];
  password?: string;
  expiresInS?: number;
  /** Every token gives `password` as is (a stand-in registry with that basic-auth password), not `password-N`. */
  fixedPassword?: boolean;
}

const PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';
const HEADERS = { 'content-type': 'application/x-amz-json-1.1' };

export function startEcrApi(opts: EcrOptions): Promise<JsonApi & { tokensIssued: () => number }> {
  let issued = 0;
  const page = <T>(all: T[], body: { maxResults?: number; nextToken?: string }) => {
    const offset = body.nextToken ? Number(body.nextToken.slice(1)) : 0;
    // ECR's own bounds: maxResults 1-1000, default 100.
    const size = Math.min(body.maxResults ?? 100, 1000);
    return { items: all.slice(offset, offset + size), ...(offset + size < all.length ? { nextToken: `t${offset + size}` } : {}) };
  };
  const err = (type: string, message: string) => reply(400, { __type: type, message }, HEADERS);
  return startJsonApi((req, _url, raw) => {
    const op = String(req.headers['x-amz-target'] ?? '').replace(PREFIX, '');
    const body = JSON.parse(raw || '{}') as { maxResults?: number; nextToken?: string; repositoryName?: string };
    if (op === 'DescribeRepositories') {
      const { items, nextToken } = page(opts.repositories, body);
      const repositories = items.map((r) => ({ repositoryName: r.name, repositoryArn: `arn:aws:ecr:eu-west-1:123456789012:repository/${r.name}`, registryId: '123456789012' }));
      return reply(200, { repositories, ...(nextToken ? { nextToken } : {}) }, HEADERS);
    }
    if (op === 'DescribeImages') {
      const repo = opts.repositories.find((r) => r.name === body.repositoryName);
      if (!repo) return err('RepositoryNotFoundException', `The repository with name '${body.repositoryName}' does not exist in the registry with id '123456789012'`);
      const { items, nextToken } = page(repo.images, body);
      const imageDetails = items.map((i, k) => ({ imageDigest: i.digest ?? `sha256:${String(k).padStart(64, '0')}`, imageTags: i.tags, imagePushedAt: i.pushedAt, repositoryName: repo.name }));
      return reply(200, { imageDetails, ...(nextToken ? { nextToken } : {}) }, HEADERS);
    }
    if (op === 'GetAuthorizationToken') {
      issued++;
      const password = opts.password ?? 'ecr-password';
      const token = Buffer.from(`AWS:${opts.fixedPassword ? password : `${password}-${issued}`}`).toString('base64');
      return reply(200, { authorizationData: [{ authorizationToken: token, expiresAt: Date.now() / 1000 + (opts.expiresInS ?? 43_200), proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com' }] }, HEADERS);
    }
    return err('UnknownOperationException', `unknown operation ${op}`);
  }).then((api) => ({ ...api, tokensIssued: () => issued }));
}
