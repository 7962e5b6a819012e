// Issue 13 item 5: masking must not eat image names. A key word inside a reference
// (`traefik-forward-auth:2.2`, `acme/oauth:3`) or after a scheme word in prose ("SWR Basic
// destinations") is not a credential; real keys and credentials are still masked; the outcome and
// failure log lines keep their sources and destinations; a valid message reaches a DLQ byte for byte.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MASK, maskSecretText, maskSecrets } from '../../lib/secrets.js';
import { createLogger } from '../../lib/log.js';
import { logOutcome } from '../../lib/lambda/copier-env.js';
import { handleMessage, type CopierDeps, type ImageOutcome } from '../../lib/pipeline/copier.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { deadLetterBody } from '../../lib/queue/letters.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { createCopyContext } from '../../lib/copy/context.js';
import type { ClientPool } from '../../lib/registry/pool.js';
import type { RegistryClient } from '../../lib/registry/types.js';

const NAMES = ['thomseddon/traefik-forward-auth:2.2', 'acme/oauth:3', 'registry/jwt-token:v1.4.0', 'x/password-manager:1', 'team/secret-store:v2'];

describe('names and prose pass through maskSecretText unchanged', () => {
  const texts = [
    ...NAMES,
    ...NAMES.map((n) => `docker.io/${n}`),
    ...NAMES.map((n) => `manifest unknown: ${n} (copying ${n} -> swr.example/m/${n.split('/')[1]})`),
    'traefik-forward-auth:2.2',
    'oauth:3',
    'jwt-token:v1.4.0',
    'SWR Basic destinations',
    'SWR Basic Edition has no quota API',
    'unauthorized: authentication required',
    'Www-Authenticate: Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull"',
    'Basic realm="Registry Realm"',
    'auth.docker.io:443',
  ];
  for (const text of texts) test(text, () => assert.equal(maskSecretText(text), text));
});

describe('keys and credentials are still masked', () => {
  const cases: [string, string][] = [
    ['password=hunter2', `password=${MASK}`],
    ['"token": "abc"', `"token": "${MASK}"`],
    ['Authorization: Bearer x', `Authorization: Bearer ${MASK}`],
    ['auth: xyz', `auth: ${MASK}`],
    ['line one\nauth: xyz', `line one\nauth: ${MASK}`],
    ['a auth: xyz', `a auth: ${MASK}`],
    ['"auth":"xyz"', `"auth":"${MASK}"`],
    ["'auth': xyz", `'auth': ${MASK}`],
    ['{auth: xyz}', `{auth: ${MASK}}`],
    ['a,auth: xyz', `a,auth: ${MASK}`],
    ['a;auth:xyz', `a;auth:${MASK}`],
    ['a&auth=xyz', `a&auth=${MASK}`],
    ['?auth=xyz', `?auth=${MASK}`],
    ['auth:xyz', `auth:${MASK}`],
    ['X-Registry-Auth: abcdef', `X-Registry-Auth: ${MASK}`],
    ['"clientSecret": "abc"', `"clientSecret": "${MASK}"`],
    ['registryAuth=abc', `registryAuth=${MASK}`],
    ['aws_secret_access_key=AKIAabc', `aws_secret_access_key=${MASK}`],
    ['Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc', `Bearer ${MASK}`],
    ['retry with Basic Ym9iOkh1bnRlcjI= now', `retry with Basic ${MASK} now`],
    ['"Basic YWJjZGVmZ2g="', `"Basic ${MASK}"`],
    ['proxy-authorization: basic abc', `proxy-authorization: basic ${MASK}`],
  ];
  for (const [input, expected] of cases) {
    test(input, () => {
      assert.equal(maskSecretText(input), expected);
      assert.equal(maskSecretText(expected), expected, 'idempotent');
    });
  }
});

