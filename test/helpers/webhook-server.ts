// A Slack-compatible incoming webhook stand-in on 127.0.0.1: records each POST's path and JSON body
// and answers `status` (200 by default; 500 or a 302 to show a failed delivery). Its URL carries a
// secret-looking path, as Slack's does, so tests can check that no output ever quotes it.
import { createServer } from 'node:http';
import { listenTracked } from './cleanup.js';

export interface WebhookPost {
  path: string;
  contentType: string;
  body: { text?: string; blocks?: unknown[] };
}

export interface WebhookServerHandle {
  /** http://127.0.0.1:PORT/services/T000/B000/<secret> */
  url: string;
  /** The secret part of the URL (to look for in output). */
  secret: string;
  posts: WebhookPost[];
  status: number;
  stop(): Promise<void>;
}

export async function startWebhookServer(opts: { status?: number } = {}): Promise<WebhookServerHandle> {
  const secret = `hooksecret${Math.random().toString(36).slice(2, 12)}`;
  const handle = { posts: [] as WebhookPost[], status: opts.status ?? 200 } as WebhookServerHandle;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: WebhookPost['body'] = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString()) as WebhookPost['body'];
      } catch {
        // recorded as empty: the test sees it
      }
      handle.posts.push({ path: req.url ?? '', contentType: String(req.headers['content-type'] ?? ''), body });
      res.writeHead(handle.status, handle.status >= 300 && handle.status < 400 ? { location: `http://127.0.0.1:1/elsewhere` } : { 'content-type': 'text/plain' });
      res.end(handle.status === 200 ? 'ok' : 'no');
    });
  });
  const { port, stop } = await listenTracked(server);
  return Object.assign(handle, { url: `http://127.0.0.1:${port}/services/T000/B000/${secret}`, secret, stop });
}
