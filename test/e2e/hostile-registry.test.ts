// The CLI against hostile registries on 127.0.0.x: refusals reach the user as one line naming the
// host, the code lands in the DLQ, and `tokenRealms` in the native config reaches the client.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopAllTracked } from '../helpers/cleanup.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { json, startHostile } from '../helpers/hostile-server.js';
import { runCli } from '../helpers/run-cli.js';

after(stopAllTracked);

const config = (dir: string, source: string, registries: Record<string, object>): string =>
  writeFile(dir, `c-${Math.random().toString(36).slice(2)}.json`, {
    version: 1,
    registries,
    rules: [{ source: `${source}/app`, destination: '127.0.0.1:9/mirror' }],
  });

function assertOneLine(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at /, 'stack trace printed');
  assert.doesNotMatch(stderr.replace(/\n/g, ''), /[\u0000-\u001f\u007f]/, 'control characters reached the terminal');
}

describe('CLI against hostile registries', () => {
  test('plan: a realm on 127.0.0.2 is refused until listed in tokenRealms', async () => {
    const realm = await startHostile((_req, res) => json(res, 200, { token: 'good' }), '127.0.0.2');
    const reg = await startHostile((req, res) => {
      if (req.headers.authorization !== 'Bearer good') {
        json(res, 401, {}, { 'www-authenticate': `Bearer realm="${realm.url}/token",service="s"` });
        return;
      }
      json(res, 200, { name: 'app', tags: ['v1', 'v2'] });
    });
    const dir = tempDir();
    const refused = await runCli(['plan', '--config', config(dir, reg.host, { [reg.host]: { insecure: true, username: 'u', password: 'secret-pw' } })]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`registry ${reg.host} sent token realm http://${realm.host}/token, which is not trusted`));
    assert.doesNotMatch(refused.stderr, /secret-pw/);
    assertOneLine(refused.stderr);
    assert.equal(realm.requests.length, 0);

    const listed = await runCli(['plan', '--config', config(dir, reg.host, { [reg.host]: { insecure: true, username: 'u', password: 'secret-pw', tokenRealms: [`http://${realm.host}/token`] } })]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${reg.host}/app:v1 -> 127.0.0.1:9/mirror/app:v1`));
    assert.equal(realm.requests.length, 1);
  });

  test('sync: a Link loop fails the rule with SWRM_PAGINATION in the DLQ, and control characters never reach stderr', async () => {
    const reg = await startHostile((req, res) => {
      const second = req.url?.includes('last=');
      json(res, 200, { name: 'app', tags: second ? ['b'] : ['a'] }, { link: `</v2/app/tags/list?${second ? 'n=1000' : 'last=a&n=1000'}>; rel="next"` });
    });
    const evil = await startHostile((_req, res) => json(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'gone\u001b[2J\u001b]0;owned\u0007\nswr-migrate: all good' }] }));
    const dir = tempDir();
    const dlq = join(dir, 'dlq.jsonl');
    const file = writeFile(dir, 'c.json', {
      version: 1,
      registries: { [reg.host]: { insecure: true }, [evil.host]: { insecure: true } },
      rules: [
        { source: `${reg.host}/app`, destination: '127.0.0.1:9/mirror' },
        { source: `${evil.host}/app`, destination: '127.0.0.1:9/mirror' },
      ],
    });
    const r = await runCli(['sync', '--config', file, '--dlq', dlq, '--retries', '0']);
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(r.stderr);
    assert.ok(existsSync(dlq));
    const letters = readFileSync(dlq, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { reason: { code: string; message: string } });
    const codes = letters.map((l) => l.reason.code).sort();
    assert.deepEqual(codes, ['NAME_UNKNOWN', 'SWRM_PAGINATION']);
    for (const l of letters) assert.doesNotMatch(l.reason.message, /[\u0000-\u001f\u007f]/);
    assert.match(letters.find((l) => l.reason.code === 'SWRM_PAGINATION')!.reason.message, new RegExp(`on ${reg.host}: the Link header loops back`));
  });
});
