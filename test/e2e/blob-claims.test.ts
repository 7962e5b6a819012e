// One upload per blob across workers (issue 15, item 5): 8 Lambda copiers, each a separate Node
// process running the compiled copier handler (dist/functions/copier.js) on local-aws-sqs and
// dynalite, copy 8 images that share 3 layers into 8 repositories of one destination registry, all
// released at once (every process has imported its handler before any event is sent). From the
// destination's own request log: each shared layer was uploaded once (one PUT; every upload one
// POST + one PUT) and mounted into the 7 other repositories (201), none declined.
// The same run without SWRM_STATE_TABLE (no claims) is measured first, into another registry: every
// copier uploads every shared layer, 8 times each. Both counts are printed for the bench.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { recordFor } from '../../lib/lambda/local-workers.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import type { QueueMessage } from '../../lib/queue/types.js';
import { type DynamoServerHandle, startDynamoServer } from '../helpers/dynamo-server.js';
import { projectRoot } from '../helpers/lambda-package.js';
import { getManifest, pushImage, randomLayer, sha256 } from '../helpers/push.js';
import { type AccessLogEntry, type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';

const COPIERS = 8;
const STATE_TABLE = 'claims-state';
const HANDLER = join(projectRoot, 'dist', 'functions', 'copier.js');

// The child: import the handler (the cold start), say so, then wait for its event on stdin.
const RUNNER = `
const mod = await import(process.argv[1]);
process.stdout.write('\\n@@READY\\n');
let input = '';
for await (const chunk of process.stdin) { input += chunk; if (input.includes('\\n')) break; }
const context = { awsRequestId: 'req', functionName: 'copier', callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 120000 };
const result = await mod.handler(JSON.parse(input), context);
process.stdout.write('\\n@@RESULT ' + JSON.stringify(result) + '\\n');
process.exit(0);
`;

interface Copier {
  child: ChildProcess;
  ready: Promise<void>;
  done: Promise<{ result: unknown; stdout: string; stderr: string }>;
}

function startCopier(env: NodeJS.ProcessEnv): Copier {
  const child = spawn(process.execPath, ['--input-type=module', '-e', RUNNER, HANDLER], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (stdout.includes('@@READY')) onReady();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ result: unknown; stdout: string; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('@@RESULT '));
      if (code !== 0 || !line) reject(new Error(`copier exited ${code}\nstdout: ${stdout.slice(-4000)}\nstderr: ${stderr.slice(-4000)}`));
      else resolve({ result: JSON.parse(line.slice('@@RESULT '.length)), stdout, stderr });
    });
  });
  // A copier that dies before it is ready must fail the test, not hang it.
  return { child, ready: Promise.race([ready, done.then(() => Promise.reject(new Error('copier ended before it was ready')))]), done };
}

/** Pino lines a copier wrote (its logs are on stderr; stdout has the EMF line and the markers). */
function logLines(stderr: string): { msg: string; [k: string]: unknown }[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string })
    .filter((l): l is { msg: string } => typeof l.msg === 'string');
}

