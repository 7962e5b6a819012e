// `npm run package` as a user runs it (issue 14, items 4 and 5), offline and without AWS credentials:
// a config the functions would refuse at cold start stops the packaging before anything is bundled,
// with every problem listed; a config with secret references packages (their syntax is checked, their
// values cannot be read offline); the system's temporary directory does not grow; and the template
// holds the long-haul queue, its alarm, the copier's one permission on it and 14-day retention.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/files.js';
import { type Json, credentialFreeEnv, lambdaFunction, packagingTurn, projectRoot, resourcesOf, target } from '../helpers/lambda-package.js';

const run = promisify(execFile);
const configDir = join(projectRoot, 'dist', `package-checks-${process.pid}`);
const rel = (name: string) => `./dist/package-checks-${process.pid}/${name}`;

async function unshareWorks(): Promise<boolean> {
  return run('unshare', ['-rn', 'true']).then(
    () => true,
    () => false,
  );
}

/** `npm run package` with its own TMPDIR (to watch it), offline where `unshare -rn` works. */
async function packageWith(config: string, out: string, tmp: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ['run', '--silent', 'package', '--', '--package', out, `--param=config=${rel(config)}`];
  const [cmd, argv] = (await unshareWorks()) ? ['unshare', ['-rn', 'npm', ...args]] : ['npm', args];
  return packagingTurn(() => run(cmd, argv, { cwd: projectRoot, env: credentialFreeEnv({ TMPDIR: tmp }), timeout: 120_000, maxBuffer: 1 << 24 })).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
  );
}

before(() => {
  mkdirSync(configDir, { recursive: true });
  // A `destinaton` typo, a misspelt secret scheme and an out-of-range number: three problems, one run.
  writeFileSync(
    join(configDir, 'typo.yaml'),
    `version: 1
defaults: { concurrency: 0 }
registries:
  "src.example:5000": { username: bot, password: "\${secretmanager:swr-migrate/src}" }
rules:
  - source: src.example:5000/app:v1
    destinaton: dst.example:5000/mirror
`,
  );
  // References that only the functions can resolve, with their own role and environment.
  writeFileSync(
    join(configDir, 'secrets.yaml'),
    `version: 1
registries:
  "src.example:5000": { username: "\${env:SWRM_PACKAGE_TEST_UNSET}", password: "\${secretsmanager:swr-migrate/src#password}" }
  "dst.example:5000": { username: bot, password: "\${ssm:/swr-migrate/dst}" }
rules:
  - source: src.example:5000/app:v1
    destination: dst.example:5000/mirror
`,
  );
});
after(() => rmSync(configDir, { recursive: true, force: true }));

describe('npm run package refuses what the functions would refuse', () => {
  test('a destinaton typo fails the packaging, with every problem of the config listed at its line, before anything is bundled', async () => {
    const out = tempDir('swrm-pkg-typo-');
    const tmp = tempDir('swrm-pkg-tmp-');
    const r = await packageWith('typo.yaml', out, tmp);
    assert.notEqual(r.code, 0, `packaged a config the functions refuse:\n${r.stdout}`);
    const text = r.stdout + r.stderr;
    assert.match(text, /param config \S+typo\.yaml: the functions would refuse it at cold start: invalid config file \S+typo\.yaml \[SWRM_CONFIG\]/);
    assert.match(text, /typo\.yaml:7:5: rules\[0\]: Unrecognized key: "destinaton"/);
    assert.match(text, /typo\.yaml:6:5: rules\[0\]\.destination: expected registry\/namespace/);
    assert.match(text, /typo\.yaml:2:26: defaults\.concurrency: expected a whole number from 1 to 256/);
    assert.match(text, /typo\.yaml:4:\d+: registries\.src\.example:5000\.password: unknown reference "\$\{secretmanager:\.\.\.\}" \(did you mean \$\{secretsmanager:\.\.\.\}\?\)/);
    // Listed once (SWRM_CONFIG is the one variable that checks), and nothing was built.
    assert.equal(text.match(/Unrecognized key: "destinaton"/g)?.length, 1, text);
    assert.deepEqual(readdirSync(out), [], 'nothing bundled');
    assert.deepEqual(readdirSync(tmp), [], 'nothing left in the temporary directory');
  });
});

