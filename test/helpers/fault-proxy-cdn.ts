// The fault proxy's second origin, the "CDN" blob GETs are redirected to (like Docker Hub -> its CDN,
// ECR -> S3). It serves the blob from the registry and faults as the registry side does (503, reset,
// cut body). Like S3 with a presigned URL, it refuses any request that also carries Authorization
// (400 InvalidArgument): the credentials were meant for the registry, not for it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { registryRequest } from './client.js';
import type { RouteInfo } from './fault-proxy-plan.js';
import { type FaultCore, answer, reset, sendCut } from './fault-proxy-wire.js';
import type { RegistryHandle } from './registry.js';

const XML = { 'content-type': 'application/xml' };
const S3_AUTH = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; '
  + 'only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified</Message></Error>';
const S3_SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';
const S3_NO_KEY = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>';

/** Where the registry side redirects a blob GET: a presigned-looking URL on the CDN origin. */
export function cdnLocation(origin: string, repository: string, digest: string, signature: string): string {
  return `${origin}/blobs/${digest}?repo=${encodeURIComponent(repository)}&X-Amz-Expires=300&X-Amz-Signature=${signature}`;
}

export function cdnHandler(target: RegistryHandle, core: FaultCore): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const at = Date.now();
    const url = new URL(path, 'http://cdn');
    const digest = /^\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname)?.[1];
    const repository = url.searchParams.get('repo') ?? undefined;
    const blob = digest !== undefined && repository !== undefined && (method === 'GET' || method === 'HEAD');
    const info: RouteInfo = blob ? { route: method === 'GET' ? 'blob-get' : 'blob-head', repository, ref: digest } : { route: 'other' };
    const record = core.recorder('cdn', method, path, info, at);
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    if (req.headers.authorization !== undefined) {
      record(400, 'none', 'authorization');
      return answer(req, res, 400, XML, S3_AUTH);
    }
    if (!blob) {
      record(404, 'none');
      return answer(req, res, 404, XML, S3_NO_KEY);
    }
    const decision = core.choose('cdn', method, info, path);
    if (decision.kind === '503') {
      record(503, '503');
      return answer(req, res, 503, XML, S3_SLOW_DOWN);
    }
    if (decision.kind === 'reset') {
      record(0, 'reset');
      return reset(req.socket);
    }
    core.busy++;
    void (async () => {
      const up = await registryRequest(target, 'GET', `/v2/${repository}/blobs/${digest}`, { repo: repository });
      const length = up.headers['content-length'] === undefined ? undefined : Number(up.headers['content-length']);
      res.writeHead(up.statusCode, { 'content-type': 'application/octet-stream', ...(length !== undefined ? { 'content-length': String(length) } : {}) });
      if (method === 'HEAD') {
        record(up.statusCode, 'none');
        await up.body.dump();
        return void res.end();
      }
      const cut = decision.kind === 'cut-body' && up.statusCode === 200 && length !== 0;
      record(up.statusCode, cut ? 'cut-body' : 'none');
      await (cut ? sendCut(up.body, res, length, decision.cut) : pipeline(up.body, res));
    })()
      .catch(() => res.destroy())
      .finally(() => core.busy--);
  };
}
