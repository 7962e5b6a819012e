// SWR's token endpoint, as an HTTP stand-in on 127.0.0.1: its challenge names the repository with an
// EMPTY action list (`repository:org/repo:`), and a token request for an organization that does not
// exist is refused with 401, the same status as a wrong password. The destination client must ask
// for pull,push explicitly (never echo the challenge's scope) and explain the 401 as the organization.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { listenTracked, stopAllTracked } from '../helpers/cleanup.js';
import { ClientPool, type RegistryAccess } from '../../lib/registry/pool.js';
import { AuthError } from '../../lib/errors.js';
import type { SwrAccess } from '../../lib/vendors/swr/config.js';

const orgs = new Set(['team']);
const tokenScopes: string[][] = [];
let host = '';

before(async () => {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/swr/auth/v2/registry/token/') {
      const scopes = url.searchParams.getAll('scope');
      tokenScopes.push(scopes);
      const org = /^repository:([^/]+)\//.exec(scopes[0] ?? '')?.[1];
      if (!org || !orgs.has(org)) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'tok', expires_in: 300 }));
      return;
    }
    if (req.headers.authorization !== 'Bearer tok') {
      const repo = /^\/v2\/(.+)\/manifests\//.exec(url.pathname)?.[1] ?? '';
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${host}/swr/auth/v2/registry/token/",service="dockyard",scope="repository:${repo}:"`,
        'content-type': 'application/json',
      }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
  });
  const { port } = await listenTracked(server);
  host = `127.0.0.1:${port}`;
});
after(stopAllTracked);

const swr = (keys?: boolean): SwrAccess => {
  const s: SwrAccess = { edition: 'basic', convertToDocker: true, project: 'cn-north-4', pushConcurrency: 20, pushRate: 20 };
  if (keys) Object.defineProperty(s, 'keys', { value: { accessKey: 'AK', secretKey: 'SK' }, enumerable: false });
  return s;
};
const pool = (access: RegistryAccess) => new ClientPool({ resolve: () => access, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });

test('an SWR challenge with an empty action list still gets a pull,push token request for a destination', async () => {
  const p = pool({ insecure: true, credentials: { username: 'cn-north-4@AK', password: 'x' }, swr: swr() });
  try {
    tokenScopes.length = 0;
    assert.equal(await p.client(host, 'team/app', 'destination').manifestHead('team/app', 'v1'), undefined);
    assert.deepEqual(tokenScopes, [['repository:team/app:pull,push']]);
    // A source asks pull only, whatever the challenge says.
    assert.equal(await p.client(host, 'team/app', 'source').manifestHead('team/app', 'v1'), undefined);
    assert.deepEqual(tokenScopes[1], ['repository:team/app:pull']);
  } finally {
    await p.close();
  }
});

test('a token 401 for a missing organization names the organization, not the password', async () => {
  const p = pool({ insecure: true, credentials: { username: 'u', password: 'p' }, swr: swr() });
  try {
    await assert.rejects(p.client(host, 'ghost/app', 'destination').manifestHead('ghost/app', 'v1'), (err: unknown) => {
      assert.ok(err instanceof AuthError);
      assert.match(err.message, /refused a push to ghost\/app: the organization "ghost" may not exist or this login cannot push to it \(swr-migrate creates organizations when accessKey\/secretKey are configured\), or the login is wrong$/);
      assert.doesNotMatch(err.message, /--auth/);
      return true;
    });
  } finally {
    await p.close();
  }
});

test('with a derived login the token 401 also points at the keys and project', async () => {
  const p = pool({ insecure: true, credentials: { username: 'cn-north-4@AK', password: 'p' }, swr: swr(true) });
  try {
    await assert.rejects(p.client(host, 'ghost/app', 'destination').manifestHead('ghost/app', 'v1'),
      /"ghost" may not exist .*or SWR refused the login derived from accessKey\/secretKey \(check the keys and project "cn-north-4"\)/);
  } finally {
    await p.close();
  }
});

test('a registry that is not SWR keeps the generic message', async () => {
  const p = pool({ insecure: true, credentials: { username: 'u', password: 'p' } });
  try {
    await assert.rejects(p.client(host, 'ghost/app', 'destination').manifestHead('ghost/app', 'v1'), /the token server refused the credentials\); check the credentials for /);
  } finally {
    await p.close();
  }
});

test('a refusal names the file and flag the credentials came from (issue 13), never a flag the user did not give', async () => {
  const from = { file: 'sync.yaml', flag: '--config', entry: host };
  const p = pool({ insecure: true, credentials: { username: 'robot', password: 'pw-canary-13' }, credentialsFrom: from });
  try {
    await assert.rejects(p.client(host, 'ghost/app', 'destination').manifestHead('ghost/app', 'v1'), (e: Error) => {
      assert.ok(e.message.endsWith(`the token server refused the credentials); check the credentials for ${host} in sync.yaml (--config)`), e.message);
      assert.doesNotMatch(e.message, /--auth|pw-canary-13/);
      return true;
    });
  } finally {
    await p.close();
  }
});
