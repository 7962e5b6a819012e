// A registry that pages its tag lists and catalog strictly, the way the OCI distribution spec allows
// ("Listing Tags": with `n`, at most `n` entries; `Link` optional; the client pages with `last=`), in
// front of a real distribution registry, which ignores `n` on tag lists and so never showed the
// difference (issue 13, item 2). Everything but tag lists and `_catalog` is forwarded untouched; those
// two are answered here from the upstream's full list, sorted lexically as the spec requires, plus
// synthetic entries (1,205 tags without pushing 1,205 images). Modes:
//   strict              exactly n, no Link, `last` honoured (the spec's own paging)
//   ignore-last         exactly n, no Link, `last` ignored; without n everything (ggcr's catalog)
//   ignore-last-capped  `last` ignored and every answer, even without n, cut at `cap` (unlistable)
//   ignore-n            `n` and `last` ignored: everything in one answer (distribution 2.8's tag list)
//   link                spec Link headers (relative, or absolute on `linkOrigin`)
//   repeat              Link headers whose next page repeats the last entry of the one before
//   backwards           no Link; `last` answered from n/2 entries before it (pages overlap)
// With `redirectListings`, listing requests get a 307 to a second origin on 127.0.0.2 (registry.k8s.io
// redirects tag lists to Artifact Registry this way), which serves them and refuses Authorization.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { track } from './cleanup.js';
import type { RegistryHandle } from './registry.js';

export type PagingMode = 'strict' | 'ignore-last' | 'ignore-last-capped' | 'ignore-n' | 'link' | 'repeat' | 'backwards';

export interface StrictPagingOptions {
  mode: PagingMode;
  /** ignore-last-capped: the most entries any answer holds (default 1000, the client's page size). */
  cap?: number;
  /** Synthetic tags listed for a repository besides its real ones. */
  extraTags?: (repository: string) => string[];
  /** Synthetic repositories listed in the catalog; their tag lists hold only `extraTags`. */
  extraRepositories?: readonly string[];
  /**
   * Answer listings (once the upstream accepts the client's credentials) with a 307 to a second
   * origin on 127.0.0.2, which reads the upstream with its basic credentials (no token-auth upstreams).
   */
  redirectListings?: boolean;
  /** link mode: absolute Links on this origin (`http://127.0.0.3:1234`) instead of relative ones. */
  linkOrigin?: string;
}

export interface ServedListing {
  /** 'registry' (127.0.0.1) or 'redirected' (127.0.0.2). */
  origin: 'registry' | 'redirected';
  /** Path and query as requested. */
  path: string;
  status: number;
}

export interface StrictPagingHandle {
  /** `127.0.0.1:port`: use as the registry name. */
  host: string;
  url: string;
  /** The redirect target's origin (`http://127.0.0.2:port`) with `redirectListings`. */
  redirectedUrl?: string;
  /** Listing requests answered (pages, or refusals), on either origin, in order. */
  listings: ServedListing[];
  stop(): Promise<void>;
}

const TAGS = /^\/v2\/(.+)\/tags\/list$/;
const CATALOG = '/v2/_catalog';

async function listen(server: Server, address: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => { server.off('error', reject); resolve(); });
  });
  return (server.address() as AddressInfo).port;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), 'docker-distribution-api-version': 'registry/2.0', ...headers });
  res.end(text);
}

function basicOf(target: RegistryHandle): string | undefined {
  return target.username === undefined ? undefined : `Basic ${Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64')}`;
}

interface Upstream { status: number; headers: Record<string, string>; body: Buffer }

