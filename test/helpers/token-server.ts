// A minimal Docker token-auth server (distribution docs/spec/auth/token.md) for tests.
// The registry trusts a self-signed certificate (rootcertbundle) and accepts RS256 JWTs whose
// x5c header carries that same certificate; see /work/shared/REFERENCE.md section 1.
import { execFile } from 'node:child_process';
import { createSign, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { track } from './cleanup.js';

export interface TokenRequest {
  scopes: string[];
  user?: string;
  service?: string;
  status: number;
  /** POST (OAuth2, docs/spec/auth/oauth.md): the grant_type and client_id sent. */
  grant?: string;
  clientId?: string;
}

export interface TokenServerHandle {
  realm: string;
  service: string;
  issuer: string;
  /** PEM certificate the registry must list as rootcertbundle. */
  certPath: string;
  /** Every /token request seen, in order (including failed ones). */
  requests: TokenRequest[];
  stop(): Promise<void>;
}

export interface TokenServerOptions {
  service: string;
  issuer: string;
  users: Record<string, string>;
  /** OAuth2 refresh tokens (docker's identity tokens) -> the user they stand for, for POST /token. */
  refreshTokens?: Record<string, string>;
  /** Token lifetime in seconds (default 300); short values let tests exercise refresh. */
  ttl?: number;
  /** Narrow what a user gets; default grants every requested action. */
  grant?: (user: string | undefined, name: string, actions: string[]) => string[];
}

interface KeyMaterial {
  dir: string;
  certPath: string;
  keyPem: string;
  x5c: string;
}

// RSA key generation costs ~0.2-1 s on a busy machine, so do it once per process.
let keyMaterial: Promise<KeyMaterial> | undefined;

function getKeyMaterial(): Promise<KeyMaterial> {
  keyMaterial ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swrm-token-'));
    // Removed at process exit only (not by stopAll): every token registry of this process shares it.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const certPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=token', '-days', '2',
      '-keyout', keyPath, '-out', certPath,
    ]);
    const certPem = readFileSync(certPath, 'utf8');
    return {
      dir,
      certPath,
      keyPem: readFileSync(keyPath, 'utf8'),
      x5c: new X509Certificate(certPem).raw.toString('base64'),
    };
  })();
  return keyMaterial;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** Splits `type:name:actions`; the name may hold `host:port`, so cut at the first and LAST colon. */
export function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(',').filter((a) => a !== ''),
  };
}

function parseBasic(header: string | undefined): { user: string; pass: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m?.[1]) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : { user: text.slice(0, i), pass: text.slice(i + 1) };
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServerHandle> {
  const km = await getKeyMaterial();
  const ttl = opts.ttl ?? 300;
  const requests: TokenRequest[] = [];

  const sign = (claims: object): string => {
    const header = { alg: 'RS256', typ: 'JWT', x5c: [km.x5c] };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(km.keyPem);
    return `${input}.${b64url(sig)}`;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    // OAuth2 (POST): the same fields arrive as a form body.
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = req.method === 'POST' ? new URLSearchParams(Buffer.concat(chunks).toString('utf8')) : undefined;
    const params = form ?? url.searchParams;
    // Several scopes may come as repeated params or space-separated in one (both are legal).
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s);
    const service = params.get('service') || undefined;
    let creds = parseBasic(req.headers.authorization);
    const record: TokenRequest = { scopes, service, status: 200 };
    if (form) {
      record.grant = form.get('grant_type') ?? '';
      record.clientId = form.get('client_id') ?? '';
      const user = record.grant === 'refresh_token' ? opts.refreshTokens?.[form.get('refresh_token') ?? ''] : undefined;
      // A refresh token stands for its user's password here; an unknown one is refused below.
      creds = { user: user ?? '', pass: user !== undefined ? opts.users[user] ?? '' : '\0bad' };
    }
    if (creds) record.user = creds.user;
    requests.push(record);

    const reply = (status: number, body: object, headers: Record<string, string> = {}): void => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      reply(404, { errors: [{ code: 'NOT_FOUND', message: 'not found' }] });
      return;
    }
    // Bad credentials are an error; no credentials at all is an anonymous token with no access.
    if (creds && opts.users[creds.user] !== creds.pass) {
      reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] },
        { 'www-authenticate': 'Basic realm="token"' });
      return;
    }
    const access: { type: string; name: string; actions: string[] }[] = [];
    if (creds) {
      for (const s of scopes) {
        const p = parseScope(s);
        if (!p || (p.type !== 'repository' && p.type !== 'registry')) continue;
        const actions = opts.grant ? opts.grant(creds.user, p.name, p.actions) : p.actions;
        access.push({ type: p.type, name: p.name, actions });
      }
    }
    const now = Math.floor(Date.now() / 1000);
    const token = sign({
      iss: opts.issuer, sub: creds?.user ?? '', aud: service ?? opts.service,
      exp: now + ttl, nbf: now - 10, iat: now, jti: randomUUID(), access,
    });
    reply(200, { token, access_token: token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() });
  };

  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    untrack();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const untrack = track({ stop, stopSync: () => server.close() });
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service: opts.service,
    issuer: opts.issuer,
    certPath: km.certPath,
    requests,
    stop,
  };
}