describe('one upload per blob across 8 Lambda copier processes (claims in the state table)', () => {
  let src: RegistryHandle;
  let sqs: SqsServerHandle;
  let dynamo: DynamoServerHandle;
  const shared = [0, 1, 2].map(() => randomLayer(256 * 1024));
  const sharedDigests = shared.map((l) => sha256(l));
  const configDir = join(projectRoot, 'dist', `blob-claims-${process.pid}`);

  before(async () => {
    [src, sqs, dynamo] = await Promise.all([startRegistry(), startSqsServer(), startDynamoServer()]);
    await dynamo.createStateTable(STATE_TABLE);
    for (let i = 0; i < COPIERS; i++) await pushImage(src, `apps/img${i}`, 'v1', { format: 'oci', layers: shared });
    mkdirSync(configDir, { recursive: true });
  });
  after(async () => {
    rmSync(configDir, { recursive: true, force: true });
    await Promise.all([sqs?.stop(), dynamo?.stop()]);
    await stopAll();
  });

  /** 8 copier processes, one image each, released together; the destination's request log of the run. */
  async function run(name: string, withClaims: boolean): Promise<{ dst: RegistryHandle; log: AccessLogEntry[]; stderrs: string[] }> {
    const dst = await startRegistry();
    const config = join(configDir, `${name}.yaml`);
    writeFileSync(
      config,
      `version: 1
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - { source: "${src.host}/apps/img0:v1", destination: "${dst.host}/claims" }
`,
    );
    const pair = await sqs.createQueuePair(name, { maxReceiveCount: 5, visibilityTimeoutS: 120 });
    const queue = new SqsWorkQueue({ queueUrl: pair.queueUrl, client: sqs.client });
    await queue.send(Array.from({ length: COPIERS }, (_, i) => encodeMessage({ v: 1, kind: 'copy-image', source: `${src.host}/apps/img${i}:v1`, destination: `${dst.host}/claims/img${i}:v1` })));
    const messages: QueueMessage[] = [];
    for (let tries = 0; messages.length < COPIERS && tries < 100; tries++) messages.push(...(await queue.receive(1, 200)));
    assert.equal(messages.length, COPIERS);

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      QUEUE_URL: pair.queueUrl,
      SWRM_CONFIG: config,
      ...(withClaims ? { SWRM_STATE_TABLE: STATE_TABLE } : {}),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      LOG_LEVEL: 'info',
    };
    const copiers = Array.from({ length: COPIERS }, () => startCopier(env));
    try {
      await Promise.all(copiers.map((c) => c.ready));
      await dst.settle();
      const mark = dst.mark();
      // Released together: one SQS event of one record each, as the event source mapping invokes.
      copiers.forEach((c, i) => c.child.stdin!.end(`${JSON.stringify({ Records: [recordFor(messages[i]!, pair.queueArn)] } satisfies SQSEvent)}\n`));
      const results = await Promise.all(copiers.map((c) => c.done));
      for (const r of results) assert.deepEqual(r.result, { batchItemFailures: [] }, r.stdout.slice(-2000));
      await dst.settle();
      for (let i = 0; i < COPIERS; i++) assert.ok(await getManifest(dst, `claims/img${i}`, 'v1'), `claims/img${i} was copied`);
      return { dst, log: dst.requestsSince(mark), stderrs: results.map((r) => r.stderr) };
    } finally {
      for (const c of copiers) if (c.child.exitCode === null) c.child.kill('SIGKILL');
    }
  }

  const has = (e: AccessLogEntry, digest: string) => decodeURIComponent(e.path).includes(digest);
  const uploadsOf = (log: AccessLogEntry[], digest: string) => log.filter((e) => e.method === 'PUT' && e.path.includes('/blobs/uploads/') && has(e, digest) && e.status === 201).length;
  const mountsOf = (log: AccessLogEntry[], digest: string, status: number) => log.filter((e) => e.method === 'POST' && e.path.includes('mount=') && has(e, digest) && e.status === status).length;
  const uploadStarts = (log: AccessLogEntry[]) => log.filter((e) => e.method === 'POST' && e.path.includes('/blobs/uploads/') && !e.path.includes('mount=')).length;
  const blobPuts = (log: AccessLogEntry[]) => log.filter((e) => e.method === 'PUT' && e.path.includes('/blobs/uploads/')).length;
  const duplicates = (log: AccessLogEntry[]) => sharedDigests.reduce((n, d) => n + Math.max(0, uploadsOf(log, d) - 1), 0);

  test('each shared layer is uploaded once and mounted 7 times; without claims, 8 times each', { timeout: 300_000 }, async (t) => {
    const unclaimed = await run('no-claims', false);
    const before = duplicates(unclaimed.log);
    t.diagnostic(`without claims: shared layers uploaded ${sharedDigests.map((d) => uploadsOf(unclaimed.log, d)).join(', ')} times: ${before} duplicate uploads`);
    // Each copier's HEAD asks its own repository, and no process knows another's ledger.
    assert.deepEqual(sharedDigests.map((d) => uploadsOf(unclaimed.log, d)), [COPIERS, COPIERS, COPIERS]);

    const claimed = await run('claims', true);
    const after = duplicates(claimed.log);
    t.diagnostic(`with claims: shared layers uploaded ${sharedDigests.map((d) => uploadsOf(claimed.log, d)).join(', ')} times, mounted ${sharedDigests.map((d) => mountsOf(claimed.log, d, 201)).join(', ')} times: ${after} duplicate uploads`);
    t.diagnostic(`duplicate uploads of the 3 shared layers by 8 copier processes: ${before} without claims, ${after} with claims`);
    assert.deepEqual(sharedDigests.map((d) => uploadsOf(claimed.log, d)), [1, 1, 1], 'uploads per shared layer');
    assert.deepEqual(sharedDigests.map((d) => mountsOf(claimed.log, d, 201)), [COPIERS - 1, COPIERS - 1, COPIERS - 1], 'mounts per shared layer');
    assert.deepEqual(sharedDigests.map((d) => mountsOf(claimed.log, d, 202)), [0, 0, 0], 'declined mounts');
    // Every upload session was one POST and one PUT: the 3 layers once, and each image's own config.
    assert.equal(uploadStarts(claimed.log), 3 + COPIERS);
    assert.equal(blobPuts(claimed.log), 3 + COPIERS);

    // The copiers' own account of it (their logs): 7 mounts from a claim per shared layer.
    const lines = claimed.stderrs.flatMap(logLines);
    const fromClaims = lines.filter((l) => l.msg === 'blob mounted from a claim');
    assert.deepEqual(sharedDigests.map((d) => fromClaims.filter((l) => l.digest === d).length), [COPIERS - 1, COPIERS - 1, COPIERS - 1]);
    const waited = fromClaims.filter((l) => l.waited === true).length;
    t.diagnostic(`mounts from a claim: ${fromClaims.length}, of which ${waited} waited for the upload to finish`);
    assert.deepEqual(lines.filter((l) => /uploading it too|claims unavailable/.test(l.msg)).map((l) => l.msg), []);
  });
});
