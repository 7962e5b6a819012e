// Issue 6 item 6: no credential in any output. The masking module on its own, the logger built on
// it, an invalid queue body on its way to the DLQ, and docker config.json syntax errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MASK, maskBody, maskSecretText, maskSecrets } from '../../lib/secrets.js';
import { createLogger } from '../../lib/log.js';
import { handleMessage, type CopierDeps } from '../../lib/pipeline/copier.js';
import { EmbeddedQueue } from '../../lib/queue/embedded.js';
import { InMemoryDeadLetterStore } from '../../lib/queue/dlq-file.js';
import { createCopyContext } from '../../lib/copy/context.js';
import { decodeMessage } from '../../lib/queue/messages.js';
import { runReplay } from '../../lib/pipeline/replay.js';
import { DEFAULTS } from '../../lib/config/types.js';
import { parseNativeConfig } from '../../lib/config/native.js';
import type { ClientPool } from '../../lib/registry/pool.js';
import { problemsOf } from '../helpers/config-problems.js';

const SECRET = 'Hunter2-s3cr3t';

describe('maskSecretText', () => {
  const cases: [string, string][] = [
    [`https://bob:${SECRET}@registry.example/v2/`, `https://${MASK}@registry.example/v2/`],
    [`git+ssh://${SECRET}@host/x`, `git+ssh://${MASK}@host/x`],
    [`Authorization: Bearer ${SECRET}`, `Authorization: Bearer ${MASK}`],
    [`authorization: basic Ym9iOkh1bnRlcjI=`, `authorization: basic ${MASK}`],
    [`https://s3.example/b?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=${SECRET}&x=1`, `https://s3.example/b?X-Amz-Credential=${MASK}&X-Amz-Signature=${MASK}&x=1`],
    [`https://blob.core/x?sv=1&sig=${SECRET}`, `https://blob.core/x?sv=1&sig=${MASK}`],
    [`https://cdn/x?Signature=${SECRET}&Expires=1`, `https://cdn/x?Signature=${MASK}&Expires=1`],
    [`https://r/token?TOKEN=${SECRET}`, `https://r/token?TOKEN=${MASK}`],
    [`password=${SECRET} user=bob`, `password=${MASK} user=bob`],
    [`{"Password": "${SECRET}", "user": "bob"}`, `{"Password": "${MASK}", "user": "bob"}`],
    // An excerpt cut in the middle of a quoted secret still hides what is left of it.
    [`{"password":"${SECRET.slice(0, 5)}`, `{"password":"${MASK}"`],
    ['nothing secret here: docker.io/library/alpine:3', 'nothing secret here: docker.io/library/alpine:3'],
    // Found by secrets.property.test.ts: masking the query gave the rest the shape of userinfo.
    ['https://X-Amz-Signature=<&@', `https://${MASK}@`],
  ];
  for (const [input, expected] of cases) {
    test(input, () => {
      assert.equal(maskSecretText(input), expected);
      assert.equal(maskSecretText(expected), expected, 'masking is idempotent');
    });
  }
});

describe('maskSecrets (objects)', () => {
  test('keys match in any case at any depth; strings are masked by shape; the input is not changed', () => {
    const input = {
      headers: { AUTHORIZATION: `Bearer ${SECRET}`, 'X-Registry-Auth': SECRET, accept: '*/*' },
      list: [{ clientSecret: SECRET }, { creds: { Passwd: SECRET } }],
      url: `https://u:${SECRET}@h/`,
      nToken: 3,
      empty: { password: '' },
    };
    const out = maskSecrets(input);
    assert.deepEqual(out, {
      headers: { AUTHORIZATION: MASK, 'X-Registry-Auth': MASK, accept: '*/*' },
      list: [{ clientSecret: MASK }, { creds: { Passwd: MASK } }],
      url: `https://${MASK}@h/`,
      nToken: MASK,
      empty: { password: '' },
    });
    assert.equal(input.headers.AUTHORIZATION, `Bearer ${SECRET}`);
  });
  test('cycles, depth and width are bounded', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assert.deepEqual(maskSecrets(cyclic), { a: 1, self: '[circular]' });
    let deep: Record<string, unknown> = { password: SECRET };
    for (let i = 0; i < 50; i++) deep = { d: deep };
    assert.doesNotMatch(JSON.stringify(maskSecrets(deep)), new RegExp(SECRET));
    const wide = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
    assert.ok(Object.keys(maskSecrets(wide)).length <= 201);
  });
  test('errors keep name and code, with message and stack masked', () => {
    const cause = new Error(`connect failed, Authorization: Bearer ${SECRET}`);
    const err = Object.assign(new Error(`GET https://u:${SECRET}@h/ failed`, { cause }), { code: 'E1' });
    const out = maskSecrets({ err }).err as unknown as Record<string, unknown>;
    assert.equal(out.name, 'Error');
    assert.equal(out.code, 'E1');
    assert.equal((out.cause as { message: string }).message, `connect failed, Authorization: Bearer ${MASK}`);
    assert.doesNotMatch(`${String(out.message)} ${String(out.stack)}`, new RegExp(SECRET));
  });
  test('a JSON __proto__ key stays a key', () => {
    const out = maskSecrets(JSON.parse(`{"__proto__": {"password": "${SECRET}"}}`) as object);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal(JSON.stringify(out), `{"__proto__":{"password":"${MASK}"}}`);
  });
});

