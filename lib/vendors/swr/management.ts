// Client of the SWR management API (swr-api.<region>.myhuaweicloud.com; Huawei "SWR API
// Reference", huaweicloud-sdk-go-v3 services/swr/v2): organizations (namespaces), quotas and
// repository listing. Auth is AK/SK signing (signer.ts) or an IAM token in X-Auth-Token.
import type { Dispatcher } from 'undici';
import { request } from '../../registry/http/undici-agent.js';
import { BUSY_CODES, NetworkError, RegistryError, parseRetryAfter, type RegistryErrorEntry } from '../../errors.js';
import { HTTP_RETRY, withRetry, type RetryPolicy } from '../../registry/http/retry.js';
import { MAX_SKEW_MS, signRequest, type AkSk } from './signer.js';
import { parseSwrErrorBody } from './errors.js';
import { SwrAuthError } from './refusal.js';

export type SwrApiAuth = { kind: 'aksk'; key: AkSk } | { kind: 'token'; token: string };
export interface ManagementOptions {
  /** e.g. `https://swr-api.cn-north-4.myhuaweicloud.com`; tests pass the stand-in on 127.0.0.1. */
  endpoint: string;
  auth: SwrApiAuth;
  projectId?: string;
  dispatcher?: Dispatcher;
  retry?: RetryPolicy;
  now?: () => Date;
}
/** `auth` as SWR reports it: 7 manage, 3 write, 1 read. */
export interface Namespace { name: string; auth: number; repo_count?: number }
export interface Quota { quota_key: string; quota_limit: number; used: number }
export interface Repo { name: string; namespace: string; tags?: string[]; num_images?: number; path?: string }
export interface SwrTag { Tag: string; updated?: string; digest?: string }
export interface RepoPage { repos: Repo[]; offset: number; total: number }
export type CreateResult = 'created' | 'exists' | 'quota';

export const ORG_EXISTS = 'SVCSTG.SWR.4090060';
export const ORG_QUOTA = 'SVCSTG.SWR.4000097';
const MAX_BODY = 4 * 1024 * 1024;

/** Can this `auth` level push? 3 (write) and 7 (manage) can; 1 (read) cannot. */
export function canPush(auth: number): boolean {
  return auth >= 3;
}

export class SwrManagementClient {
  readonly host: string;
  constructor(private readonly opts: ManagementOptions) {
    this.host = new URL(opts.endpoint).host;
  }

  /** POST /v2/manage/namespaces: 201 created, 409 SVCSTG.SWR.4090060 exists, 400 SVCSTG.SWR.4000097 quota. */
  async namespaceCreate(name: string): Promise<CreateResult> {
    const res = await this.call('POST', '/v2/manage/namespaces', JSON.stringify({ namespace: name }), [201, 409, 400]);
    if (res.status === 201) return 'created';
    const errs = parseSwrErrorBody(res.text);
    if (res.status === 409 || errs.some((e) => e.code === ORG_EXISTS)) return 'exists';
    if (errs.some((e) => e.code === ORG_QUOTA)) return 'quota';
    throw this.failure(res.status, errs, undefined);
  }

  /** GET /v2/manage/namespaces/{name}, or undefined when it does not exist or is not visible to us. */
  async namespaceGet(name: string): Promise<Namespace | undefined> {
    const res = await this.call('GET', `/v2/manage/namespaces/${encodeURIComponent(name)}`, undefined, [200, 404]);
    return res.status === 404 ? undefined : (JSON.parse(res.text) as Namespace);
  }

  async namespaceList(): Promise<Namespace[]> {
    const res = await this.call('GET', '/v2/manage/namespaces', undefined, [200]);
    return (JSON.parse(res.text) as { namespaces?: Namespace[] }).namespaces ?? [];
  }

  /** The organization quota, or undefined where the endpoint does not answer (404/403 in some regions). */
  async quotaNamespace(): Promise<Quota | undefined> {
    if (!this.opts.projectId) return undefined;
    const res = await this.call('GET', `/v2/manage/projects/${encodeURIComponent(this.opts.projectId)}/quotas`, undefined, [200, 403, 404]);
    if (res.status !== 200) return undefined;
    return (JSON.parse(res.text) as { quotas?: Quota[] }).quotas?.find((q) => q.quota_key === 'namespace');
  }

  /** One page of GET /v2/manage/repos; `Content-Range: offset-count/total` gives the total. */
  async repoPage(namespace: string | undefined, offset: number, limit = 100): Promise<RepoPage> {
    const q = new URLSearchParams({ ...(namespace ? { namespace } : {}), offset: String(offset), limit: String(Math.min(limit, 1000)) });
    const res = await this.call('GET', `/v2/manage/repos?${q}`, undefined, [200]);
    const repos = JSON.parse(res.text) as Repo[];
    const m = /^(\d+)-(\d+)\/(\d+)$/.exec(res.contentRange ?? '');
    return { repos, offset, total: m ? Number(m[3]) : offset + repos.length };
  }

