// A stand-in for Harbor 1.10's REST API (`/api`), as its source has it (REFERENCE.md section 9):
//   - GET /api/version: 404 (1.10 has no such route; 2.x answers "v2.0");
//   - GET /api/projects?name=&page=&page_size= (name matches by substring), items {project_id, name};
//   - GET /api/repositories?project_id=&page=&page_size=, items {id, name: "<project>/<repo>", project_id};
//   - GET /api/repositories/<project/repo>/tags?detail= (not paginated). detail=false: names only,
//     every other field Go's zero value (core/api/repository.go simpleTags). detail (the default):
//     `digest` as Harbor gets it, from a manifest GET accepting Docker schema 2 only: a manifest
//     list's linux/amd64 image, "" for OCI content; `push_time` from its artifact record.
//   - page (default 1), page_size (default 10, max 100), `X-Total-Count`, and `Link` with rel="prev"
//     and rel="next" as a path and query without scheme or host, query keys sorted (Go's
//     url.Values.Encode) (common/api/base.go SetPaginationHeader);
//   - Basic auth on every call.
// Tags and digests are a real registry's (`fromRegistry`: read from its storage, so the stand-in
// adds no request to the registry's access log), or given (`fromData`, for unit tests).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type JsonApi, pageOf, reply, startJsonApi } from './json-api.js';
import type { RegistryHandle } from './registry.js';

export interface V1Tag { name: string; digest: string; pushed: string }
/** What Harbor's database and registry hold: repositories by full name, each tag's manifest digest and detail digest. */
export interface V1Source {
  repositories(): string[];
  tags(repository: string): Array<V1Tag & { detailDigest: string }>;
}
export interface HarborV1Options { source: V1Source; projects: string[]; username: string; password: string }

const ZERO = '0001-01-01T00:00:00Z';
const MT_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const MT_DOCKER = 'application/vnd.docker.distribution.manifest.v2+json';

/** A CNCF distribution registry's storage (the filesystem driver's layout), read directly. */
export function fromRegistry(reg: RegistryHandle): V1Source {
  const root = join(reg.dataDir, 'docker', 'registry', 'v2');
  const blob = (digest: string) => readFileSync(join(root, 'blobs', 'sha256', digest.slice(7, 9), digest.slice(7), 'data'));
  // What a GET by tag with `Accept: <Docker schema 2>` answers: distribution rewrites a manifest list
  // to its linux/amd64 image and refuses OCI manifests and indexes.
  const detailDigest = (digest: string): string => {
    const m = JSON.parse(blob(digest).toString('utf8')) as { mediaType?: string; manifests?: Array<{ digest: string; platform?: { os?: string; architecture?: string } }> };
    if (m.mediaType === MT_DOCKER) return digest;
    if (m.mediaType === MT_LIST) return m.manifests?.find((d) => d.platform?.os === 'linux' && d.platform.architecture === 'amd64')?.digest ?? '';
    return '';
  };
  const walk = (dir: string, prefix: string, out: string[]): string[] => {
    let entries: string[];
    try { entries = readdirSync(dir); } catch { return out; }
    if (entries.includes('_manifests')) out.push(prefix);
    for (const e of entries) if (!e.startsWith('_')) walk(join(dir, e), prefix ? `${prefix}/${e}` : e, out);
    return out;
  };
  return {
    repositories: () => walk(join(root, 'repositories'), '', []).sort(),
    tags: (repository) => {
      const dir = join(root, 'repositories', repository, '_manifests', 'tags');
      let names: string[];
      try { names = readdirSync(dir).sort(); } catch { return []; }
      return names.map((name) => {
        const link = join(dir, name, 'current', 'link');
        const digest = readFileSync(link, 'utf8').trim();
        return { name, digest, pushed: statSync(link).mtime.toISOString(), detailDigest: detailDigest(digest) };
      });
    },
  };
}

export function fromData(repos: Record<string, V1Tag[]>): V1Source {
  return { repositories: () => Object.keys(repos), tags: (r) => (repos[r] ?? []).map((t) => ({ ...t, detailDigest: t.digest })) };
}

export function startHarborV1Api(opts: HarborV1Options): Promise<JsonApi> {
  const basic = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  const projects = opts.projects.map((name, i) => ({ project_id: i + 1, name }));
  return startJsonApi((req, url, _body, _base, misbehave) => {
    if (req.headers.authorization !== basic) return reply(401, { code: 401, message: 'UnAuthorized' });
    if (url.pathname === '/api/version') return reply(404, { code: 404, message: 'not found' });
    const page = Number(url.searchParams.get('page') ?? 1);
    const size = Math.min(Number(url.searchParams.get('page_size') ?? 10), 100);
    const paged = <T>(all: T[]) => {
      const headers: Record<string, string> = { 'x-total-count': String(all.length) };
      const at = (n: number) => {
        const q = new URLSearchParams(url.searchParams);
        q.set('page', String(n));
        q.sort();
        return `<${url.pathname}?${q.toString()}>`;
      };
      const links: string[] = [];
      if (page > 1 && (page - 1) * size <= all.length) links.push(`${at(page - 1)}; rel="prev"`);
      if (page * size < all.length) links.push(`${at(misbehave.loop && page === 2 ? 1 : page + 1)}; rel="next"`);
      if (links.length) headers.link = links.join(', ');
      return reply(200, pageOf(all, page, size), headers);
    };
    if (url.pathname === '/api/projects') {
      const name = url.searchParams.get('name');
      return paged(projects.filter((p) => !name || p.name.includes(name)));
    }
    if (url.pathname === '/api/repositories') {
      const id = Number(url.searchParams.get('project_id'));
      const project = projects.find((p) => p.project_id === id);
      if (!(id > 0)) return reply(400, { code: 400, message: `invalid project_id ${url.searchParams.get('project_id') ?? ''}` });
      if (!project) return reply(404, { code: 404, message: `project ${id} not found` });
      const repos = opts.source.repositories().filter((r) => r.startsWith(`${project.name}/`));
      return paged(repos.map((name, i) => ({ id: i + 1, name, project_id: id, tags_count: opts.source.tags(name).length })));
    }
    const tags = /^\/api\/repositories\/(.+)\/tags$/.exec(url.pathname);
    if (tags) {
      const repository = decodeURIComponent(tags[1]!);
      if (!projects.some((p) => repository.startsWith(`${p.name}/`)) || !opts.source.repositories().includes(repository)) {
        return reply(404, { code: 404, message: `repository ${repository} not found` });
      }
      const detail = url.searchParams.get('detail') !== 'false';
      return reply(200, opts.source.tags(repository).map((t) => ({
        digest: detail ? t.detailDigest : '', name: t.name, size: 0, architecture: '', os: '', 'os.version': '', docker_version: '', author: '',
        created: ZERO, config: null, immutable: false, signature: null, labels: null,
        push_time: detail ? t.pushed : ZERO, pull_time: ZERO,
      })));
    }
    return reply(404, { code: 404, message: 'not found' });
  });
}
