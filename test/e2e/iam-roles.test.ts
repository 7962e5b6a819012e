// Issue 14, item 1: the permissions the Lambda functions need, proven from the calls they make.
// `npm run package` builds the stack for a config with ordinary, Secrets Manager/SSM-backed and
// ECR sources; the planner, copier and replay handlers (lib/lambda/handlers.ts, with the SQS
// factory the functions use and their environment from the template) then run a day against
// local-aws-sqs, real registries, an ECR API stand-in and a Secrets Manager/SSM stand-in, with
// the IAM recorder on. Every call is evaluated against its function's role in the packaged
// template: none may be denied, and every grant must have been used by a call (or by Lambda
// itself: logs, the event source mapping). Removing a line from a role makes the check fail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { createServer as createHttpServer, type Server } from 'node:http';
import { join } from 'node:path';
import { copierFromEnv, plannerFromEnv, replayFromEnv } from '../../lib/lambda/handlers.js';
import { receiverFromEnv } from '../../lib/lambda/receiver.js';
import { runBatch } from '../../lib/lambda/local-workers.js';
import { sqsQueuesFrom } from '../../lib/lambda/queue-factory.js';
import { createLogger } from '../../lib/log.js';
import { processSecretStore } from '../../lib/config/secret-store.js';
import { namespaceMessageFor } from '../../lib/plan/planner.js';
import { encodeMessage } from '../../lib/queue/messages.js';
import { SqsWorkQueue } from '../../lib/queue/sqs-queue.js';
import { parseNativeConfig } from '../../lib/config/native.js';
import { type AwsSecretsHandle, startAwsSecretsServer } from '../helpers/aws-secrets-server.js';
import { startEcrApi } from '../helpers/ecr-api.js';
import { tempDir } from '../helpers/files.js';
import { FAKE_STACK, IamRecorder, type Stack } from '../helpers/iam-recorder.js';
import { type IamReport, RoleEvaluator, TemplateResolver, describeFindings, functionEnvironment, sideBySide } from '../helpers/iam-policy.js';
import { type Json, type Packaged, packageService, projectRoot } from '../helpers/lambda-package.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { lambdaContext } from '../helpers/sqs-events.js';
import { type SqsQueuePair, type SqsServerHandle, setDummyAwsEnv, startSqsServer } from '../helpers/sqs-server.js';
import { type DynamoServerHandle, startDynamoServer } from '../helpers/dynamo-server.js';
import { type ProxyHandle, startProxy } from '../helpers/proxy.js';
import { DEFAULT_MARGIN_MS } from '../../lib/lambda/copier-batch.js';
import { type SnsServerHandle, startSnsServer } from '../helpers/sns-server.js';

const STATE_TABLE = 'iam-state';
/** notify.sns: the copier that settles the run's last message publishes its summary there (issue 16, item 5). */
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:iam-runs';
/** events.harbor: the receiver function checks it (issue 16, item 3). */
const HOOK_SECRET = 'iam-harbor-hook-secret-0123456789';

