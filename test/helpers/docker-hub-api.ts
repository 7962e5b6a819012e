// A stand-in for Docker Hub's Hub API (hub.docker.com/v2), as documented: POST /v2/auth/token
// {identifier, secret} -> {access_token}; GET /v2/namespaces/{ns}/repositories and
// .../repositories/{repo}/tags with page/page_size, `next` an absolute URL or null. Private
// repositories are listed only with the Bearer token.
import { type JsonApi, pageOf, reply, startJsonApi } from './json-api.js';

/** A tag's `digest`: the real one of the registry behind this API, when the test gives it. */
export interface HubRepo { name: string; private?: boolean; tags: Array<{ name: string; pushed: string; digest?: string }> }
export interface HubOptions { namespaces: Record<string, HubRepo[]>; username?: string; pat?: string }

const TOKEN = 'hub-access-token-1';

export function startDockerHubApi(opts: HubOptions): Promise<JsonApi> {
  return startJsonApi((req, url, body, base, misbehave) => {
    const page = Number(url.searchParams.get('page') ?? 1), size = Number(url.searchParams.get('page_size') ?? 10);
    if (req.method === 'POST' && url.pathname === '/v2/auth/token') {
      const b = JSON.parse(body || '{}') as { identifier?: string; secret?: string };
      if (!opts.username || b.identifier !== opts.username || b.secret !== opts.pat) return reply(401, { detail: 'Incorrect authentication credentials' });
      return reply(200, { access_token: TOKEN });
    }
    const authed = req.headers.authorization === `Bearer ${TOKEN}`;
    if (req.headers.authorization && !authed) return reply(401, { detail: 'invalid token' });
    const next = (n: number, total: number) => {
      if (n * size >= total) return null;
      const u = new URL(url.pathname, base);
      u.searchParams.set('page', String(misbehave.loop && n === 2 ? 1 : n + 1));
      u.searchParams.set('page_size', String(size));
      return u.toString();
    };
    const repos = /^\/v2\/namespaces\/([^/]+)\/repositories\/?$/.exec(url.pathname);
    if (req.method === 'GET' && repos) {
      const ns = decodeURIComponent(repos[1]!);
      const all = (opts.namespaces[ns] ?? []).filter((r) => authed || !r.private);
      if (!opts.namespaces[ns]) return reply(404, { message: 'namespace not found' });
      const results = pageOf(all, page, size).map((r) => ({ name: r.name, namespace: ns, last_updated: '2026-01-01T00:00:00Z', is_private: !!r.private }));
      return reply(200, { count: all.length, next: next(page, all.length), previous: null, results });
    }
    const tags = /^\/v2\/namespaces\/([^/]+)\/repositories\/([^/]+)\/tags\/?$/.exec(url.pathname);
    if (req.method === 'GET' && tags) {
      const repo = (opts.namespaces[decodeURIComponent(tags[1]!)] ?? []).find((r) => r.name === decodeURIComponent(tags[2]!) && (authed || !r.private));
      if (!repo) return reply(404, { message: 'object not found' });
      const results = pageOf(repo.tags, page, size).map((t) => ({ name: t.name, tag_last_pushed: t.pushed, last_updated: t.pushed, ...(t.digest ? { digest: t.digest } : {}) }));
      return reply(200, { count: repo.tags.length, next: next(page, repo.tags.length), previous: null, results });
    }
    return reply(404, { message: 'not found' });
  });
}
