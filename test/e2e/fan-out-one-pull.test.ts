// One pull, many destinations (issue 15, item 4), through the real CLI: one rule copies a source
// repository to three destination registries. Each (image, destination) is its own copy, yet the
// source's access log must show every blob and every manifest GET once: the first copy of a blob
// spools it for the other destinations (copy/source-share.ts), the manifests come from the run's
// cache. Both orders are covered: copies at once (the others join the download in flight) and one
// at a time (--proc 1: the others read a finished spool), with a layer large enough for a disk spool.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { getBlob, getManifest, pushImage, type PushedManifest, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';

const TAGS = ['v1', 'v2', 'v3'];

describe('one pull, many destinations', () => {
  let src: RegistryHandle;
  let dsts: RegistryHandle[];
  let dir: string;
  let sqs: SqsServerHandle;
  const images = new Map<string, PushedManifest>();
  before(async () => {
    [src, ...dsts] = await Promise.all([startRegistry(), startRegistry(), startRegistry(), startRegistry()]);
    sqs = await startSqsServer();
    dir = tempDir();
    // Shared base layers (one past the 4 MiB memory spool bound, so it is spooled on disk) and one own layer each.
    const base = [randomLayer(6 * 1024 * 1024), randomLayer(64 * 1024)];
    for (const tag of TAGS) images.set(tag, await pushImage(src, 'team/app', tag, { format: 'oci', layers: [...base, randomLayer(8 * 1024)] }));
  });
  after(async () => {
    await sqs?.stop();
    await stopAll();
  });

  const sync = async (ns: string, extra: string[], env: Record<string, string> = {}) => {
    const file = writeFile(
      dir,
      `${ns}.yaml`,
      `version: 1
registries:
${[src, ...dsts].map((r) => `  "${r.host}": { insecure: true }`).join('\n')}
rules:
  - source: ${src.host}/team/app
    destination: [${dsts.map((d) => `"${d.host}/${ns}"`).join(', ')}]
`,
    );
    await src.settle();
    const mark = src.mark();
    const r = await runCli(['sync', '--config', file, ...(extra.includes('--queue-url') ? [] : ['--dlq', join(dir, `dlq-${ns}.jsonl`)]), ...extra], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${TAGS.length * dsts.length} copied`), r.stdout);
    await src.settle();
    return src.requestsSince(mark);
  };

  const checkOnePull = (log: { method: string; path: string }[]) => {
    const gets = new Map<string, number>();
    for (const e of log) if (e.method === 'GET' && /\/(blobs|manifests)\//.test(e.path)) gets.set(e.path, (gets.get(e.path) ?? 0) + 1);
    const blobs = [...gets].filter(([p]) => p.includes('/blobs/'));
    const wanted = new Set([...images.values()].flatMap((m) => m.blobs.map((b) => b.digest)));
    assert.equal(blobs.length, wanted.size, `blob GETs: ${JSON.stringify(blobs)}`);
    for (const [path, n] of gets) assert.equal(n, 1, `${path} was GET ${n} times:\n${JSON.stringify([...gets], null, 1)}`);
    // Each image's manifest once, by digest (tags are HEADed).
    const manifests = [...gets.keys()].filter((p) => p.includes('/manifests/'));
    assert.deepEqual(manifests.sort(), [...images.values()].map((m) => `/v2/team/app/manifests/${m.digest}`).sort());
  };

  const checkCopied = async (ns: string) => {
    for (const d of dsts) {
      for (const [tag, image] of images) {
        const got = await getManifest(d, `${ns}/app`, tag);
        assert.equal(got?.digest, image.digest, `${d.host}/${ns}/app:${tag}`);
      }
      const big = images.get('v1')!.blobs[1]!;
      assert.equal((await getBlob(d, `${ns}/app`, big.digest))?.length, big.size);
    }
  };

  test('copies at once: every source blob and manifest is GET once for three destinations', async () => {
    checkOnePull(await sync('together', []));
    await checkCopied('together');
  });

  test('one copy at a time (--proc 1): later destinations read the spool; none is left behind', async () => {
    const before = new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('swrm-spool-')));
    checkOnePull(await sync('in-turn', ['--proc', '1']));
    await checkCopied('in-turn');
    const left = readdirSync(tmpdir()).filter((n) => n.startsWith('swrm-spool-') && !before.has(n));
    assert.deepEqual(left, [], 'spool directories left in the temp dir');
  });

  test('sync --queue-url (SQS, local workers on one context): every source blob and manifest GET once', async () => {
    const q = await sqs.createQueuePair('fan-out');
    const env = {
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ACCESS_KEY_ID: 'test-access-key',
      AWS_SECRET_ACCESS_KEY: 'test-secret-key',
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };
    checkOnePull(await sync('queued', ['--queue-url', q.queueUrl], env));
    await checkCopied('queued');
  });
});