/** A loopback port nothing listens on: a source that is down (retryable: the copier backs off). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('IAM: every call the handlers make is granted by their packaged role, and every grant is used', () => {
  const logger = createLogger('silent');
  const configDir = join(projectRoot, 'dist', `iam-roles-test-${process.pid}`);
  const saved = { ...process.env };
  let stack: Stack;
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let ecr: RegistryHandle;
  let ecrApi: Awaited<ReturnType<typeof startEcrApi>>;
  let secrets: AwsSecretsHandle;
  let sqs: SqsServerHandle;
  let pair: SqsQueuePair;
  let pkg: Packaged;
  let dynamo: DynamoServerHandle;
  let gone: Server;
  // A source that trickles its blobs: an image the copier's deadline cuts twice (the long-haul move).
  let slow: ProxyHandle;
  let long: { queueUrl: string; queueArn: string };
  let report: IamReport;
  let recorder: IamRecorder;
  let sns: SnsServerHandle;

  before(async () => {
    setDummyAwsEnv();
    stack = { ...FAKE_STACK, region: process.env.AWS_REGION ?? FAKE_STACK.region };
    [src, dst, ecr, sqs] = await Promise.all([
      startRegistry(),
      startRegistry(),
      // An ECR registry: basic auth, user AWS, the password GetAuthorizationToken gives.
      startRegistry({ auth: 'basic', username: 'AWS', password: 'ecr-token' }),
      startSqsServer(),
    ]);
    const now = Math.floor(Date.now() / 1000);
    ecrApi = await startEcrApi({
      password: 'ecr-token',
      fixedPassword: true,
      repositories: [
        { name: 'apps/api', images: [{ tags: ['v1'], pushedAt: now }] },
        { name: 'apps/web', images: [{ tags: ['v2'], pushedAt: now }] },
        { name: 'team/a', images: [{ tags: ['v1'], pushedAt: now }] },
        { name: 'other/x', images: [{ tags: ['v1'], pushedAt: now }] },
      ],
    });
    sns = await startSnsServer({ topics: [TOPIC] });
    secrets = await startAwsSecretsServer({ secrets: { 'swr-migrate/dst-password': 'unused-by-the-registry' }, parameters: { '/swr-migrate/dst-user': 'mirror' } });
    Object.assign(process.env, { AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url, AWS_ENDPOINT_URL_SSM: secrets.url, AWS_ENDPOINT_URL_SNS: sns.url, AWS_EC2_METADATA_DISABLED: 'true' });
    await Promise.all([
      pushImage(src, 'app/a', 'v1', { format: 'oci', layers: [randomLayer(20_000)] }),
      pushImage(ecr, 'apps/api', 'v1', { format: 'oci', layers: [randomLayer(20_000)] }),
      pushImage(ecr, 'apps/web', 'v2', { format: 'docker', layers: [randomLayer(20_000)] }),
      pushImage(ecr, 'team/a', 'v1', { format: 'oci', layers: [randomLayer(20_000)] }),
    ]);
    pair = await sqs.createQueuePair('iam', { maxReceiveCount: 3, visibilityTimeoutS: 30 });
    long = await sqs.createQueue('iam-long', { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: pair.dlqArn, maxReceiveCount: 3 }) });
    slow = await startProxy(src, { trickleBlobs: { bytes: 8 * 1024, everyMs: 50 } });
    await pushImage(src, 'slow/big', 'v1', { format: 'oci', layers: [randomLayer(1024 * 1024)] });
    // The state table (the digest memo and the runs), as the template creates it.
    dynamo = await startDynamoServer();
    // A registry whose catalog is gone: a namespace rule that fails for good goes to the DLQ (planner).
    gone = createHttpServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
    });
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const goneHost = `127.0.0.1:${(gone.address() as AddressInfo).port}`;

    const down = `127.0.0.1:${await closedPort()}`;
    mkdirSync(configDir, { recursive: true });
    writeFileSync(
      join(configDir, 'sync.yaml'),
      `version: 1
defaults: { retries: 1 }
notify: { on: failure, sns: "${TOPIC}" }
events: { harbor: { secret: "${HOOK_SECRET}" }, windowSeconds: 1 }
registries:
  "${src.host}": { insecure: true }
  "${slow.host}": { insecure: true }
  "${down}": { insecure: true }
  "${goneHost}": { insecure: true }
  "${dst.host}": { insecure: true, username: "\${ssm:/swr-migrate/dst-user}", password: "\${secretsmanager:swr-migrate/dst-password}" }
  # An ECR registry reached under another name: its login and listing go through the ECR API.
  "${ecr.host}": { type: ecr, apiEndpoint: "${ecrApi.url}", insecure: true }
rules:
  - source: ${src.host}/app/a:v1
    destination: ${dst.host}/mirror
  - source: ${src.host}/app/ghost:v1
    destination: ${dst.host}/mirror
  - source: ${down}/app/down:v1
    destination: ${dst.host}/mirror
  - source: ${ecr.host}/apps/api:v1
    destination: ${dst.host}/ecr
  - source: ${ecr.host}/apps/web
    destination: ${dst.host}/ecr
    tags: { pushedWithinDays: 30 }
  - source: ${ecr.host}/team/**
    destination: ${dst.host}/ecr-team
  - source: ${goneHost}/lost/*
    destination: ${dst.host}/lost
  # prune: the copier that lists it reads the records of what it pushed (dynamodb:Query).
  - source: ${src.host}/app/a
    destination: ${dst.host}/pruned
    prune: { max: 5 }
`,
    );
    pkg = await packageService(tempDir('swrm-iam-pkg-'), { config: `./dist/iam-roles-test-${process.pid}/sync.yaml` });
    const table = Object.values(pkg.template.Resources as Json).find((r) => r.Type === 'AWS::DynamoDB::Table');
    await dynamo.createStateTable(STATE_TABLE, table?.Properties);
  });

  after(async () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    recorder?.stop();
    rmSync(configDir, { recursive: true, force: true });
    gone?.close();
    await slow?.stop();
    await Promise.all([sqs?.stop(), secrets?.stop(), ecrApi?.stop(), dynamo?.stop(), sns?.stop()]);
    await stopAll();
  });

  /** The stand-in queues play the stack's: names for IAM, local URLs and ARNs for the environment. */
  const queueNames = () => ({ MigrationQueue: 'iam', MigrationDlq: 'iam-dlq', LongHaulQueue: 'iam-long', StateTable: STATE_TABLE });

  test('a day of planner, copier and replay: no call denied, no grant unused', async (t) => {
    const resolver = new TemplateResolver(pkg.template, {
        stack,
        standIns: {
          MigrationQueue: { Ref: pair.queueUrl, Arn: pair.queueArn },
          MigrationDlq: { Ref: pair.dlqUrl, Arn: pair.dlqArn },
          LongHaulQueue: { Ref: long.queueUrl, Arn: long.queueArn },
          StateTable: { Ref: STATE_TABLE, Arn: `arn:aws:dynamodb:${stack.region}:${stack.account}:table/${STATE_TABLE}` },
        },
      });
    const env = functionEnvironment(resolver, 'copier');
    // The template's environment: the DLQ comes from it (no GetQueueUrl). The config by its absolute path.
    assert.equal(env.DLQ_URL, pair.dlqUrl);
    assert.equal(env.DLQ_ARN, pair.dlqArn);
    assert.equal(env.QUEUE_ARN, pair.queueArn);
    Object.assign(env, { SWRM_CONFIG: join(projectRoot, env.SWRM_CONFIG!), LOG_LEVEL: 'silent' });

    recorder = new IamRecorder({ stack, ecrAliases: { [ecr.host]: {} } }).start();
    const queue = new SqsWorkQueue({ queueUrl: pair.queueUrl, client: sqs.client, drainedReadings: 1 });
    // Each function is its own container: nothing cached by one (secrets, the queue adapters) serves another.
    const fresh = () => {
      processSecretStore.clear();
      return sqsQueuesFrom(env, { client: sqs.client });
    };

    let queues = fresh();
    const planner = recorder.wrap('planner', plannerFromEnv({ env, handlerDir: '/nonexistent', queues, logger }));
    const planned = await planner({}, lambdaContext(900_000));
    assert.equal(planned.skipped, undefined);
    // Repositories to list: apps/web, and app/a (the prune rule's); the namespace rule that fails goes to the DLQ.
    assert.deepEqual({ images: planned.images, repositories: planned.repositories, failedRules: planned.failedRules }, { images: 4, repositories: 3, failedRules: 1 });
    assert.equal(env.SWRM_STATE_TABLE, STATE_TABLE);
    // The next schedule while this run is queued: its record says in progress, the queue confirms it.
    const overlap = await recorder.wrap('planner', plannerFromEnv({ env, handlerDir: '/nonexistent', queues: fresh(), logger }))({}, lambdaContext(900_000));
    assert.match(overlap.skipped ?? '', /in progress/);

    // A namespace rule whose listing failed at plan time is listed again by a copier (expand-namespace).
    const config = parseNativeConfig({ version: 1, rules: [{ source: `${ecr.host}/team/**`, destination: `${dst.host}/ecr-team` }] }, 'sync.yaml', {});
    await queue.send([encodeMessage(namespaceMessageFor(config.rules[0]!))]);

    // A webhook through the receiver function (its own environment from the template): a Harbor push
    // for the plain source becomes one re-check on the queue (SendMessage), its burst claimed in the
    // state table (PutItem); the config's secret references are resolved as every function does.
    const receiverEnv = { ...functionEnvironment(resolver, 'receiver'), SWRM_CONFIG: env.SWRM_CONFIG!, LOG_LEVEL: 'silent' };
    const receiver = recorder.wrap('receiver', receiverFromEnv({ env: receiverEnv, handlerDir: '/nonexistent', queues: fresh(), logger }));
    const hook = JSON.stringify({ type: 'PUSH_ARTIFACT', occur_at: 1, operator: 'ci', event_data: { resources: [{ tag: 'v1', digest: `sha256:${'c'.repeat(64)}`, resource_url: `${src.host}/app/a:v1` }], repository: { name: 'a', namespace: 'app', repo_full_name: 'app/a', repo_type: 'private' } } });
    const answered = await receiver({ rawPath: '/hooks/harbor', headers: { authorization: `Bearer ${HOOK_SECRET}` }, body: hook, requestContext: { http: { method: 'POST' } } }, lambdaContext(10_000));
    assert.equal(answered.statusCode, 202, answered.body);
    assert.equal((JSON.parse(answered.body) as { accepted: number }).accepted, 1);
    // ECR's EventBridge rule delivers its event to the queue as it is: the copier reads it (no new grant).
    await queue.send([JSON.stringify({ version: '0', id: 'e-1', 'detail-type': 'ECR Image Action', source: 'aws.ecr', account: '123456789012', region: stack.region, time: '2026-12-07T00:00:00Z', resources: [], detail: { result: 'SUCCESS', 'repository-name': 'apps/api', 'image-digest': `sha256:${'d'.repeat(64)}`, 'action-type': 'PUSH', 'image-tag': 'v1' } })]);

    queues = fresh();
    const copier = recorder.wrap('copier', copierFromEnv({ env, handlerDir: '/nonexistent', queues, logger, writeMetrics: () => undefined }));
    // Lambda's event source mapping, by hand: batches to the copier while messages are visible.
    for (let idle = 0, i = 0; idle < 2 && i < 60; i++) {
      const messages = await queue.receive(10, 300);
      if (!messages.length) {
        // Until the run's last message settles (the source that is down, after its retry's backoff).
        const c = await queue.counts();
        idle = c.visible + c.inFlight + c.delayed ? 0 : idle + 1;
        continue;
      }
      idle = 0;
      await runBatch({ queue, queueArn: pair.queueArn, handler: (e) => copier(e, lambdaContext(900_000)) }, messages);
    }
    assert.ok(await getManifest(dst, 'mirror/a', 'v1'), 'the plain source was copied');
    assert.ok(await getManifest(dst, 'ecr/api', 'v1'), 'the ECR exact tag was copied');
    assert.ok(await getManifest(dst, 'ecr/web', 'v2'), 'the ECR tag pushed within 30 days was copied');
    assert.ok(await getManifest(dst, 'ecr-team/team/a', 'v1'), 'the ECR namespace was listed and copied');
    // The run ended with failures: its summary was published, once, by the copier (sns:Publish on the topic).
    assert.equal(sns.published.length, 1, 'the run summary was published');
    assert.equal(sns.published[0]!.attributes.status?.value, 'failed');

    // An image the deadline cuts on two deliveries moves to the long-haul queue (LONG_QUEUE_URL).
    assert.equal(env.LONG_QUEUE_URL, long.queueUrl);
    await queue.send([encodeMessage({ v: 1, kind: 'copy-image', source: `${slow.host}/slow/big:v1`, destination: `${dst.host}/slow/big:v1` })]);
    for (let delivery = 1; delivery <= 2; delivery++) {
      const messages = await queue.receive(1, 2000);
      assert.equal(messages[0]?.receiveCount, delivery);
      await runBatch({ queue, queueArn: pair.queueArn, handler: (e) => copier(e, lambdaContext(DEFAULT_MARGIN_MS + 700)) }, messages);
    }
    assert.equal((await new SqsWorkQueue({ queueUrl: long.queueUrl, client: sqs.client }).counts()).visible, 1, 'moved to the long-haul queue');

    const dlq = await queues.deadLetters(pair.queueUrl);
    // The missing image at once, with its reason; the one whose source is down after its retry.
    assert.ok((await dlq.list()).some((l) => l.reason.code === 'MANIFEST_UNKNOWN'), 'the missing image was dead-lettered with its reason');

    queues = fresh();
    const replay = recorder.wrap('replay', replayFromEnv({ env, handlerDir: '/nonexistent', queues, logger }));
    const moved = await replay({}, lambdaContext(60_000));
    assert.equal(moved.alreadyRunning, false);
    recorder.stop();

    assert.deepEqual(recorder.unmapped, [], 'every SDK call maps to IAM');
    report = await new RoleEvaluator(pkg.template, { stack, names: queueNames() }).check(recorder.calls());
    t.diagnostic('calls recorded per function | actions granted per role');
    for (const line of sideBySide(report)) t.diagnostic(line);
    assert.equal(describeFindings(report.denied), '', 'calls the packaged roles would deny');
    // notify.sns: exactly sns:Publish on its topic, for the copier alone.
    assert.deepEqual((pkg.template.Resources as Json).CopierNotifyPolicy.Properties.PolicyDocument.Statement, [
      { Sid: 'NotifyRunFailures', Effect: 'Allow', Action: ['dynamodb:Query'], Resource: { 'Fn::GetAtt': ['StateTable', 'Arn'] } },
      { Sid: 'NotifyRunSummary', Effect: 'Allow', Action: ['sns:Publish'], Resource: TOPIC },
    ]);
    assert.deepEqual((pkg.template.Resources as Json).CopierNotifyPolicy.Properties.Roles, [{ Ref: 'CopierRole' }]);
    // prune: exactly dynamodb:Query on the state table, for the copier alone.
    assert.deepEqual((pkg.template.Resources as Json).CopierPrunePolicy.Properties.PolicyDocument.Statement, [
      { Sid: 'PruneRecords', Effect: 'Allow', Action: ['dynamodb:Query'], Resource: { 'Fn::GetAtt': ['StateTable', 'Arn'] } },
    ]);
    assert.ok(await getManifest(dst, 'pruned/a', 'v1'), 'the prune rule was listed and copied');
    assert.equal(describeFindings(report.unexercised), '', 'grants no call used (document them in docs/aws.md, or drop them)');
    // The DLQ is never looked up on Lambda.
    for (const [fn, calls] of recorder.calls()) assert.ok(!calls.some((c) => c.action === 'sqs:GetQueueUrl'), `${fn} calls GetQueueUrl`);
  });

  test('the packaged roles with one line removed: the check names the function, action and resource', async () => {
    assert.ok(report, 'the day ran');
    const broken = structuredClone(pkg.template) as Json;
    const copierRole = broken.Resources.CopierRole.Properties.Policies[0].PolicyDocument.Statement as Json[];
    const dead = copierRole.find((s) => s.Sid === 'DeadLetters')!;
    dead.Action = [dead.Action].flat().filter((a: string) => a !== 'sqs:SendMessage');
    if (!dead.Action.length) copierRole.splice(copierRole.indexOf(dead), 1);
    const pull = broken.Resources.CopierEcrPolicy.Properties.PolicyDocument.Statement.find((s: Json) => s.Sid === 'EcrPull');
    pull.Action = ['ecr:BatchGetImage'];
    delete broken.Resources.CopierNotifyPolicy;
    const after = await new RoleEvaluator(broken, { stack, names: queueNames() }).check(recorder.calls());
    const denied = describeFindings(after.denied);
    assert.match(denied, new RegExp(`^copier: sns:Publish on ${TOPIC} \\(SNS Publish\\)$`, 'm'));
    assert.match(denied, new RegExp(`^copier: sqs:SendMessage on arn:aws:sqs:${stack.region}:${stack.account}:iam-dlq \\(SQS SendMessage\\)$`, 'm'));
    assert.match(denied, /^copier: ecr:GetDownloadUrlForLayer on arn:aws:ecr:[^ ]+:repository\/apps\/api \(GET \/v2\/apps\/api\/blobs\/sha256:[0-9a-f]+\)$/m);
  });

  test('a grant added that nothing uses is reported', async () => {
    const extra = structuredClone(pkg.template) as Json;
    extra.Resources.PlannerRole.Properties.Policies[0].PolicyDocument.Statement.push({ Sid: 'Extra', Effect: 'Allow', Action: ['sqs:GetQueueUrl'], Resource: { 'Fn::GetAtt': ['MigrationDlq', 'Arn'] } });
    const after = await new RoleEvaluator(extra, { stack, names: queueNames() }).check(recorder.calls());
    assert.equal(describeFindings(after.unexercised), `planner: sqs:GetQueueUrl on arn:aws:sqs:${stack.region}:${stack.account}:iam-dlq (planner Extra)`);
  });
});