describe('log lines keep sources and destinations', () => {
  const capture = () => {
    const lines: string[] = [];
    return { lines, logger: createLogger('info', { write: (s: string) => void lines.push(s) }) };
  };

  test('the Lambda copier outcome line (logOutcome)', () => {
    const { lines, logger } = capture();
    for (const name of NAMES) {
      const outcome: ImageOutcome = { body: '', kind: 'copy-image', source: `docker.io/${name}`, destination: `swr.example/m/${name.split('/')[1]}`, status: 'copied', bytes: 1, durationMs: 1, attempt: 1 };
      logOutcome(logger, outcome);
    }
    assert.equal(lines.length, NAMES.length);
    for (const [i, name] of NAMES.entries()) {
      const line = JSON.parse(lines[i]!) as { source: string; destination: string; msg: string };
      assert.equal(line.source, `docker.io/${name}`);
      assert.equal(line.destination, `swr.example/m/${name.split('/')[1]}`);
      assert.equal(line.msg, 'image copied');
    }
  });

  test("the copier's failure line, and the dead letter it writes byte for byte", async () => {
    const { lines, logger } = capture();
    const client = { registry: 'r.io', manifestHead: async () => undefined } as unknown as RegistryClient;
    const pool = { client: () => client, access: () => ({}) } as unknown as ClientPool;
    const dlq = new InMemoryDeadLetterStore();
    const queue = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 1, dlq });
    const deps: CopierDeps = { queue, pool, ctx: createCopyContext(), maxReceiveCount: 1, list: async () => [], logger };
    const source = 'r.io/thomseddon/traefik-forward-auth:2.2';
    const destination = 'd.io/mirror/traefik-forward-auth:2.2';
    const body = encodeMessage({ v: 1, kind: 'copy-image', source, destination });
    await queue.send([body]);
    const [msg] = await queue.receive(1, 0);
    await handleMessage(msg!, deps);
    const failed = lines.map((l) => JSON.parse(l) as { msg: string; source: string; destination: string; err: string }).find((l) => l.msg === 'image failed, sent to the DLQ');
    assert.ok(failed, lines.join('\n'));
    assert.equal(failed.source, source);
    assert.equal(failed.destination, destination);
    assert.doesNotMatch(lines.join('\n'), /\[redacted\]/);
    assert.deepEqual((await dlq.list()).map((l) => l.body), [body]);
  });

  test('a reference under source/destination is kept even where text masking would take it for a key', () => {
    // A registry host named like a key word, with a port: `secret:5000` reads as `key:value` in text.
    const ref = 'secret:5000/app/web:1';
    assert.notEqual(maskSecretText(ref), ref);
    assert.deepEqual(maskSecrets({ source: ref, destination: `token:443/m/web:1, ${ref}`, note: ref }), {
      source: ref,
      destination: `token:443/m/web:1, ${ref}`,
      note: maskSecretText(ref),
    });
    // Not a reference: masked as text, as before.
    assert.equal((maskSecrets({ source: 'https://u:pw@h/x' }) as { source: string }).source, `https://${MASK}@h/x`);
  });
});

describe('deadLetterBody', () => {
  test('a valid message is kept byte for byte; anything else is masked', () => {
    for (const name of NAMES) {
      const body = encodeMessage({ v: 1, kind: 'copy-image', source: `docker.io/${name}`, destination: `swr.example/m/${name.split('/')[1]}`, origin: 'auth: team rule' });
      assert.equal(deadLetterBody(body), body);
    }
    const spaced = '{ "v": 1, "kind": "expand-repository", "source": "r.io/acme/oauth", "destinations": ["d.io/m"] }';
    assert.equal(deadLetterBody(spaced), spaced);
    const invalid = JSON.stringify({ v: 1, kind: 'copy-image', source: 'r.io/acme/oauth:3', destination: 'd.io/m/oauth:3', password: 'Hunter2-s3cr3t' });
    assert.equal(deadLetterBody(invalid), JSON.stringify({ v: 1, kind: 'copy-image', source: 'r.io/acme/oauth:3', destination: 'd.io/m/oauth:3', password: MASK }));
    assert.equal(deadLetterBody('token=Hunter2 not json'), `token=${MASK} not json`);
  });
});