  /** Every repository (of one organization, when given), page by page. */
  async repoList(namespace?: string, limit = 100): Promise<Repo[]> {
    const all: Repo[] = [];
    for (let offset = 0; ;) {
      const page = await this.repoPage(namespace, offset, limit);
      all.push(...page.repos);
      offset += page.repos.length;
      // A short or empty page ends the listing even if Content-Range is missing or wrong.
      if (page.repos.length === 0 || offset >= page.total) return all;
    }
  }

  /**
   * One page of a repository's tags (GET /v2/manage/namespaces/{ns}/repos/{repo}/tags): `Tag` and
   * `updated`; a `/` in the repository name is sent as `$` (SWR API Reference, "Querying Image Tags").
   */
  async tagPage(namespace: string, repository: string, offset: number, limit = 100): Promise<{ tags: SwrTag[]; total: number }> {
    const repo = encodeURIComponent(repository.replaceAll('/', '$'));
    const q = new URLSearchParams({ offset: String(offset), limit: String(Math.min(limit, 1000)) });
    const res = await this.call('GET', `/v2/manage/namespaces/${encodeURIComponent(namespace)}/repos/${repo}/tags?${q}`, undefined, [200]);
    const tags = JSON.parse(res.text) as SwrTag[];
    const m = /^(\d+)-(\d+)\/(\d+)$/.exec(res.contentRange ?? '');
    return { tags: Array.isArray(tags) ? tags : [], total: m ? Number(m[3]) : offset + (Array.isArray(tags) ? tags.length : 0) };
  }

  /**
   * DELETE /v2/manage/namespaces/{ns}/repos/{repo}/tags/{tag} (Huawei API reference swr_02_0036):
   * 204 deleted, 404 already gone (either way the tag is not there). `/` in the repository as `$`.
   */
  async tagDelete(namespace: string, repository: string, tag: string): Promise<'deleted' | 'gone'> {
    const repo = encodeURIComponent(repository.replaceAll('/', '$'));
    const res = await this.call('DELETE', `/v2/manage/namespaces/${encodeURIComponent(namespace)}/repos/${repo}/tags/${encodeURIComponent(tag)}`, undefined, [200, 204, 404]);
    return res.status === 404 ? 'gone' : 'deleted';
  }

  private async call(method: string, path: string, body: string | undefined, ok: number[]) {
    return withRetry(this.opts.retry ?? HTTP_RETRY, () => this.once(method, path, body, ok));
  }

  private async once(method: string, path: string, body: string | undefined, ok: number[]) {
    const url = new URL(path, this.opts.endpoint);
    const headers: Record<string, string> = { host: url.host, 'content-type': 'application/json;charset=utf-8' };
    const auth = this.opts.auth;
    const extra = auth.kind === 'token'
      ? { 'X-Auth-Token': auth.token }
      : signRequest({ method, url: url.pathname + url.search, headers, ...(body ? { body } : {}) }, auth.key, this.opts.now?.() ?? new Date());
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: method as Dispatcher.HttpMethod, headers: { ...headers, ...extra }, body,
        ...(this.opts.dispatcher ? { dispatcher: this.opts.dispatcher } : {}),
      });
    } catch (err) {
      throw new NetworkError(this.host, (err as Error).message, { cause: err });
    }
    const text = await res.body.text();
    if (text.length > MAX_BODY) throw new RegistryError(`${this.host}: response over ${MAX_BODY} bytes`, res.statusCode, this.host);
    // A busy/throttled code can come with a status the caller expects (400 on POST): still retry it.
    // POST create is safe to repeat: a lost 201 turns into 409 + GET, which reports it present.
    const busy = res.statusCode >= 400 && parseSwrErrorBody(text).some((e) => BUSY_CODES.has(e.code));
    if (!ok.includes(res.statusCode) || busy) {
      throw this.failure(res.statusCode, parseSwrErrorBody(text), parseRetryAfter(res.headers['retry-after'] as string | undefined));
    }
    const range = res.headers['content-range'];
    return { status: res.statusCode, text, contentRange: typeof range === 'string' ? range : undefined };
  }

  private failure(status: number, errs: RegistryErrorEntry[], retryAfter: number | undefined): Error {
    const code = errs[0]?.code;
    if (status === 401) {
      // APIGW.0301: the gateway recomputed another signature (wrong AK/SK); APIGW.0303: X-Sdk-Date
      // is more than 15 minutes off the gateway's clock. Say the likely cause first; the SK is never
      // part of the message (only the host and the gateway's code).
      const minutes = MAX_SKEW_MS / 60_000;
      const hint = this.opts.auth.kind === 'token'
        ? `IAM token rejected${code ? ` (${code})` : ''}; it may have expired: get a new one`
        : code === 'APIGW.0303'
          ? `request signature expired (${code}): this machine's clock is more than ${minutes} minutes off UTC; fix the clock (NTP) and retry`
          : `signature rejected${code ? ` (${code})` : ''}: check accessKey/secretKey, and this machine's clock (must be within ${minutes} minutes of UTC)`;
      return new SwrAuthError(this.host, 401, `SWR management API ${this.host} refused the request: ${hint}`);
    }
    const msg = `${this.host}: SWR management API answered ${status}${code ? ` ${code}` : ''}${errs[0]?.message ? `: ${errs[0].message}` : ''}`;
    return new RegistryError(msg, status, this.host, errs, retryAfter);
  }
}
