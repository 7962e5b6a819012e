// `npm run package` (issue 7, items 5 and 6), run once for this file: the CloudFormation template
// it builds offline, and the copier artifact it zips, unzipped and run in a fresh Node process
// against real local registries and local-aws-sqs. One packaging serves both suites (it takes
// ~10-20 s). Parameters are given non-default values to show they reach the template.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { createSqsServer } from 'local-aws-sqs';
import { METRIC_NAMESPACE, MetricName } from '../../lib/lambda/metrics.js';
import { STATE_TABLE_KEYS } from '../../lib/state/dynamo-store.js';
import { type DynamoServerHandle, startDynamoServer } from '../helpers/dynamo-server.js';
import { tempDir } from '../helpers/files.js';
import { type Json, type Packaged, credentialFreeEnv, lambdaFunction, packageService, projectRoot, resourcesOf, runBundle, target } from '../helpers/lambda-package.js';
import { FAKE_STACK, IamRecorder } from '../helpers/iam-recorder.js';
import { RoleEvaluator, describeFindings } from '../helpers/iam-policy.js';
import { getManifest, pushImage, randomLayer } from '../helpers/push.js';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';

const PARAMS = { schedule: 'rate(2 hours)', maxReceiveCount: '4', maximumConcurrency: '7', copierTimeout: '600', secretsPrefix: 'mig/', logRetentionDays: '7' };
// An ECR source in another account and region than the stack's (us-east-1): its statements, and
// the packaging note naming the repository policy to add there (issue 14).
const ECR = '210987654321.dkr.ecr.eu-central-1.amazonaws.com';
/** events.harbor: checked by the packaged receiver (issue 16). */
const HOOK_SECRET = 'pkg-harbor-hook-secret-0123456789';

let pkg: Packaged;
let src: RegistryHandle;
let dst: RegistryHandle;
let sourceDigest: string;
const configDir = join(projectRoot, 'dist', `package-test-${process.pid}`);

before(async () => {
  [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
  sourceDigest = (await pushImage(src, 'pkg/app', 'v1', { format: 'oci', layers: [randomLayer(300_000), randomLayer(1000)] })).digest;
  // The config is bundled as given (a path inside the project): it names these registries.
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'sync.yaml'),
    `version: 1\nevents: { harbor: { secret: "${HOOK_SECRET}" }, windowSeconds: 1 }\nregistries:\n  "${src.host}": { insecure: true }\n  "${dst.host}": { insecure: true }\n` +
      `rules:\n  - source: ${src.host}/pkg/app:v1\n    destination: ${dst.host}/mirror\n` +
      `  - source: ${ECR}/team/app:v1\n    destination: ${dst.host}/mirror/ecr\n`,
  );
  pkg = await packageService(tempDir('swrm-pkg-'), { ...PARAMS, config: `./dist/package-test-${process.pid}/sync.yaml` });
});
after(async () => {
  rmSync(configDir, { recursive: true, force: true });
  await stopAll();
});

/** Every statement of every IAM policy in the template (inline role policies and policy resources). */
function statements(t: Json): Json[] {
  const docs: Json[] = [];
  for (const [, r] of Object.entries(t.Resources as Json) as [string, Json][]) {
    if (r.Type === 'AWS::IAM::Role') for (const p of r.Properties.Policies ?? []) docs.push(p.PolicyDocument);
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') docs.push(r.Properties.PolicyDocument);
  }
  return docs.flatMap((d) => [d.Statement].flat());
}

