// An HTTP proxy in front of a test registry, for header inspection and fault injection:
// corrupted blob bodies, blob GETs redirected to another origin (like ECR -> S3), and a
// schema1 manifest for one repo (like a very old registry).
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { track } from './cleanup.js';
import { registryRequest } from './client.js';
import type { RegistryHandle } from './registry.js';

export interface SeenRequest { method: string; path: string; headers: IncomingHttpHeaders }
export interface ProxyHandle {
  host: string;
  url: string;
  /** Requests that reached the proxy (path includes the query). */
  requests: SeenRequest[];
  /** Requests that reached the redirect target ("object storage") on the other origin. */
  offOrigin: SeenRequest[];
  /** TCP connections to the proxy: accepted in all, open now, and the most open at once. */
  sockets: { accepted: number; open: number; peak: number };
  /** The options, read on every request: a test may change them while the proxy runs. */
  options: ProxyOptions;
  stop(): Promise<void>;
}
export interface ProxyOptions {
  corruptBlobs?: boolean;
  redirectBlobs?: boolean;
  schema1For?: string;
  /** Answer 503 (without asking the registry) to every request whose "METHOD path" matches. */
  always503?: RegExp;
  /** Send blob GET bodies `bytes` at a time every `everyMs`: a trickling server that is never idle long. */
  trickleBlobs?: { bytes: number; everyMs: number };
  /**
   * Answer the first `manifestGets` manifest GETs with 429 TOOMANYREQUESTS and `Retry-After`, as
   * GHCR, Quay, Harbor and ECR throttle: without Docker Hub's ratelimit headers, or with them
   * (`budget`) stating `remaining` left, which is a throttle too, not a spent budget.
   */
  throttle?: { manifestGets: number; retryAfterS?: number; budget?: { limit: number; remaining: number; windowS: number } };
  /** Decline every cross-repository mount (answer it as a plain upload start: 202), as Docker Hub does across origins. */
  declineMounts?: boolean;
}

const BLOB_GET = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})(?:\?.*)?$/;
const MANIFEST = /^\/v2\/(.+)\/manifests\/([^?]+)/;

/** Flips the byte in the middle of the body (or the first one if the length is unknown). */
function corrupter(length: number | undefined): Transform {
  const target = length ? Math.floor(length / 2) : 0;
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (target >= seen && target < seen + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[target - seen] = chunk[target - seen]! ^ 0xff;
      }
      seen += chunk.length;
      cb(null, chunk);
    },
  });
}

/** Re-sends the body in small pieces, one every `everyMs`, until the client goes away. */
function trickler(bytes: number, everyMs: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      let at = 0;
      const next = (): void => {
        if (this.destroyed) return;
        if (at >= chunk.length) return cb();
        this.push(chunk.subarray(at, (at += bytes)));
        setTimeout(next, everyMs);
      };
      next();
    },
  });
}

function schema1Body(repo: string, tag: string): Buffer {
  // Shape of a real signed schema1 manifest; the signature is not valid, nobody should check it.
  const m = {
    schemaVersion: 1, name: repo, tag, architecture: 'amd64',
    fsLayers: [{ blobSum: 'sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4' }],
    history: [{ v1Compatibility: JSON.stringify({ id: 'e'.repeat(64), created: '2016-01-01T00:00:00Z', os: 'linux' }) }],
    signatures: [{
      header: { jwk: { crv: 'P-256', kid: 'AAAA:BBBB:CCCC', kty: 'EC', x: 'eA', y: 'eQ' }, alg: 'ES256' },
      signature: 'c2lnbmF0dXJl', protected: 'eyJmb3JtYXRMZW5ndGgiOjEsImZvcm1hdFRhaWwiOiJmUSJ9',
    }],
  };
  return Buffer.from(JSON.stringify(m, null, 3));
}

async function listen(server: Server, host: string, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  return (server.address() as AddressInfo).port;
}

