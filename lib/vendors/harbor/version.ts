// Which REST API a Harbor speaks: `GET /api/version` answers 200 {"version":"v2.0"} on Harbor 2.x and
// 404 on 1.x, which has no such route (REFERENCE.md section 9). Harbor's own replication adapter
// decides the same way (src/pkg/reg/adapter/harbor/base/client.go). Only a 404 means 1.x: a refusal,
// a 5xx or an answer that is not JSON is a ListingError, never a silent fall back to the v1 API, which
// would then fail on every call with a less useful message (or list something else).
import type { ListingApi } from '../../listing/http.js';

export type HarborApiVersion = 'v1' | 'v2.0';

export async function harborApiVersion(api: ListingApi, signal?: AbortSignal): Promise<HarborApiVersion> {
  let json: unknown;
  try {
    ({ json } = await api.get(api.url('/api/version'), signal));
  } catch (err) {
    if ((err as { status?: unknown }).status === 404 && !signal?.aborted) return 'v1';
    throw err;
  }
  const version = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).version : undefined;
  // Every 2.x answers "v2.0" (the API's version, not the product's).
  if (typeof version === 'string' && /^v2(\.\d+)*$/.test(version)) return 'v2.0';
  const shown = typeof version === 'string' ? JSON.stringify(version.slice(0, 40)) : 'no "version"';
  throw api.error(`/api/version answered ${shown}: not a Harbor this tool knows (1.10 answers 404, 2.x "v2.0"); check apiEndpoint`);
}
