// A stand-in for Harbor's API v2.0, as documented: projects, a project's repositories (`name` is
// `<project>/<repo>`), a repository's artifacts with_tag (tags[].name, push_time); page/page_size,
// `X-Total-Count` and a `Link` rel="next". The repository path segment arrives encoded twice
// (`a%252Fb`), as Harbor requires. Basic auth; private projects need it. `/api/version` answers
// "v2.0", as every Harbor 2.x does (the harbor lister asks it first; 1.10 is harbor-v1-api.ts).
import { type JsonApi, pageOf, reply, startJsonApi } from './json-api.js';

/** `digest`: the tag's real digest (the registry behind this API), else a made-up one. */
export interface HarborRepo { name: string; tags: Array<{ name: string; pushed: string; digest?: string }> }
export interface HarborOptions { projects: Record<string, { public?: boolean; repos: HarborRepo[] }>; username?: string; password?: string; noLink?: boolean }

export function startHarborApi(opts: HarborOptions): Promise<JsonApi> {
  const basic = opts.username ? `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}` : undefined;
  return startJsonApi((req, url, _body, base, misbehave) => {
    if (req.headers.authorization && req.headers.authorization !== basic) return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'unauthorized' }] });
    const authed = basic !== undefined && req.headers.authorization === basic;
    const page = Number(url.searchParams.get('page') ?? 1), size = Number(url.searchParams.get('page_size') ?? 10);
    const paged = <T>(all: T[]) => {
      const headers: Record<string, string> = { 'x-total-count': String(all.length) };
      if (page * size < all.length && !opts.noLink) {
        const u = new URL(url.pathname + url.search, base);
        u.searchParams.set('page', String(misbehave.loop && page === 2 ? 1 : page + 1));
        headers.link = `<${u.pathname}${u.search}>; rel="next"`;
        if (misbehave.nextOrigin) headers.link = `<${u}>; rel="next"`;
      }
      return reply(200, pageOf(all, page, size), headers);
    };
    if (url.pathname === '/api/version') return reply(200, { version: 'v2.0' });
    const visible = Object.entries(opts.projects).filter(([, p]) => authed || p.public);
    if (url.pathname === '/api/v2.0/projects') return paged(visible.map(([name], i) => ({ project_id: i + 1, name })));
    // The raw path: decoded once here, like Harbor's router; the repository segment is then still encoded once.
    const raw = (req.url ?? '').split('?')[0]!;
    const repos = /^\/api\/v2\.0\/projects\/([^/]+)\/repositories$/.exec(raw);
    const project = (name: string) => visible.find(([n]) => n === decodeURIComponent(name))?.[1];
    if (repos) {
      const p = project(repos[1]!);
      if (!p) return reply(404, { errors: [{ code: 'NOT_FOUND', message: 'project not found' }] });
      return paged(p.repos.map((r, i) => ({ id: i + 1, name: `${decodeURIComponent(repos[1]!)}/${r.name}` })));
    }
    const arts = /^\/api\/v2\.0\/projects\/([^/]+)\/repositories\/([^/]+)\/artifacts$/.exec(raw);
    if (arts) {
      const seg = decodeURIComponent(arts[2]!);
      // Once decoded, a `/` must still be `%2F`: a single-encoded name would have been split above.
      const repo = seg.includes('%') || !seg.includes('/') ? project(arts[1]!)?.repos.find((r) => r.name === decodeURIComponent(seg)) : undefined;
      if (!repo) return reply(404, { errors: [{ code: 'NOT_FOUND', message: 'repository not found' }] });
      // One artifact per tag here; real Harbor may put several tags on one artifact.
      return paged(repo.tags.map((t, i) => ({ id: i + 1, digest: t.digest ?? `sha256:${String(i).padStart(64, '0')}`, push_time: t.pushed, tags: [{ name: t.name, push_time: t.pushed }] })));
    }
    return reply(404, { errors: [{ code: 'NOT_FOUND', message: 'not found' }] });
  });
}
