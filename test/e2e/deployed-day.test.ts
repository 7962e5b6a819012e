// A deployed day, offline (issue 14, item 7): the packaged artifacts run as Lambda would run them.
// `npm run package` with a config; each function's zip unpacked and its handler loaded in a fresh
// Node process per invocation (cwd = the unpacked artifact, as the nodejs22.x runtime does), its
// environment taken from the template with the stack's queues and table made local (local-aws-sqs,
// dynalite), events shaped as EventBridge and SQS send them, every AWS call recorded and evaluated
// against the function's packaged role.
//   Day 1: the planner; then 4 copier processes at a time on the queue; an image whose source is
//   missing is dead-lettered with its reason; once the source has it, the replay function moves the
//   DLQ back and the copiers copy it.
//   Day 2, fresh processes: no writes at the destination and no source manifest GETs for images
//   converted for SWR Basic (the digest memo is in the state table, not in a container).
//   Both days: a rule whose namespace answers 404 goes to the DLQ; the other rules run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import type { SQSEvent } from 'aws-lambda';
import { recordFor, runBatch } from '../../lib/lambda/local-workers.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { type DynamoServerHandle, startDynamoServer } from '../helpers/dynamo-server.js';
import { tempDir } from '../helpers/files.js';
import { FAKE_STACK, IamRecorder } from '../helpers/iam-recorder.js';
import { RoleEvaluator, TemplateResolver, describeFindings, functionEnvironment, sideBySide } from '../helpers/iam-policy.js';
import { type Json, type Packaged, lambdaFunction, packageService, projectRoot, resourcesOf, runBundle } from '../helpers/lambda-package.js';
import { MT, getManifest, pushImage, pushIndex, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type SqsQueuePair, type SqsServerHandle, startSqsServer } from '../helpers/sqs-server.js';
import { type SwrApiHandle, type SwrState, startSwrApi, swrState } from '../helpers/swr-api-server.js';
import { type SwrRegistryProxyHandle, startSwrRegistryProxy } from '../helpers/swr-registry-proxy.js';

const FUNCTIONS = ['planner', 'copier', 'replay'] as const;
type Fn = (typeof FUNCTIONS)[number];
const STATE_TABLE = 'day-state';
const COPIERS = 4;

/** EventBridge's scheduled event, as the rule delivers it to the planner. */
const scheduled = () => ({
  version: '0',
  id: crypto.randomUUID(),
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: FAKE_STACK.account,
  time: new Date().toISOString(),
  region: 'us-east-1',
  resources: [`arn:aws:events:us-east-1:${FAKE_STACK.account}:rule/swr-migrate-dev-planner`],
  detail: {},
});