describe('npm run package with secret references', () => {
  let out: string;
  let tmp: string;
  let result: { code: number; stdout: string; stderr: string };
  let template: Json;
  before(async () => {
    out = tempDir('swrm-pkg-ok-');
    tmp = tempDir('swrm-pkg-tmp-');
    result = await packageWith('secrets.yaml', out, tmp);
    if (result.code === 0) template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as Json;
  });

  test('packages: ${secretsmanager:}, ${ssm:} and ${env:} are checked for syntax, not resolved', () => {
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(readdirSync(out).filter((f) => f.endsWith('.zip')).sort(), ['copier.zip', 'planner.zip', 'receiver.zip', 'replay.zip']);
  });

  test('the temporary directory does not grow: serverless-esbuild\'s per-function zip copies are removed', () => {
    assert.deepEqual(readdirSync(tmp), [], 'left in TMPDIR');
  });

  test('the long-haul queue: 14 days, a RedrivePolicy to the DLQ (so `work` takes it), named to the copier by LONG_QUEUE_URL', () => {
    const queues = new Map(resourcesOf(template, 'AWS::SQS::Queue'));
    const [, copier] = lambdaFunction(template, 'copier');
    const longId = target(copier.Properties.Environment.Variables.LONG_QUEUE_URL);
    const workId = target(copier.Properties.Environment.Variables.QUEUE_URL);
    const dlqId = target(copier.Properties.Environment.Variables.DLQ_URL);
    assert.ok(longId && workId && dlqId && new Set([longId, workId, dlqId]).size === 3, 'three queues of the stack');
    for (const id of [longId, workId, dlqId]) assert.equal(queues.get(id)?.Properties.MessageRetentionPeriod, 1209600, `${id} keeps messages 14 days`);
    const long = queues.get(longId)!.Properties;
    assert.equal(target(long.RedrivePolicy.deadLetterTargetArn), dlqId);
    // The DLQ accepts it as a source (byQueue), or SQS refuses the long-haul queue's RedrivePolicy.
    const allowed = JSON.stringify(queues.get(dlqId)!.Properties.RedriveAllowPolicy.sourceQueueArns);
    assert.ok(allowed.includes(`:${long.QueueName}"`), allowed);
    // No Lambda consumes it.
    const mapped = resourcesOf(template, 'AWS::Lambda::EventSourceMapping').map(([, m]) => target(m.Properties.EventSourceArn));
    assert.deepEqual(mapped, [workId]);
    assert.equal(template.Outputs.LongQueueUrl.Value.Ref, longId);
  });

  test('the copier may only SendMessage to the long-haul queue; no other role touches it', () => {
    const [, copier] = lambdaFunction(template, 'copier');
    const longId = target(copier.Properties.Environment.Variables.LONG_QUEUE_URL);
    for (const [id, role] of resourcesOf(template, 'AWS::IAM::Role')) {
      const onLong = (role.Properties.Policies as Json[]).flatMap((p) => p.PolicyDocument.Statement as Json[]).filter((s) => target(s.Resource) === longId);
      if (id === target(copier.Properties.Role)) assert.deepEqual(onLong.map((s) => [s.Effect, s.Action]), [['Allow', ['sqs:SendMessage']]]);
      else assert.deepEqual(onLong, [], `${id} has no business on the long-haul queue`);
    }
  });

  test('an alarm fires while the long-haul queue holds messages (waiting or in flight), on the same SNS parameter as the DLQ alarm', () => {
    const [, copier] = lambdaFunction(template, 'copier');
    const longId = target(copier.Properties.Environment.Variables.LONG_QUEUE_URL);
    const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const alarm = alarms.find((a) => (a.Metrics as Json[] | undefined)?.some((m) => target(m.MetricStat?.Metric.Dimensions[0].Value) === longId));
    assert.ok(alarm, 'a long-haul depth alarm');
    const metrics = alarm.Metrics as Json[];
    const names = metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric.MetricName).sort();
    assert.deepEqual(names, ['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesVisible']);
    const returned = metrics.filter((m) => m.ReturnData);
    assert.equal(returned.length, 1);
    assert.equal(returned[0]!.Expression, 'waiting + inflight');
    assert.equal(alarm.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    assert.equal(alarm.Threshold, 1);
    const dlqAlarm = alarms.find((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && a.Namespace === 'AWS/SQS');
    assert.deepEqual(alarm.AlarmActions, dlqAlarm?.AlarmActions);
  });
});
