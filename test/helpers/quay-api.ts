// A stand-in for Quay's API v1, as documented: GET /api/v1/repository?namespace= with an opaque
// `next_page` token, and GET /api/v1/repository/{ns}/{repo}/tag/?page=&limit= with
// `has_additional`, tags carrying `start_ts` (epoch seconds). Bearer OAuth token; private
// repositories only with it.
import { type JsonApi, pageOf, reply, startJsonApi } from './json-api.js';

/** A tag's `digest` (Quay's `manifest_digest`): the real one of the registry behind this API, when given. */
export interface QuayRepo { name: string; private?: boolean; tags: Array<{ name: string; startTs: number; digest?: string }> }
export interface QuayOptions { namespaces: Record<string, QuayRepo[]>; token?: string; pageSize?: number }

export function startQuayApi(opts: QuayOptions): Promise<JsonApi> {
  const size = opts.pageSize ?? 2;
  return startJsonApi((req, url, _body, _base, misbehave) => {
    if (req.headers.authorization && req.headers.authorization !== `Bearer ${opts.token}`) return reply(401, { error: 'invalid token' });
    const authed = opts.token !== undefined && req.headers.authorization === `Bearer ${opts.token}`;
    if (url.pathname === '/api/v1/repository') {
      const ns = url.searchParams.get('namespace') ?? '';
      const all = (opts.namespaces[ns] ?? []).filter((r) => authed || !r.private);
      // The token is opaque to clients: here a base64 offset.
      const token = url.searchParams.get('next_page');
      const offset = token ? Number(Buffer.from(token, 'base64').toString()) : 0;
      const nextOffset = misbehave.loop && offset > 0 ? 0 : offset + size;
      const repositories = all.slice(offset, offset + size).map((r) => ({ namespace: ns, name: r.name, is_public: !r.private }));
      return reply(200, { repositories, ...(offset + size < all.length ? { next_page: Buffer.from(String(nextOffset)).toString('base64') } : {}) });
    }
    const tags = /^\/api\/v1\/repository\/([^/]+)\/([^/]+)\/tag\/?$/.exec(url.pathname);
    if (tags) {
      const repo = (opts.namespaces[decodeURIComponent(tags[1]!)] ?? []).find((r) => r.name === decodeURIComponent(tags[2]!) && (authed || !r.private));
      if (!repo) return reply(404, { error_message: 'Not Found' });
      const page = Number(url.searchParams.get('page') ?? 1), limit = Number(url.searchParams.get('limit') ?? 50);
      const list = pageOf(repo.tags, page, limit).map((t) => ({ name: t.name, start_ts: t.startTs, reversion: false, ...(t.digest ? { manifest_digest: t.digest } : {}) }));
      return reply(200, { tags: list, page, has_additional: page * limit < repo.tags.length });
    }
    return reply(404, { error_message: 'Not Found' });
  });
}