export async function startProxy(target: RegistryHandle, opts: ProxyOptions = {}): Promise<ProxyHandle> {
  const requests: SeenRequest[] = [];
  const offOrigin: SeenRequest[] = [];
  const repoOfDigest = new Map<string, string>();
  const [, targetPort] = target.host.split(':');
  let storagePort = 0;
  let throttled = 0;

  // Forwards to the registry. Host is kept, so the registry's absolute Location URLs point back at us.
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    if (opts.always503?.test(`${req.method} ${path}`)) {
      // Like a registry behind an overloaded load balancer: distribution's UNAVAILABLE body.
      const body = JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'service unavailable' }] });
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const blob = req.method === 'GET' ? BLOB_GET.exec(path) : null;
    const manifest = MANIFEST.exec(path);
    if (opts.throttle && manifest && req.method === 'GET' && throttled < opts.throttle.manifestGets) {
      throttled++;
      const body = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'too many requests' }] });
      const b = opts.throttle.budget;
      req.resume();
      res.writeHead(429, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'retry-after': String(opts.throttle.retryAfterS ?? 1),
        ...(b ? { 'ratelimit-limit': `${b.limit};w=${b.windowS}`, 'ratelimit-remaining': `${b.remaining};w=${b.windowS}` } : {}),
      });
      res.end(body);
      return;
    }
    const mount = opts.declineMounts && req.method === 'POST' && /[?&]mount=/.test(path);
    const schema1 = opts.schema1For !== undefined && manifest?.[1] === opts.schema1For
      && (req.method === 'GET' || req.method === 'HEAD');
    const upstreamPath = mount ? path.split('?')[0]! : path;
    const up = httpRequest({ host: '127.0.0.1', port: Number(targetPort), method: req.method, path: upstreamPath, headers: req.headers }, (ur) => {
      const status = ur.statusCode ?? 502;
      // Faults apply only once the registry said yes, so auth challenges (401) still pass through.
      if (blob && status === 200 && opts.redirectBlobs) {
        ur.destroy();
        repoOfDigest.set(blob[2]!, blob[1]!);
        res.writeHead(307, {
          location: `http://localhost:${storagePort}/storage/${blob[2]}?X-Amz-Signature=abc`,
          'content-length': '0', 'docker-distribution-api-version': 'registry/2.0',
        });
        res.end();
        return;
      }
      if (schema1 && status !== 401) {
        ur.destroy();
        const body = schema1Body(manifest![1]!, decodeURIComponent(manifest![2]!));
        res.writeHead(200, {
          'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws',
          'content-length': String(body.length),
          'docker-content-digest': `sha256:${createHash('sha256').update(body).digest('hex')}`,
          'docker-distribution-api-version': 'registry/2.0',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      res.writeHead(status, ur.headers);
      const corrupt = blob && status === 200 && opts.corruptBlobs;
      const trickle = blob && status === 200 && opts.trickleBlobs;
      const len = Number(ur.headers['content-length']) || undefined;
      const through = corrupt ? corrupter(len) : trickle ? trickler(trickle.bytes, trickle.everyMs) : undefined;
      (through ? pipeline(ur, through, res) : pipeline(ur, res)).catch(() => res.destroy());
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy error: ${err.message}`);
    });
    req.pipe(up);
  };

  // The "object storage" origin: different host name AND port. Like S3 with a presigned URL, it
  // refuses requests that also carry Authorization, and it records headers so tests can assert.
  const onStorage = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '/';
    offOrigin.push({ method: req.method ?? 'GET', path, headers: req.headers });
    const digest = /^\/storage\/(sha256:[0-9a-f]{64})/.exec(path)?.[1];
    const repo = digest ? repoOfDigest.get(digest) : undefined;
    if (req.headers.authorization) {
      res.writeHead(400, { 'content-type': 'application/xml' });
      res.end('<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>');
      return;
    }
    if (!digest || !repo) {
      res.writeHead(404).end();
      return;
    }
    void (async () => {
      const up = await registryRequest(target, 'GET', `/v2/${repo}/blobs/${digest}`, { repo });
      const len = Number(up.headers['content-length']) || undefined;
      res.writeHead(up.statusCode, { 'content-type': 'application/octet-stream', ...(len ? { 'content-length': String(len) } : {}) });
      if (req.method === 'HEAD') {
        await up.body.dump();
        res.end();
        return;
      }
      const corrupt = opts.corruptBlobs && up.statusCode === 200;
      await (corrupt ? pipeline(up.body, corrupter(len), res) : pipeline(up.body, res));
    })().catch(() => res.destroy());
  };

  const proxy = createServer(onRequest);
  const sockets = { accepted: 0, open: 0, peak: 0 };
  proxy.on('connection', (socket) => {
    sockets.accepted++;
    sockets.peak = Math.max(sockets.peak, ++sockets.open);
    socket.once('close', () => sockets.open--);
  });
  const storage = createServer(onStorage);
  const storage6 = createServer(onStorage);
  const port = await listen(proxy, '127.0.0.1');
  storagePort = await listen(storage, '127.0.0.1');
  // 'localhost' may resolve to ::1 on some hosts; serve there too when IPv6 is available.
  const has6 = await listen(storage6, '::1', storagePort).then(() => true, () => false);

  const servers = has6 ? [proxy, storage, storage6] : [proxy, storage];
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
  return { host: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}`, requests, offOrigin, sockets, options: opts, stop };
}
