// Issue 6, item 11 (part): a registry's tag list is not trusted. A listed `x@sha256:...` would
// re-parse as a digest pin once glued to a repository; it is skipped with a warning naming the
// source and the rule, and never becomes a task. A real HTTP server on loopback serves the list
// (a real registry refuses to store such a tag, which is exactly why one that lists it is suspect).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

const PIN = `sha256:${'a'.repeat(64)}`;

describe('listed tags are validated before they become references', () => {
  let server: Server;
  let host: string;
  before(async () => {
    server = createServer((req, res) => {
      res.setHeader('Docker-Distribution-Api-Version', 'registry/2.0');
      if (req.url === '/v2/') return void res.end('{}');
      if (req.url?.startsWith('/v2/team/app/tags/list')) {
        res.setHeader('Content-Type', 'application/json');
        return void res.end(JSON.stringify({ name: 'team/app', tags: ['v1', `x@${PIN}`, '../etc', 'v2'] }));
      }
      res.statusCode = 404;
      res.end('{"errors":[{"code":"NAME_UNKNOWN","message":"unknown"}]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('plan keeps the valid tags and names the skipped ones', async () => {
    const dir = tempDir();
    const config = writeFile(
      dir,
      'sync.yaml',
      `version: 1
registries:
  "${host}": { insecure: true }
rules:
  - source: ${host}/team/app
    destination: ${host}/mirror
`,
    );
    const r = await runCli(['plan', '--config', config, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const tasks = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { source: string; destination: string });
    assert.deepEqual(tasks.map((t) => t.source), [`${host}/team/app:v1`, `${host}/team/app:v2`]);
    assert.ok(tasks.every((t) => !t.destination.includes('@')), 'no listed tag turned into a digest pin');
    // The registry client drops them at the source and names them in its warning (registry/list/listing.ts);
    // the planner's own check (plan/tags.ts) is for listers that do not go through it.
    assert.match(r.stderr, /tag list team\/app: ignored 2 entries that are not valid names/);
    assert.ok(r.stderr.includes(`"entries":["x@${PIN}","../etc"]`), r.stderr);
  });
});