describe('npm run package: the template', () => {
  test('builds offline with no AWS credentials', (t) => {
    t.diagnostic(`packaged in ${(pkg.ms / 1000).toFixed(1)} s, ${pkg.offline}`);
    assert.ok(pkg.template.Resources, 'a CloudFormation template');
  });

  test('the queue has a DLQ through a RedrivePolicy with the maxReceiveCount parameter', () => {
    const queues = resourcesOf(pkg.template, 'AWS::SQS::Queue');
    const withRedrive = queues.filter(([, q]) => q.Properties.RedrivePolicy);
    // The work queue, and the long-haul queue `work` drains (issue 14): both dead-letter into the DLQ.
    assert.equal(withRedrive.length, 2, 'the work queue and the long-haul queue');
    for (const [id, q] of withRedrive) {
      const policy = q.Properties.RedrivePolicy;
      const dlq = target(policy.deadLetterTargetArn);
      assert.ok(dlq && queues.some(([qid]) => qid === dlq), 'the DLQ is a queue of this stack');
      assert.notEqual(dlq, id);
      assert.equal(policy.maxReceiveCount, 4);
    }
  });

  test('the copier reads the queue with ReportBatchItemFailures and the MaximumConcurrency parameter', () => {
    const [copierId, copier] = lambdaFunction(pkg.template, 'copier');
    const queueId = target(copier.Properties.Environment.Variables.QUEUE_URL);
    const mappings = resourcesOf(pkg.template, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);
    assert.equal(mappings.length, 1);
    const m = mappings[0]!;
    assert.equal(target(m.FunctionName), copierId);
    assert.equal(target(m.EventSourceArn), queueId);
    assert.deepEqual(m.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.equal(m.ScalingConfig.MaximumConcurrency, 7);
  });

  test('the planner runs on the schedule parameter', () => {
    const [plannerId] = lambdaFunction(pkg.template, 'planner');
    const rules = resourcesOf(pkg.template, 'AWS::Events::Rule').map(([, r]) => r.Properties);
    assert.equal(rules.length, 1);
    assert.equal(rules[0]!.ScheduleExpression, 'rate(2 hours)');
    assert.equal(rules[0]!.State, 'ENABLED');
    assert.equal(target(rules[0]!.Targets[0].Arn), plannerId);
  });

  test('the schedule can be turned off by a parameter', async () => {
    // `osls print` resolves the same variables as `package` without building the bundles again.
    const { stdout } = await promisify(execFile)('npx', ['osls', 'print', '--format', 'json', `--param=config=./dist/package-test-${process.pid}/sync.yaml`, '--param=scheduleEnabled=false'], {
      cwd: projectRoot,
      env: credentialFreeEnv(),
      timeout: 60_000,
    });
    const events = (JSON.parse(stdout) as Json).functions.planner.events as Json[];
    assert.equal(events.length, 1);
    assert.equal(events[0]!.schedule.enabled, false);
  });

  test('the queue stays invisible for at least 6x the copier timeout', () => {
    const [, copier] = lambdaFunction(pkg.template, 'copier');
    const [, queue] = resourcesOf(pkg.template, 'AWS::SQS::Queue').find(([id]) => id === target(copier.Properties.Environment.Variables.QUEUE_URL))!;
    assert.equal(copier.Properties.Timeout, 600);
    assert.ok(queue.Properties.VisibilityTimeout >= 6 * copier.Properties.Timeout, `${queue.Properties.VisibilityTimeout} >= 6 x ${copier.Properties.Timeout}`);
  });

  test('every function runs nodejs22.x on arm64, from its own artifact, with log retention', () => {
    const fns = resourcesOf(pkg.template, 'AWS::Lambda::Function');
    assert.equal(fns.length, 4);
    const keys = new Set<string>();
    for (const [, f] of fns) {
      assert.equal(f.Properties.Runtime, 'nodejs22.x');
      assert.deepEqual(f.Properties.Architectures, ['arm64']);
      keys.add(basename(f.Properties.Code.S3Key));
    }
    assert.deepEqual([...keys].sort(), ['copier.zip', 'planner.zip', 'receiver.zip', 'replay.zip']);
    const groups = resourcesOf(pkg.template, 'AWS::Logs::LogGroup');
    assert.equal(groups.length, 4);
    for (const [, g] of groups) assert.equal(g.Properties.RetentionInDays, 7);
  });

  test('IAM: no "*" action and no "*" resource but the ECR login; secrets only under the prefix', () => {
    const all = statements(pkg.template);
    assert.ok(all.length >= 10);
    for (const s of all) {
      const actions = [s.Action].flat() as string[];
      const resources = [s.Resource].flat();
      assert.ok(!actions.some((a) => a.includes('*')), `wildcard action in ${JSON.stringify(s)}`);
      // The one exception (docs/aws.md, Permissions): ecr:GetAuthorizationToken, which IAM only grants on "*".
      assert.ok(s.NotAction === undefined && s.NotResource === undefined, 'no NotAction/NotResource');
      if (resources.includes('*')) assert.deepEqual({ ...s }, { Sid: 'EcrLogin', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' });
    }
    assert.equal(all.filter((s) => [s.Resource].flat().includes('*')).length, 1, 'one "*" statement, the ECR login');
    // The ECR source's pulls: exactly its repository, in its own account and region.
    const pulls = all.filter((s) => [s.Action].flat().includes('ecr:BatchGetImage'));
    assert.deepEqual(pulls.map((s) => s.Resource), [[{ 'Fn::Sub': `arn:\${AWS::Partition}:ecr:eu-central-1:210987654321:repository/team/app` }]]);
    assert.match(pkg.stderr, /swr-migrate: ECR source 210987654321\.dkr\.ecr\.eu-central-1\.amazonaws\.com is in eu-central-1, the stack in us-east-1/);
    assert.match(pkg.stderr, /swr-migrate: ECR source 210987654321\.dkr\.ecr\.eu-central-1\.amazonaws\.com belongs to account 210987654321: .* repository's policy in 210987654321 must allow ecr:BatchGetImage, ecr:GetDownloadUrlForLayer /);
    const secret = all.filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    assert.ok(secret.length > 0);
    for (const s of secret) assert.match(JSON.stringify(s.Resource), /:secret:mig\/\*/);
    // Every function has its own role from the template, not a shared or external one.
    const roles = new Set(resourcesOf(pkg.template, 'AWS::Lambda::Function').map(([, f]) => target(f.Properties.Role)));
    assert.equal(roles.size, 4);
  });

  test('the receiver: a function URL with auth type NONE (senders cannot sign AWS requests); it may only enqueue', () => {
    const [receiverId, receiver] = lambdaFunction(pkg.template, 'receiver');
    const urls = resourcesOf(pkg.template, 'AWS::Lambda::Url');
    assert.equal(urls.length, 1);
    assert.equal(urls[0]![1].Properties.AuthType, 'NONE');
    assert.equal(target(urls[0]![1].Properties.TargetFunctionArn), receiverId);
    // A public function URL needs both permissions (AWS, since October 2025): InvokeFunctionUrl for
    // auth type NONE, and InvokeFunction only when invoked through the URL.
    const permissions = resourcesOf(pkg.template, 'AWS::Lambda::Permission').map(([, p]) => p.Properties).filter((p) => target(p.FunctionName) === receiverId);
    assert.ok(permissions.some((p) => p.Action === 'lambda:InvokeFunctionUrl' && p.Principal === '*' && p.FunctionUrlAuthType === 'NONE'), JSON.stringify(permissions));
    assert.ok(permissions.some((p) => p.Action === 'lambda:InvokeFunction' && p.Principal === '*' && p.InvokedViaFunctionUrl === true), JSON.stringify(permissions));
    const role = pkg.template.Resources[target(receiver.Properties.Role)!];
    const all = (role.Properties.Policies as Json[]).flatMap((p) => [p.PolicyDocument.Statement].flat() as Json[]);
    const sqsActions = all.flatMap((st) => ([st.Action].flat() as string[]).filter((a) => a.startsWith('sqs:')));
    assert.deepEqual(sqsActions, ['sqs:SendMessage']);
    // The ECR source is in another region than the stack: no event rule, a note instead.
    assert.equal(resourcesOf(pkg.template, 'AWS::Events::Rule').filter(([id]) => id === 'EcrPushEventRule').length, 0);
    assert.match(pkg.stderr, /ECR source 210987654321\.dkr\.ecr\.eu-central-1\.amazonaws\.com: its push events stay in eu-central-1/);
  });

  test('the deployer policy (infra/deployer-policy.json) covers every kind of resource, names only swr-migrate-*', () => {
    const policy = JSON.parse(readFileSync(join(projectRoot, 'infra', 'deployer-policy.json'), 'utf8')) as Json;
    const all = policy.Statement as Json[];
    const actions = all.flatMap((s) => [s.Action].flat() as string[]);
    assert.ok(!actions.some((a) => a.includes('*')), 'no wildcard action');
    for (const s of all) {
      const resources = [s.Resource].flat() as string[];
      // Only actions IAM cannot scope to a resource get "*", and event source mappings only by function.
      if (resources.includes('*')) assert.ok(s.Sid === 'TemplateCheck' || (s.Sid === 'EventSourceMappings' && s.Condition), JSON.stringify(s));
      else for (const r of resources) assert.match(r, /swr-migrate-\*/, r);
    }
    const services = new Set(actions.map((a) => a.split(':')[0]));
    const prefix: Record<string, string> = { SQS: 'sqs', Lambda: 'lambda', IAM: 'iam', Logs: 'logs', Events: 'events', CloudWatch: 'cloudwatch', S3: 's3', DynamoDB: 'dynamodb' };
    for (const [id, r] of Object.entries(pkg.template.Resources as Json) as [string, Json][]) {
      const service = prefix[String(r.Type).split('::')[1]!];
      assert.ok(service && services.has(service), `${id} (${r.Type}) needs ${service ?? 'an unknown service'}`);
    }
  });

  test('the state table: on-demand, TTL on the attribute the code writes, keyed as the code reads it; named to every function', () => {
    const tables = resourcesOf(pkg.template, 'AWS::DynamoDB::Table');
    assert.equal(tables.length, 1);
    const [tableId, table] = tables[0]!;
    assert.equal(table.Properties.BillingMode, 'PAY_PER_REQUEST');
    assert.deepEqual(table.Properties.TimeToLiveSpecification, { AttributeName: STATE_TABLE_KEYS.ttl, Enabled: true });
    assert.deepEqual(table.Properties.KeySchema, [
      { AttributeName: STATE_TABLE_KEYS.partition, KeyType: 'HASH' },
      { AttributeName: STATE_TABLE_KEYS.sort, KeyType: 'RANGE' },
    ]);
    for (const [id, f] of resourcesOf(pkg.template, 'AWS::Lambda::Function')) assert.equal(target(f.Properties.Environment.Variables.SWRM_STATE_TABLE), tableId, id);
  });

  test('IAM: the planner and the copier get exactly the dynamodb actions their code calls, on the state table only', () => {
    const [tableId] = resourcesOf(pkg.template, 'AWS::DynamoDB::Table')[0]!;
    const granted = (fn: string) => {
      const role = pkg.template.Resources[target(lambdaFunction(pkg.template, fn)[1].Properties.Role)!];
      const all = (role.Properties.Policies as Json[]).flatMap((p) => [p.PolicyDocument.Statement].flat() as Json[]);
      const dynamo = all.filter((st) => ([st.Action].flat() as string[]).some((a) => a.startsWith('dynamodb:')));
      for (const st of dynamo) for (const r of [st.Resource].flat()) assert.equal(target(r), tableId, `${fn}: ${JSON.stringify(r)}`);
      return dynamo.flatMap((st) => [st.Action].flat() as string[]).sort();
    };
    // lib/state/dynamo-store.ts: probe and get = GetItem, put = PutItem, add = UpdateItem, query = Query.
    assert.deepEqual(granted('planner'), ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    assert.deepEqual(granted('copier'), ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    assert.deepEqual(granted('replay'), []);
  });

  test('an alarm watches the DLQ depth', () => {
    const [dlqId] = resourcesOf(pkg.template, 'AWS::SQS::Queue').find(([, q]) => !q.Properties.RedrivePolicy)!;
    const alarms = resourcesOf(pkg.template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const a = alarms.find((p) => p.Namespace === 'AWS/SQS' && p.MetricName === 'ApproximateNumberOfMessagesVisible');
    assert.ok(a, 'a DLQ depth alarm');
    assert.equal(target(a.Dimensions[0].Value), dlqId);
    assert.equal(a.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    assert.equal(a.Threshold, 1);
  });

  test('the dashboard shows images copied, skipped, failed, bytes (the EMF names) and the DLQ depth', () => {
    const dashboards = resourcesOf(pkg.template, 'AWS::CloudWatch::Dashboard');
    assert.equal(dashboards.length, 1);
    const [body, vars] = dashboards[0]![1].Properties.DashboardBody['Fn::Sub'] as [string, Json];
    // Substitute as CloudFormation would, with logical ids standing in for the queue names.
    const text = body.replace(/\$\{([^}]+)\}/g, (_, k: string) => {
      const v = k === 'AWS::Region' ? 'us-east-1' : vars[k];
      assert.ok(v !== undefined, `unknown substitution \${${k}}`);
      return typeof v === 'object' ? `@${target(v)}` : String(v);
    });
    const metrics = (JSON.parse(text) as Json).widgets.flatMap((w: Json) => w.properties.metrics ?? []) as unknown[][];
    const [, copier] = lambdaFunction(pkg.template, 'copier');
    const service = copier.Properties.Environment.Variables.SWRM_METRICS_SERVICE;
    for (const name of Object.values(MetricName)) {
      assert.ok(metrics.some((m) => m[0] === METRIC_NAMESPACE && m[1] === name && m[2] === 'Service' && m[3] === service), `${name} for ${service}`);
    }
    const [dlqId] = resourcesOf(pkg.template, 'AWS::SQS::Queue').find(([, q]) => !q.Properties.RedrivePolicy)!;
    assert.ok(metrics.some((m) => m[0] === 'AWS/SQS' && m[1] === 'ApproximateNumberOfMessagesVisible' && m[3] === `@${dlqId}`), 'DLQ depth');
  });
});

describe('npm run package: the copier bundle runs', () => {
  let sqsServer: Server;
  let dynamo: DynamoServerHandle | undefined;
  after(async () => {
    await dynamo?.stop();
    await new Promise<void>((r) => (sqsServer ? sqsServer.close(() => r()) : r()));
  });

  test('unzipped and loaded in a fresh Node process, it copies the image of an SQS event', async (t) => {
    const [, copier] = lambdaFunction(pkg.template, 'copier');
    const zip = join(pkg.dir, basename(copier.Properties.Code.S3Key));
    const dir = tempDir('swrm-bundle-');
    await promisify(execFile)('unzip', ['-q', zip, '-d', dir]);

    sqsServer = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
    const addr = sqsServer.address();
    assert.ok(addr && typeof addr === 'object');
    const endpoint = `http://127.0.0.1:${addr.port}`;
    const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'pkg-dlq' }))).QueueUrl!;
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const queueUrl = (
      await sqs.send(
        new CreateQueueCommand({ QueueName: 'pkg', Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 4 }) } }),
      )
    ).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const body = JSON.stringify({ v: 1, kind: 'copy-image', source: `${src.host}/pkg/app:v1`, destination: `${dst.host}/mirror/app:v1` });
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    // local-aws-sqs ignores MessageSystemAttributeNames: ask with AttributeNames (issue 7's quirks).
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, AttributeNames: ['All'] }));
    const msg = received.Messages![0]!;
    sqs.destroy();
    const event = {
      Records: [
        {
          messageId: msg.MessageId,
          receiptHandle: msg.ReceiptHandle,
          body: msg.Body,
          attributes: msg.Attributes,
          messageAttributes: {},
          md5OfBody: msg.MD5OfBody,
          eventSource: 'aws:sqs',
          eventSourceARN: queueArn,
          awsRegion: 'us-east-1',
        },
      ],
    };

    // The state table, created as the template declares it, on dynalite.
    dynamo = await startDynamoServer();
    await dynamo.createStateTable('pkg-state', resourcesOf(pkg.template, 'AWS::DynamoDB::Table')[0]![1].Properties);

    // The function's own environment from the template, its queue and table references made local.
    const vars = copier.Properties.Environment.Variables as Json;
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LAMBDA_TASK_ROOT: dir, AWS_LAMBDA_FUNCTION_NAME: 'copier' };
    const local: Record<string, string> = { QUEUE_URL: queueUrl, QUEUE_ARN: queueArn, DLQ_URL: dlqUrl, DLQ_ARN: dlqArn, SWRM_STATE_TABLE: 'pkg-state' };
    for (const [k, v] of Object.entries(vars)) env[k] = typeof v === 'string' ? v : local[k]!;
    assert.deepEqual(Object.keys(local).filter((k) => !(k in vars)), [], 'the template gives the queue, the DLQ and the state table');
    Object.assign(env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_ENDPOINT_URL_SQS: endpoint, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint });

    const res = await runBundle(dir, copier.Properties.Handler, event, env, { recordAwsCalls: true });
    assert.deepEqual(res.result, { batchItemFailures: [] }, `stderr: ${res.stderr}`);
    // The packaged bundle's own AWS calls, recorded in its process: its role allows every one.
    const recorder = new IamRecorder();
    recorder.addChildOutput('copier', res.stdout);
    assert.ok((recorder.calls().get('copier') ?? []).some((c) => c.action === 'sqs:DeleteMessage'), 'the bundle\'s calls were recorded');
    const iam = await new RoleEvaluator(pkg.template, { stack: { ...FAKE_STACK, region: 'us-east-1' }, names: { MigrationQueue: 'pkg', MigrationDlq: 'pkg-dlq', StateTable: 'pkg-state' } }).check(recorder.calls());
    assert.equal(describeFindings(iam.denied), '', 'calls the copier role would deny');
    const copied = await getManifest(dst, 'mirror/app', 'v1');
    assert.equal(copied?.digest, sourceDigest, 'the destination has the source image, digest-exact');
    assert.ok(dynamo.calls.includes('GetItem'), 'the bundle probed its state table through AWS_ENDPOINT_URL_DYNAMODB');

    const zipBytes = statSync(zip).size;
    const mjs = statSync(join(dir, `${copier.Properties.Handler.replace(/\.handler$/, '')}.mjs`)).size;
    // Cold start, module part: five more fresh processes that only import the handler (the machine
    // is shared, so the median, not one sample).
    const runs = [res];
    for (let i = 0; i < 5; i++) runs.push(await runBundle(dir, copier.Properties.Handler, null, env));
    const mid = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const samples = runs.map((r) => r.importMs).sort((a, b) => a - b);
    const median = mid(samples);
    const cpuMedian = mid(runs.map((r) => r.importCpuMs));
    t.diagnostic(
      `copier.zip ${(zipBytes / 1024).toFixed(0)} KiB, bundle ${(mjs / 1024).toFixed(0)} KiB; ` +
        `cold import median ${median.toFixed(0)} ms wall (min ${samples[0]!.toFixed(0)}, max ${samples.at(-1)!.toFixed(0)}, n=${samples.length}), ${cpuMedian.toFixed(0)} ms CPU`,
    );
    // Target 300 ms (issue 7); the bound here is loose, and on CPU time: the wall time of a busy
    // shared machine also counts other processes' turns (2.6 s wall for 0.6 s CPU was seen).
    assert.ok(cpuMedian < 1500, `cold import took ${cpuMedian.toFixed(0)} ms CPU (${median.toFixed(0)} ms wall)`);
  });
});