function fetchUpstream(target: RegistryHandle, path: string, authorization: string | undefined): Promise<Upstream> {
  const port = Number(target.host.split(':')[1]);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'GET', path, headers: authorization ? { authorization } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
        resolve({ status: res.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Everything a listing holds (upstream + synthetic, sorted), or the upstream's refusal to pass on. */
async function fullList(target: RegistryHandle, opts: StrictPagingOptions, repository: string | undefined, authorization: string | undefined): Promise<string[] | Upstream> {
  const extra = repository === undefined ? [...(opts.extraRepositories ?? [])] : (opts.extraTags?.(repository) ?? []);
  const real: string[] = [];
  if (repository === undefined) {
    // distribution pages its catalog with Link (n at most 1000, or PAGINATION_NUMBER_INVALID): follow it.
    for (let path: string | undefined = `${CATALOG}?n=1000`; path; ) {
      const up = await fetchUpstream(target, path, authorization);
      if (up.status !== 200) return up;
      real.push(...((JSON.parse(up.body.toString()) as { repositories?: string[] }).repositories ?? []));
      const link = /<([^>]+)>;\s*rel="?next"?/.exec(up.headers.link ?? '')?.[1];
      path = link === undefined ? undefined : ((u) => u.pathname + u.search)(new URL(link, 'http://x'));
    }
  } else {
    const up = await fetchUpstream(target, `/v2/${repository}/tags/list`, authorization);
    const synthetic = up.status === 404 && opts.extraRepositories?.includes(repository);
    if (up.status !== 200 && !synthetic) return up;
    if (up.status === 200) real.push(...((JSON.parse(up.body.toString()) as { tags?: string[] | null }).tags ?? []));
  }
  // Lexical (byte) order, as the spec requires and Go's sort.Strings gives.
  return [...new Set([...real, ...extra])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The page `mode` answers, and its Link target (path and query) if it sends one. */
export function pageOf(all: readonly string[], mode: PagingMode, n: number | undefined, last: string | undefined, cap = 1000): { page: string[]; next?: { n: number; last: string } } {
  const after = last === undefined ? 0 : ((i) => (i < 0 ? all.length : i))(all.findIndex((e) => e > last));
  const take = (from: number): string[] => (n === undefined ? all.slice(from) : all.slice(from, from + n));
  switch (mode) {
    case 'strict':
      return { page: take(after) };
    case 'ignore-last':
      return { page: take(0) };
    case 'ignore-last-capped':
      return { page: all.slice(0, Math.min(n ?? Infinity, cap)) };
    case 'ignore-n':
      // distribution 2.8's tag list: every entry, whatever `n` and `last` say.
      return { page: [...all] };
    case 'backwards':
      return { page: take(last === undefined || n === undefined ? after : Math.max(0, after - Math.floor(n / 2))) };
    case 'link':
    case 'repeat': {
      const page = take(after);
      if (n === undefined || after + n >= all.length) return { page };
      // repeat: the Link names the second-to-last entry, so the next page starts with the last one again.
      const last = mode === 'link' ? page.at(-1)! : page.at(-2) ?? page.at(-1)!;
      return { page, next: { n, last } };
    }
  }
}

export async function startStrictPaging(target: RegistryHandle, opts: StrictPagingOptions): Promise<StrictPagingHandle> {
  const listings: ServedListing[] = [];
  const upstreamPort = Number(target.host.split(':')[1]);
  let redirectedUrl: string | undefined;

  const serveListing = async (req: IncomingMessage, res: ServerResponse, origin: ServedListing['origin']): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const record = (status: number): void => void listings.push({ origin, path: req.url ?? '/', status });
    if (origin === 'redirected' && req.headers.authorization) {
      // Like object storage or another registry: the origin registry's token is not ours to see.
      record(400);
      return send(res, 400, { errors: [{ code: 'DENIED', message: 'Authorization sent to another origin' }] });
    }
    if (origin === 'registry' && redirectedUrl) {
      // The registry checks the client's credentials before it redirects, as registry.k8s.io would.
      const allowed = await fetchUpstream(target, '/v2/', req.headers.authorization);
      if (allowed.status !== 200) {
        record(allowed.status);
        res.writeHead(allowed.status, allowed.headers);
        return void res.end(allowed.body);
      }
      record(307);
      res.writeHead(307, { location: `${redirectedUrl}${req.url}`, 'content-length': '0' });
      return void res.end();
    }
    const repository = url.pathname === CATALOG ? undefined : TAGS.exec(url.pathname)![1]!;
    // The second origin has its own access to the data: the upstream's basic credentials, if any.
    const authorization = origin === 'redirected' ? basicOf(target) : req.headers.authorization;
    const all = await fullList(target, opts, repository, authorization);
    if (!Array.isArray(all)) {
      record(all.status);
      res.writeHead(all.status, all.headers);
      return void res.end(all.body);
    }
    const nParam = Number(url.searchParams.get('n') ?? NaN);
    const n = Number.isSafeInteger(nParam) && nParam > 0 ? nParam : undefined;
    const { page, next } = pageOf(all, opts.mode, n, url.searchParams.get('last') ?? undefined, opts.cap);
    const headers: Record<string, string> = {};
    if (next) {
      const query = `n=${next.n}&last=${encodeURIComponent(next.last)}`;
      headers.link = `<${opts.linkOrigin ?? ''}${url.pathname}?${query}>; rel="next"`;
    }
    record(200);
    send(res, 200, repository === undefined ? { repositories: page } : { name: repository, tags: page }, headers);
  };

  const isListing = (req: IncomingMessage): boolean => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    return req.method === 'GET' && (path === CATALOG || TAGS.test(path));
  };

  // Forwards to the registry; Host is kept so its absolute Locations point back here.
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const up = httpRequest({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      pipeline(ur, res).catch(() => res.destroy());
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`strict-paging proxy error: ${err.message}`);
    });
    req.pipe(up);
  };

  const onRegistry = (req: IncomingMessage, res: ServerResponse): void => {
    if (!isListing(req)) return forward(req, res);
    serveListing(req, res, 'registry').catch(() => res.destroy());
  };
  const onRedirected = (req: IncomingMessage, res: ServerResponse): void => {
    if (!isListing(req)) return send(res, 404, { errors: [{ code: 'NOT_FOUND' }] });
    serveListing(req, res, 'redirected').catch(() => res.destroy());
  };

  const servers = [createServer(onRegistry)];
  const port = await listen(servers[0]!, '127.0.0.1');
  if (opts.redirectListings) {
    servers.push(createServer(onRedirected));
    redirectedUrl = `http://127.0.0.2:${await listen(servers[1]!, '127.0.0.2')}`;
  }
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    untrack();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
  };
  const untrack = track({ stop, stopSync: () => servers.forEach((s) => s.close()) });
  return { host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, ...(redirectedUrl ? { redirectedUrl } : {}), listings, stop };
}

/** `t0000`..`t<count-1>`, four digits: names that sort lexically in numeric order. */
export function numberedNames(prefix: string, count: number, width = 4): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(width, '0')}`);
}
