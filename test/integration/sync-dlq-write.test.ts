// A DLQ that cannot be written (disk full, permissions changed mid-run) must not make work vanish
// (issue 6 item 12): a rule or an image whose DLQ write fails is handed to onLost (the CLI prints it
// on stderr), and the run goes on with the other rules. A real HTTP server on 127.0.0.1 answers as
// a registry would for repositories that do not exist.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { LoadedConfig, SyncRule } from '../../lib/config/types.js';
import { DEFAULTS } from '../../lib/config/types.js';
import { runSync } from '../../lib/pipeline/sync.js';
import type { DeadLetterStore } from '../../lib/queue/types.js';

const brokenDlq: DeadLetterStore = {
  add: async () => {
    throw new Error('ENOSPC: no space left on device');
  },
  list: async () => [],
  remove: async () => undefined,
};

describe('DLQ write failures', () => {
  let server: Server;
  let host: string;
  before(async () => {
    // Distribution spec "Error Codes": an unknown repository is 404 NAME_UNKNOWN, an unknown tag
    // 404 MANIFEST_UNKNOWN; both are permanent, so they go straight to the DLQ.
    server = createServer((req, res) => {
      const code = req.url?.includes('/tags/list') ? 'NAME_UNKNOWN' : 'MANIFEST_UNKNOWN';
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ errors: [{ code, message: 'not here' }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const config = (rules: SyncRule[]): LoadedConfig => ({ source: 'test', defaults: { ...DEFAULTS }, registries: [], resolve: () => ({ insecure: true }), rules });
  const listed = (repo: string): SyncRule => ({
    origin: `rule ${repo}`,
    source: { registry: host, repository: repo },
    filter: {},
    destinations: [{ registry: host, repository: `mirror/${repo}` }],
  });

  test('rules whose listing fails and whose DLQ write fails are handed to onLost, each one, and the run goes on', async () => {
    const lost: string[] = [];
    const run = await runSync({
      config: config([listed('gone-a'), listed('gone-b')]),
      proc: 1,
      retries: 0,
      dlq: brokenDlq,
      onLost: (body, err) => lost.push(`${JSON.parse(body).source} ${(err as Error).message}`),
    });
    assert.deepEqual(lost.sort(), [`${host}/gone-a ENOSPC: no space left on device`, `${host}/gone-b ENOSPC: no space left on device`]);
    assert.equal(run.lost, 2);
    assert.equal(run.outcomes.filter((o) => o.kind === 'expand-repository' && o.status === 'failed').length, 2);
  });

  test('an image whose DLQ write fails is handed to onLost, not dropped', async () => {
    const lost: string[] = [];
    const exact: SyncRule = { ...listed('app'), filter: undefined, tags: ['v1'] };
    await assert.rejects(
      runSync({ config: config([exact]), proc: 1, retries: 0, dlq: brokenDlq, onLost: (body) => lost.push(body) }),
      /ENOSPC/,
    );
    assert.equal(lost.length, 1);
    assert.equal(JSON.parse(lost[0]!).destination, `${host}/mirror/app:v1`);
  });
});