describe('npm run package: the receiver bundle runs', () => {
  let sqsServer: Server | undefined;
  let dynamo: DynamoServerHandle | undefined;
  after(async () => {
    await dynamo?.stop();
    await new Promise<void>((r) => (sqsServer ? sqsServer.close(() => r()) : r()));
  });

  test('unzipped in a fresh Node process: a forged webhook is refused, a valid one is one delayed re-check; its role allows every call', async () => {
    const [, receiver] = lambdaFunction(pkg.template, 'receiver');
    const dir = tempDir('swrm-receiver-bundle-');
    await promisify(execFile)('unzip', ['-q', join(pkg.dir, basename(receiver.Properties.Code.S3Key)), '-d', dir]);
    sqsServer = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
    const addr = sqsServer.address();
    assert.ok(addr && typeof addr === 'object');
    const endpoint = `http://127.0.0.1:${addr.port}`;
    const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'pkg' }))).QueueUrl!;
    const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'pkg-dlq' }))).QueueUrl!;
    const arn = async (url: string) => (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    dynamo = await startDynamoServer();
    await dynamo.createStateTable('pkg-state', resourcesOf(pkg.template, 'AWS::DynamoDB::Table')[0]![1].Properties);
    const vars = receiver.Properties.Environment.Variables as Json;
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LAMBDA_TASK_ROOT: dir, AWS_LAMBDA_FUNCTION_NAME: 'receiver' };
    // The stack's environment as every function gets it (the receiver only uses the queue and the table).
    const local: Record<string, string> = { QUEUE_URL: queueUrl, QUEUE_ARN: await arn(queueUrl), DLQ_URL: dlqUrl, DLQ_ARN: await arn(dlqUrl), LONG_QUEUE_URL: queueUrl, SWRM_STATE_TABLE: 'pkg-state' };
    for (const [k, v] of Object.entries(vars)) env[k] = typeof v === 'string' ? v : local[k]!;
    Object.assign(env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_ENDPOINT_URL_SQS: endpoint, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint });
    const hook = JSON.stringify({ type: 'PUSH_ARTIFACT', occur_at: 1, operator: 'ci', event_data: { resources: [{ tag: 'v1', resource_url: `${src.host}/pkg/app:v1` }], repository: { repo_full_name: 'pkg/app' } } });
    const urlEvent = (authorization: string) => ({ rawPath: '/hooks/harbor', headers: { authorization, 'content-type': 'application/json' }, body: hook, isBase64Encoded: false, requestContext: { http: { method: 'POST' } } });

    const forged = await runBundle(dir, receiver.Properties.Handler, urlEvent('Bearer not-the-secret-0123456789'), env);
    assert.equal((forged.result as { statusCode: number }).statusCode, 401, forged.stderr);
    const valid = await runBundle(dir, receiver.Properties.Handler, urlEvent(`Bearer ${HOOK_SECRET}`), env, { recordAwsCalls: true });
    const answer = valid.result as { statusCode: number; body: string };
    assert.equal(answer.statusCode, 202, valid.stderr);
    assert.deepEqual(JSON.parse(answer.body), { accepted: 1, merged: 0, ignored: 0 });
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }))).Attributes!;
    assert.equal(Number(attrs.ApproximateNumberOfMessages) + Number(attrs.ApproximateNumberOfMessagesDelayed), 1, JSON.stringify(attrs));
    sqs.destroy();
    const recorder = new IamRecorder();
    recorder.addChildOutput('receiver', valid.stdout);
    const actions = (recorder.calls().get('receiver') ?? []).map((c) => c.action);
    assert.ok(actions.includes('sqs:SendMessage') && actions.includes('dynamodb:PutItem'), actions.join(', '));
    const iam = await new RoleEvaluator(pkg.template, { stack: { ...FAKE_STACK, region: 'us-east-1' }, names: { MigrationQueue: 'pkg', StateTable: 'pkg-state' } }).check(recorder.calls());
    assert.equal(describeFindings(iam.denied), '', 'calls the receiver role would deny');
  });
});
