// A stand-in for the SWR management API (swr-api.<region>.myhuaweicloud.com) on 127.0.0.1, following
// the documented API: namespaces create/get/list (409 SVCSTG.SWR.4090060, 400 SVCSTG.SWR.4000097),
// project quotas, GET /v2/manage/repos with offset/limit and Content-Range, a repository's tags, and
// DELETE of one tag (204, 404). Like the API gateway
// it recomputes the SDK-HMAC-SHA256 signature from the request and answers 401 with an APIGW body
// when it does not match or X-Sdk-Date is more than 15 minutes off.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { MAX_SKEW_MS, canonicalRequest, parseAuthorization, parseSdkDate, signature, stringToSign } from '../../lib/vendors/swr/signer.js';
import { listenTracked } from './cleanup.js';

/** Organizations, shared with the registry stand-in. `auth`: 7 manage, 3 write, 1 read; 0 = invisible to us. */
export interface SwrOrg { auth: number; mine: boolean }
export interface SwrState {
  orgs: Map<string, SwrOrg>;
  quotaLimit: number;
  repos: Array<{ name: string; namespace: string; tags: string[] }>;
}
export interface SwrApiHandle {
  url: string;
  state: SwrState;
  requests: Array<{ method: string; path: string }>;
  /** Answer the next requests with these faults (status, errorCode) before serving normally. */
  faults: Array<{ status: number; code: string }>;
  stop(): Promise<void>;
}
export interface SwrApiOptions {
  ak?: string; sk?: string; token?: string; projectId?: string;
  /** Whether GET .../quotas answers (some regions answer 404). */
  quotas?: boolean;
  now?: () => number;
  state?: SwrState;
  /**
   * The registry behind the SWR stand-in: the tags endpoint then lists its real tags with their
   * digests (as SWR's does), asking it with the harness's probe user agent, which the registry's
   * request log leaves out.
   */
  backing?: { url: string };
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

async function backingTags(backing: { url: string }, repository: string): Promise<Array<{ tag: string; digest: string }> | undefined> {
  const headers = { 'user-agent': 'swrm-harness-probe' };
  const res = await fetch(`${backing.url}/v2/${repository}/tags/list?n=100000`, { headers });
  if (res.status === 404) return undefined;
  const tags = ((await res.json()) as { tags?: string[] | null }).tags ?? [];
  return Promise.all(tags.map(async (tag) => {
    const head = await fetch(`${backing.url}/v2/${repository}/manifests/${tag}`, { method: 'HEAD', headers: { ...headers, accept: MANIFEST_TYPES } });
    return { tag, digest: head.headers.get('docker-content-digest') ?? '' };
  }));
}

export function swrState(quotaLimit = 5): SwrState {
  return { orgs: new Map(), quotaLimit, repos: [] };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export async function startSwrApi(opts: SwrApiOptions = {}): Promise<SwrApiHandle> {
  const ak = opts.ak ?? 'AKTEST', sk = opts.sk ?? 'SKTEST', projectId = opts.projectId ?? 'proj1';
  const state = opts.state ?? swrState();
  const now = opts.now ?? Date.now;
  const requests: SwrApiHandle['requests'] = [];
  const faults: SwrApiHandle['faults'] = [];

  const authorized = (req: IncomingMessage, body: Buffer): { code: string; msg: string } | undefined => {
    if (opts.token && req.headers['x-auth-token'] === opts.token) return undefined;
    const parsed = parseAuthorization(String(req.headers.authorization ?? ''));
    const date = String(req.headers['x-sdk-date'] ?? '');
    if (!parsed || parsed.access !== ak) return { code: 'APIGW.0301', msg: 'Incorrect IAM authentication information: verify aksk signature fail' };
    const at = parseSdkDate(date);
    if (at === undefined || Math.abs(now() - at) > MAX_SKEW_MS) return { code: 'APIGW.0303', msg: 'Incorrect app authentication information: signature expired' };
    const headers: Record<string, string> = {};
    for (const h of parsed.signedHeaders) headers[h] = String(req.headers[h] ?? '');
    const expected = signature(sk, stringToSign(canonicalRequest({ method: req.method ?? 'GET', url: req.url ?? '/', headers, body }, parsed.signedHeaders), date));
    return expected === parsed.signature ? undefined : { code: 'APIGW.0301', msg: 'Incorrect IAM authentication information: verify aksk signature fail' };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search });
    const denied = authorized(req, body);
    if (denied) return send(res, 401, { error_code: denied.code, error_msg: denied.msg, request_id: 'r1' });
    const fault = faults.shift();
    if (fault) return send(res, fault.status, [{ errorCode: fault.code, errorMessage: 'injected' }]);
    const p = url.pathname;
    if (req.method === 'POST' && p === '/v2/manage/namespaces') {
      const name = (JSON.parse(body.toString() || '{}') as { namespace?: string }).namespace ?? '';
      if (!/^[a-z][a-z0-9._-]{0,63}$/.test(name)) return send(res, 400, [{ errorCode: 'SVCSTG.SWR.4001028', errorMessage: 'Invalid namespace name' }]);
      if (state.orgs.has(name)) return send(res, 409, [{ errorCode: 'SVCSTG.SWR.4090060', errorMessage: 'Namespace already exists' }]);
      const used = [...state.orgs.values()].filter((o) => o.mine).length;
      if (used >= state.quotaLimit) return send(res, 400, [{ errorCode: 'SVCSTG.SWR.4000097', errorMessage: 'The number of namespaces exceeds the quota' }]);
      state.orgs.set(name, { auth: 7, mine: true });
      res.writeHead(201, { 'content-length': '0' }).end();
      return;
    }
    const one = /^\/v2\/manage\/namespaces\/([^/]+)$/.exec(p);
    if (req.method === 'GET' && one) {
      const name = decodeURIComponent(one[1]!);
      const org = state.orgs.get(name);
      if (!org || org.auth === 0) return send(res, 404, [{ errorCode: 'SVCSTG.SWR.4040005', errorMessage: 'Namespace not found' }]);
      return send(res, 200, { name, auth: org.auth, repo_count: state.repos.filter((r) => r.namespace === name).length });
    }
    if (req.method === 'GET' && p === '/v2/manage/namespaces') {
      const namespaces = [...state.orgs].filter(([, o]) => o.auth > 0).map(([name, o]) => ({ name, auth: o.auth }));
      return send(res, 200, { namespaces });
    }
    if (req.method === 'GET' && p === `/v2/manage/projects/${projectId}/quotas`) {
      if (opts.quotas === false) return send(res, 404, [{ errorCode: 'SVCSTG.SWR.4040000', errorMessage: 'not found' }]);
      const used = [...state.orgs.values()].filter((o) => o.mine).length;
      return send(res, 200, { quotas: [{ quota_key: 'namespace', quota_limit: state.quotaLimit, used }] });
    }
    if (req.method === 'GET' && p === '/v2/manage/repos') {
      const ns = url.searchParams.get('namespace');
      const offset = Number(url.searchParams.get('offset') ?? 0), limit = Math.min(Number(url.searchParams.get('limit') ?? 100), 1000);
      const all = state.repos.filter((r) => !ns || r.namespace === ns);
      const page = all.slice(offset, offset + limit).map((r) => ({ ...r, num_images: r.tags.length, path: `swr.local/${r.namespace}/${r.name}` }));
      return send(res, 200, page, { 'content-range': `${offset}-${page.length}/${all.length}` });
    }
    const tags = /^\/v2\/manage\/namespaces\/([^/]+)\/repos\/([^/]+)\/tags$/.exec(p);
    if (req.method === 'GET' && tags) {
      // `$` stands for `/` in the repository name (SWR API Reference).
      const ns = decodeURIComponent(tags[1]!), name = decodeURIComponent(tags[2]!).replaceAll('$', '/');
      const offset = Number(url.searchParams.get('offset') ?? 0), limit = Math.min(Number(url.searchParams.get('limit') ?? 100), 1000);
      if (opts.backing) {
        // SWR's API answers from the registry itself: each tag with the digest it names.
        const listed = await backingTags(opts.backing, `${ns}/${name}`);
        if (!listed) return send(res, 404, [{ errorCode: 'SVCSTG.SWR.4040004', errorMessage: 'Repository not found' }]);
        const page = listed.slice(offset, offset + limit).map((t, i) => ({ Tag: t.tag, digest: t.digest, tag_type: 0, updated: new Date(Date.UTC(2026, 0, 1 + offset + i)).toISOString() }));
        return send(res, 200, page, { 'content-range': `${offset}-${page.length}/${listed.length}` });
      }
      const repo = state.repos.find((r) => r.namespace === ns && r.name === name);
      if (!repo) return send(res, 404, [{ errorCode: 'SVCSTG.SWR.4040004', errorMessage: 'Repository not found' }]);
      const page = repo.tags.slice(offset, offset + limit).map((t, i) => ({ Tag: t, updated: new Date(Date.UTC(2026, 0, 1 + offset + i)).toISOString() }));
      return send(res, 200, page, { 'content-range': `${offset}-${page.length}/${repo.tags.length}` });
    }
    const oneTag = /^\/v2\/manage\/namespaces\/([^/]+)\/repos\/([^/]+)\/tags\/([^/]+)$/.exec(p);
    if (req.method === 'DELETE' && oneTag) {
      // Huawei API reference swr_02_0036: 204 deleted, 404 when the tag (or repository) is missing.
      const ns = decodeURIComponent(oneTag[1]!), name = decodeURIComponent(oneTag[2]!).replaceAll('$', '/'), tag = decodeURIComponent(oneTag[3]!);
      if (opts.backing) {
        // SWR deletes the tag alone. The registry behind the stand-in (distribution 2.8) only deletes
        // by digest, which takes every tag naming it: the stand-in refuses a digest another tag shares
        // rather than act unlike SWR.
        const listed = await backingTags(opts.backing, `${ns}/${name}`);
        const hit = listed?.find((t) => t.tag === tag);
        if (!hit) return send(res, 404, [{ errorCode: 'SVCSTG.SWR.4040004', errorMessage: 'Tag not found' }]);
        if (listed!.some((t) => t.tag !== tag && t.digest === hit.digest)) return send(res, 500, [{ errorCode: 'SVCSTG.SWR.5000000', errorMessage: 'stand-in: shared digest' }]);
        const del = await fetch(`${opts.backing.url}/v2/${ns}/${name}/manifests/${hit.digest}`, { method: 'DELETE', headers: { 'user-agent': 'swrm-harness-probe' } });
        if (del.status !== 202) return send(res, 500, [{ errorCode: 'SVCSTG.SWR.5000000', errorMessage: `backing DELETE ${del.status}` }]);
        res.writeHead(204).end();
        return;
      }
      const repo = state.repos.find((r) => r.namespace === ns && r.name === name);
      if (!repo?.tags.includes(tag)) return send(res, 404, [{ errorCode: 'SVCSTG.SWR.4040004', errorMessage: 'Tag not found' }]);
      repo.tags = repo.tags.filter((t) => t !== tag);
      res.writeHead(204).end();
      return;
    }
    send(res, 404, [{ errorCode: 'SVCSTG.SWR.4040000', errorMessage: 'not found' }]);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => send(res, 500, [{ errorCode: 'SVCSTG.SWR.5000000', errorMessage: String(err) }])));
  });
  const { port, stop } = await listenTracked(server);
  return { url: `http://127.0.0.1:${port}`, state, requests, faults, stop };
}