describe('logger', () => {
  test('objects, child bindings, errors and the message are masked, whatever the case of the key', () => {
    const lines: string[] = [];
    const log = createLogger('trace', { write: (s: string) => void lines.push(s) });
    const child = log.child({ Password: SECRET }).child({ url: `http://u:${SECRET}@h` });
    child.info({ req: { headers: { Authorization: `Basic ${SECRET}` } }, err: new Error(`token=${SECRET}`) }, `GET https://s3/x?X-Amz-Signature=${SECRET}`);
    child.error('printf %s', `Bearer ${SECRET}`);
    // Without a message pino would copy the error's message into `msg` unmasked.
    log.error(new Error(`GET https://u:${SECRET}@h/ failed`));
    log.error({ err: new Error(`token=${SECRET}`) });
    assert.equal(lines.length, 4);
    assert.equal((JSON.parse(lines[2]!) as { msg: string }).msg, `GET https://${MASK}@h/ failed`);
    for (const line of lines) assert.doesNotMatch(line, new RegExp(SECRET), line);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(first.Password, MASK);
    assert.equal((first.req as { headers: Record<string, string> }).headers.Authorization, MASK);
    assert.equal(first.msg, `GET https://s3/x?X-Amz-Signature=${MASK}`);
  });
});

describe('DLQ bodies', () => {
  test('maskBody: JSON keeps its shape with secret values masked; other text by shape; clean bodies are unchanged', () => {
    const json = JSON.stringify({ v: 1, kind: 'copy-image', source: 'a', destination: 'b', auth: { password: SECRET, user: 'u' } });
    assert.equal(maskBody(json), JSON.stringify({ v: 1, kind: 'copy-image', source: 'a', destination: 'b', auth: MASK }));
    assert.equal(maskBody(`user=bob password=${SECRET}`), `user=bob password=${MASK}`);
    const clean = '{ "v": 1,  "kind": "copy-image" }';
    assert.equal(maskBody(clean), clean, 'byte for byte, so replay matches it');
    assert.equal(maskBody(maskBody(json)), maskBody(json));
  });

  test('an invalid message is dead-lettered with its secrets masked, and the reason does not quote them', async () => {
    const dlq = new InMemoryDeadLetterStore();
    const queue = new EmbeddedQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 3, dlq });
    const deps: CopierDeps = {
      queue,
      pool: { client: () => assert.fail('no copy for an invalid message') } as unknown as ClientPool,
      ctx: createCopyContext(),
      maxReceiveCount: 3,
      list: async () => [],
    };
    const bodies = [
      JSON.stringify({ v: 1, kind: 'copy-image', source: 'r.io/a:1', destination: 'd.io/a:1', registryPassword: SECRET }),
      `password=${SECRET} is not JSON`,
      `{"kind":"copy-image","token":"${SECRET}`,
    ];
    await queue.send(bodies);
    for (const m of await queue.receive(3, 0)) await handleMessage(m, deps);
    const letters = await dlq.list();
    assert.equal(letters.length, 3);
    for (const l of letters) {
      assert.equal(l.reason.code, 'SWRM_INVALID_MESSAGE');
      assert.doesNotMatch(JSON.stringify(l), new RegExp(SECRET), JSON.stringify(l));
    }
    assert.match(letters.map((l) => l.body).join('\n'), /"registryPassword":"\[redacted\]"/);
  });

  test('replay replaces an invalid letter that holds a secret by its masked copy, once', async () => {
    const dlq = new InMemoryDeadLetterStore();
    const raw = JSON.stringify({ v: 1, kind: 'copy-image', source: 'r.io/a:1', destination: 'd.io/a:1', password: SECRET });
    await dlq.add({ id: 'old', body: raw, receiveCount: 1, reason: { code: 'X', message: 'seeded' }, at: new Date().toISOString() });
    const config = { source: 'test', defaults: { ...DEFAULTS }, registries: [], resolve: () => ({}), rules: [] };
    for (let round = 1; round <= 2; round++) {
      const run = await runReplay({ config, proc: 1, retries: 0, dlq });
      assert.equal(run.remaining, 1, `round ${round}: one letter, not the raw one and its masked copy`);
      const [letter] = await dlq.list();
      assert.equal(letter?.body, maskBody(raw));
      assert.equal(letter?.reason.code, 'SWRM_INVALID_MESSAGE');
    }
  });

  test('decodeMessage: the excerpt of a non-JSON body is masked', () => {
    assert.throws(() => decodeMessage(`Authorization: Bearer ${SECRET}`), (e: Error) => !e.message.includes(SECRET) && /not JSON/.test(e.message));
  });
});

describe('docker config.json', () => {
  test('a syntax error names the file and where, never the text around it (it holds `auth`)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swrm-secrets-'));
    try {
      const auth = Buffer.from(`bob:${SECRET}`).toString('base64');
      // Single quotes: V8's message for this one quotes the text around the fault.
      writeFileSync(join(dir, 'config.json'), `{"auths": {"r.io": {"auth": '${auth}'}}}`);
      const problems = problemsOf(() =>
        parseNativeConfig({ version: 1, registries: { 'r.io': { dockerConfig: true } }, rules: [{ source: 'r.io/a', destination: 'd.io/m' }] }, 'c.yaml', {
          DOCKER_CONFIG: dir,
        }),
      );
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /registries\.r\.io\.dockerConfig: cannot read docker config .*config\.json: not valid JSON: syntax error/);
      assert.doesNotMatch(problems[0]!, new RegExp(`${auth.slice(0, 8)}|${SECRET}`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
