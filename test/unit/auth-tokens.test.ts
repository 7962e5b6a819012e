// Token caching per scope set (distribution docs/spec/auth/token.md), with a fake token endpoint.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { HostAuth } from '../../lib/registry/auth/auth.js';
import { AuthError } from '../../lib/errors.js';

function tokenServer(status = 200, expiresIn?: number) {
  const seen: { path: string; authorization?: string }[] = [];
  const dispatcher = {
    request: async (opts: { path: string; headers: Record<string, string> }) => {
      seen.push({ path: opts.path, authorization: opts.headers.authorization });
      await new Promise((r) => setTimeout(r, 5));
      const body = JSON.stringify({ token: `t${seen.length}`, ...(expiresIn ? { expires_in: expiresIn } : {}), issued_at: '1999-01-01T00:00:00Z' });
      const stream = Readable.from([Buffer.from(body)]) as Readable & { json: () => Promise<unknown>; dump: () => Promise<void> };
      stream.json = async () => JSON.parse(body);
      stream.dump = async () => undefined;
      return { statusCode: status, headers: {}, body: stream };
    },
  } as unknown as Dispatcher;
  return { dispatcher, seen };
}

const challenge = { scheme: 'bearer', params: { realm: 'https://auth.reg.example/token', service: 'reg' } };
const pull = { repository: 'a/b', actions: ['pull'] };

describe('bearer tokens', () => {
  test('one request per scope set, shared by concurrent callers, cached until expiry', async () => {
    let now = 1_000_000;
    const { dispatcher, seen } = tokenServer(200, 300);
    const auth = new HostAuth('reg.example', dispatcher, { username: 'u', password: 'p' }, () => now);
    auth.learn(challenge);
    const [h1, h2] = await Promise.all([auth.header(pull), auth.header(pull)]);
    assert.equal(h1, 'Bearer t1');
    assert.equal(h2, 'Bearer t1');
    assert.equal(seen.length, 1);
    assert.match(seen[0]!.path, /service=reg&scope=repository%3Aa%2Fb%3Apull$/);
    assert.match(seen[0]!.authorization ?? '', /^Basic /);
    // A server clock far behind ours (issued_at in 1999) does not make the token look expired.
    now += 200_000;
    assert.equal(await auth.header(pull), 'Bearer t1');
    // Another scope set is another token; a mount asks for both repositories at once.
    await auth.header({ repository: 'a/b', actions: ['pull', 'push'], extra: [{ repository: 'c/d', actions: ['pull'] }] });
    assert.match(seen[1]!.path, /scope=repository%3Aa%2Fb%3Apull%2Cpush&scope=repository%3Ac%2Fd%3Apull/);
    // Past expiry minus the margin: fetched again.
    now += 80_000;
    assert.equal(await auth.header(pull), 'Bearer t3');
  });
  test('60 s when the server gives no expires_in; invalidate forces a new token', async () => {
    let now = 0;
    const { dispatcher, seen } = tokenServer(200);
    const auth = new HostAuth('reg.example', dispatcher, undefined, () => now);
    auth.learn(challenge);
    await auth.header(pull);
    now += 29_000;
    await auth.header(pull);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.authorization, undefined, 'anonymous pulls send no credentials');
    now += 2_000;
    await auth.header(pull);
    assert.equal(seen.length, 2);
    auth.invalidate(pull);
    await auth.header(pull);
    assert.equal(seen.length, 3);
  });
  test('a refused token request is an authentication failure naming the host', async () => {
    const { dispatcher } = tokenServer(401);
    const auth = new HostAuth('reg.example', dispatcher, { username: 'u', password: 'bad' });
    auth.learn(challenge);
    await assert.rejects(auth.header(pull), (e: unknown) => e instanceof AuthError && /authentication failed for reg\.example/.test(e.message));
  });
  test('Basic: credentials required, sent as given', async () => {
    const { dispatcher } = tokenServer();
    const anon = new HostAuth('reg.example', dispatcher, undefined);
    anon.learn({ scheme: 'basic', params: { realm: 'r' } });
    await assert.rejects(anon.header(pull), AuthError);
    const basic = new HostAuth('reg.example', dispatcher, { username: 'u', password: 'p' });
    basic.learn({ scheme: 'basic', params: { realm: 'r' } });
    assert.equal(await basic.header(pull), `Basic ${Buffer.from('u:p').toString('base64')}`);
  });
});
