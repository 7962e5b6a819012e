// A stand-in for the SWR (basic edition) registry host: an HTTP proxy in front of a real
// distribution registry that adds SWR's refusals (REFERENCE.md section 2):
//   - OCI manifests (image index and image manifest) are refused with SWR's 400 body
//     (image-syncer #161/#163, regclient #720); Docker schema2 manifests and lists pass;
//   - more than `maxUploads` concurrent blob uploads get 503 (about 20 per tenant on SWR);
//   - pushes into an organization (first path component) the API stand-in does not have are
//     refused with 401 DENIED, as SWR's token endpoint does for a missing organization;
//   - a "storm" (`busyFirst`, `busyEvery`): a share of push requests answered 503 with SWR's
//     system-busy body whatever the load, as SWR does when the tenant's other clients use its budget.
// It also records what a push budget must bound: upload requests and upload sessions in flight,
// and the arrival time of every push request.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { listenTracked } from './cleanup.js';
import type { RegistryHandle } from './registry.js';
import type { SwrState } from './swr-api-server.js';

export const OCI_REFUSED_BODY = { errors: [{ code: 'MANIFEST_INVALID', message: "Invalid image, fail to parse 'manifest.json'" }] };
const OCI_MANIFEST_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json']);
const REPO_OP = /^\/v2\/(.+)\/(manifests|blobs|tags)\//;
const UPLOAD = /^\/v2\/.+\/blobs\/uploads\//;
export const BUSY_BODY = { errors: [{ code: 'SVCSTG.SWR.4090023', message: 'system busy, please retry later' }] };

export interface SwrRegistryProxyOptions {
  /** SWR Enterprise Edition: OCI manifests are accepted (the other refusals stay). */
  acceptOci?: boolean;
  state: SwrState;
  /** Concurrent blob-upload requests (POST/PATCH/PUT on .../blobs/uploads/) above which SWR answers 503. */
  maxUploads?: number;
  /** The first N push requests (upload POST/PATCH/PUT, mount POST, manifest PUT) get 503. */
  busyFirst?: number;
  /** Every N-th push request gets 503. */
  busyEvery?: number;
}
export interface SwrRegistryProxyHandle {
  host: string;
  url: string;
  /** Refusals by kind, for assertions. */
  refused: { oci: number; busy: number; noOrg: number };
  /** The most blob-upload requests in flight at once. */
  peakUploads: number;
  /** The most upload sessions open at once: from the POST's 202 until a PUT or DELETE on it is answered. */
  peakSessions: number;
  /** Arrival times (performance.now(), ms) of every push request, refused ones included. */
  pushTimes: number[];
  stop(): Promise<void>;
}

function refuse(res: ServerResponse, req: IncomingMessage, status: number, body: unknown): void {
  req.resume();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), 'docker-distribution-api-version': 'registry/2.0' });
  res.end(text);
}

export async function startSwrRegistryProxy(target: RegistryHandle, opts: SwrRegistryProxyOptions): Promise<SwrRegistryProxyHandle> {
  const [, targetPort] = target.host.split(':');
  const max = opts.maxUploads ?? 20;
  const refused = { oci: 0, busy: 0, noOrg: 0 };
  let uploads = 0;
  let pushes = 0;
  const sessions = new Set<string>();
  const handle: SwrRegistryProxyHandle = { host: '', url: '', refused, peakUploads: 0, peakSessions: 0, pushTimes: [], stop: async () => {} };
  const openSession = (location: string | string[] | undefined): void => {
    if (typeof location !== 'string') return;
    sessions.add(new URL(location, 'http://x').pathname);
    handle.peakSessions = Math.max(handle.peakSessions, sessions.size);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    const repo = REPO_OP.exec(path)?.[1];
    const write = method === 'PUT' || method === 'POST' || method === 'PATCH' || method === 'DELETE';
    if (repo && write) {
      const org = repo.split('/')[0]!;
      const known = opts.state.orgs.get(org);
      if (!known || known.auth < 3) {
        refused.noOrg++;
        return refuse(res, req, 401, { errors: [{ code: 'DENIED', message: `requested access to the resource is denied: ${org}` }] });
      }
    }
    if (method === 'PUT' && /\/manifests\//.test(path)) {
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (!opts.acceptOci && OCI_MANIFEST_TYPES.has(type)) {
        refused.oci++;
        return refuse(res, req, 400, OCI_REFUSED_BODY);
      }
    }
    const isUpload = write && UPLOAD.test(path);
    if ((isUpload && method !== 'DELETE') || (method === 'PUT' && /\/manifests\//.test(path))) {
      handle.pushTimes.push(performance.now());
      pushes++;
      if (pushes <= (opts.busyFirst ?? 0) || (opts.busyEvery !== undefined && pushes % opts.busyEvery === 0)) {
        refused.busy++;
        if (method === 'PUT' && isUpload) sessions.delete(new URL(path, 'http://x').pathname);
        return refuse(res, req, 503, BUSY_BODY);
      }
    }
    // A PUT or DELETE on a session ends it once answered, whatever the answer.
    if (isUpload && (method === 'PUT' || method === 'DELETE')) res.once('close', () => sessions.delete(new URL(path, 'http://x').pathname));
    if (isUpload) {
      if (uploads >= max) {
        refused.busy++;
        return refuse(res, req, 503, { errors: [{ code: 'UNAVAILABLE', message: 'service unavailable' }] });
      }
      uploads++;
      handle.peakUploads = Math.max(handle.peakUploads, uploads);
      res.once('close', () => uploads--);
    }
    const up = httpRequest({ host: '127.0.0.1', port: Number(targetPort), method, path, headers: req.headers }, (ur) => {
      if (isUpload && method === 'POST' && ur.statusCode === 202) openSession(ur.headers.location);
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      pipeline(ur, res).catch(() => res.destroy());
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy error: ${err.message}`);
    });
    req.pipe(up);
  };

  const server = createServer(onRequest);
  const { port, stop } = await listenTracked(server);
  Object.assign(handle, { host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, stop });
  return handle;
}