describe('a deployed day, offline: the packaged functions as Lambda runs them', () => {
  let src: RegistryHandle;
  let back: RegistryHandle;
  let swr: SwrRegistryProxyHandle;
  let api: SwrApiHandle;
  let swrOrgs: SwrState;
  let gone: Server;
  let sqs: SqsServerHandle;
  let pair: SqsQueuePair;
  let queue: SqsWorkQueue;
  let dynamo: DynamoServerHandle;
  let pkg: Packaged;
  const dirs = {} as Record<Fn, string>;
  const handlers = {} as Record<Fn, string>;
  const envs = {} as Record<Fn, NodeJS.ProcessEnv>;
  const recorder = new IamRecorder();
  const configDir = join(projectRoot, 'dist', `deployed-day-${process.pid}`);
  const invocations: Record<Fn, number> = { planner: 0, copier: 0, replay: 0 };

  before(async () => {
    [src, back, sqs] = await Promise.all([startRegistry(), startRegistry(), startSqsServer()]);
    swrOrgs = swrState();
    api = await startSwrApi({ ak: 'AKD', sk: 'SKD', projectId: 'p1', state: swrOrgs });
    swr = await startSwrRegistryProxy(back, { state: swrOrgs });
    gone = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
    });
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const goneHost = `127.0.0.1:${(gone.address() as AddressInfo).port}`;
    await pushIndex(src, 'apps/web', 'v1', { format: 'oci', platforms: [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64' }] });
    await pushImage(src, 'apps/api', 'v1', { format: 'oci', layers: [randomLayer(20_000)] });
    await pushImage(src, 'apps/worker', 'v1', { format: 'docker', layers: [randomLayer(20_000)] });

    mkdirSync(configDir, { recursive: true });
    writeFileSync(
      join(configDir, 'sync.yaml'),
      `version: 1
registries:
  "${src.host}": { insecure: true }
  "${goneHost}": { insecure: true }
  "${swr.host}": { type: swr, insecure: true, accessKey: AKD, secretKey: SKD, project: cn-north-4, projectId: p1, managementEndpoint: "${api.url}" }
rules:
  - { source: "${src.host}/apps/web", destination: "${swr.host}/day-team", mapping: path }
  - { source: "${src.host}/apps/api:v1", destination: "${swr.host}/day-team" }
  - { source: "${src.host}/apps/worker:v1", destination: "${swr.host}/day-team" }
  - { source: "${src.host}/apps/ghost:v1", destination: "${swr.host}/day-team" }
  - { source: "${goneHost}/lost/*", destination: "${swr.host}/day-lost" }
`,
    );
    pkg = await packageService(tempDir('swrm-day-pkg-'), { config: `./dist/deployed-day-${process.pid}/sync.yaml` });

    pair = await sqs.createQueuePair('day', { maxReceiveCount: 10, visibilityTimeoutS: 60 });
    queue = new SqsWorkQueue({ queueUrl: pair.queueUrl, client: sqs.client, drainedReadings: 1 });
    dynamo = await startDynamoServer();
    await dynamo.createStateTable(STATE_TABLE, resourcesOf(pkg.template, 'AWS::DynamoDB::Table')[0]![1].Properties);
    const resolver = new TemplateResolver(pkg.template, {
      stack: FAKE_STACK,
      standIns: {
        MigrationQueue: { Ref: pair.queueUrl, Arn: pair.queueArn },
        MigrationDlq: { Ref: pair.dlqUrl, Arn: pair.dlqArn },
        StateTable: { Ref: STATE_TABLE, Arn: `arn:aws:dynamodb:${FAKE_STACK.region}:${FAKE_STACK.account}:table/${STATE_TABLE}` },
      },
    });
    for (const fn of FUNCTIONS) {
      const [, resource] = lambdaFunction(pkg.template, fn);
      dirs[fn] = tempDir(`swrm-day-${fn}-`);
      handlers[fn] = resource.Properties.Handler as string;
      await promisify(execFile)('unzip', ['-q', join(pkg.dir, basename(resource.Properties.Code.S3Key as string)), '-d', dirs[fn]]);
      envs[fn] = {
        PATH: process.env.PATH,
        LAMBDA_TASK_ROOT: dirs[fn],
        AWS_LAMBDA_FUNCTION_NAME: fn,
        ...functionEnvironment(resolver, fn),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_ENDPOINT_URL_SQS: sqs.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        LOG_LEVEL: 'warn',
      };
    }
  });
  after(async () => {
    rmSync(configDir, { recursive: true, force: true });
    gone?.close();
    await Promise.all([sqs?.stop(), dynamo?.stop()]);
    await stopAll();
  });

  /** One invocation of a packaged function: a fresh process, as a cold container. */
  const invoke = async (fn: Fn, event: unknown): Promise<unknown> => {
    invocations[fn]++;
    const run = await runBundle(dirs[fn], handlers[fn], event, envs[fn], { recordAwsCalls: true });
    recorder.addChildOutput(fn, run.stdout);
    return run.result;
  };

  /** Lambda's event source mapping: up to COPIERS invocations at once, one record each, until the queue is empty. */
  const drain = async (): Promise<void> => {
    const worker = async () => {
      for (let idle = 0; idle < 2; ) {
        const messages = await queue.receive(1, 500);
        if (!messages.length) {
          idle = (await queue.counts()).visible + (await queue.counts()).inFlight ? 0 : idle + 1;
          continue;
        }
        idle = 0;
        await runBatch({ queue, queueArn: pair.queueArn, handler: (event: SQSEvent) => invoke('copier', event) as never }, messages);
      }
    };
    await Promise.all(Array.from({ length: COPIERS }, worker));
  };

  const letters = async () => (await queue.deadLetters()).list();
  const reasons = async () => (await letters()).map((l) => `${l.reason.code} ${(JSON.parse(l.body) as { source: string }).source}`).sort();

  test('day 1 plans, copies, dead-letters with reasons and replays; day 2 writes nothing and GETs no source manifest', { timeout: 600_000 }, async (t) => {
    // Day 1.
    const plan1 = (await invoke('planner', scheduled())) as { images: number; failedRules: number; skipped?: string };
    assert.equal(plan1.skipped, undefined);
    assert.equal(plan1.failedRules, 1, 'the 404 namespace');
    assert.equal(swrOrgs.orgs.get('day-team')?.mine, true, 'the planner created the organization');
    await drain();
    assert.deepEqual(await reasons(), [`MANIFEST_UNKNOWN ${src.host}/apps/ghost:v1`, `NAME_UNKNOWN ${goneHost()}/lost/*`]);
    assert.equal((await getManifest(back, 'day-team/apps/web', 'v1'))?.mediaType, MT.dockerList, 'converted for SWR Basic');
    assert.equal((await getManifest(back, 'day-team/api', 'v1'))?.mediaType, MT.dockerManifest);
    assert.ok(await getManifest(back, 'day-team/worker', 'v1'));
    assert.equal(swr.refused.oci, 0, 'no OCI manifest reached SWR');

    // The source is fixed; replay moves the DLQ back and the copiers take it from there.
    await pushImage(src, 'apps/ghost', 'v1', { format: 'oci', layers: [randomLayer(10_000)] });
    const moved = (await invoke('replay', {})) as { status: string };
    assert.ok(['RUNNING', 'COMPLETED'].includes(moved.status), JSON.stringify(moved));
    for (let i = 0; i < 50 && (await queue.counts()).visible < 2; i++) await new Promise((r) => setTimeout(r, 200));
    await drain();
    assert.ok(await getManifest(back, 'day-team/ghost', 'v1'), 'the replayed image was copied');
    assert.deepEqual(await reasons(), [`NAME_UNKNOWN ${goneHost()}/lost/*`], 'the namespace still answers 404, and says so');

    // Day 2: every process new, the state table the only memory.
    await Promise.all([src.settle(), back.settle()]);
    const [srcMark, backMark] = [src.mark(), back.mark()];
    const plan2 = (await invoke('planner', scheduled())) as { images: number; failedRules: number; skipped?: string };
    assert.equal(plan2.skipped, undefined, 'day 1 settled: day 2 is planned');
    assert.equal(plan2.failedRules, 1);
    await drain();
    await Promise.all([src.settle(), back.settle()]);
    const srcLog = src.requestsSince(srcMark);
    const backLog = back.requestsSince(backMark);
    const writes = backLog.filter((e) => e.method !== 'GET' && e.method !== 'HEAD');
    const manifestGets = srcLog.filter((e) => e.method === 'GET' && e.path.includes('/manifests/'));
    const images = 4;
    t.diagnostic(`day 2: ${srcLog.length + backLog.length} registry requests for ${images} images (${((srcLog.length + backLog.length) / images).toFixed(2)} per image), ${manifestGets.length} source manifest GETs, ${writes.length} writes`);
    assert.deepEqual(writes.map((e) => `${e.method} ${e.path}`), [], 'day 2 wrote to the destination');
    assert.deepEqual(manifestGets.map((e) => e.path), [], 'day 2 fetched source manifests');
    // SQS cannot replace a letter: day 2's is a second one for the same rule (status counts it once).
    assert.deepEqual(await reasons(), [`NAME_UNKNOWN ${goneHost()}/lost/*`, `NAME_UNKNOWN ${goneHost()}/lost/*`]);

    // Every call of every process, against the packaged roles.
    const report = await new RoleEvaluator(pkg.template, { stack: FAKE_STACK, names: { MigrationQueue: 'day', MigrationDlq: 'day-dlq', StateTable: STATE_TABLE } }).check(recorder.calls());
    t.diagnostic(`invocations: ${Object.entries(invocations).map(([fn, n]) => `${fn} ${n}`).join(', ')}`);
    for (const line of sideBySide(report)) t.diagnostic(line);
    assert.equal(describeFindings(report.denied), '', 'calls the packaged roles would deny');
  });

  function goneHost(): string {
    return `127.0.0.1:${(gone.address() as AddressInfo).port}`;
  }
});
