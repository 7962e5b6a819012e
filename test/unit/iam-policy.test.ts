// The IAM check of issue 14 (item 1) on small templates: the recorder's mapping of calls to IAM
// actions and ARNs, the template resolver, and the evaluator's two findings, a call the role would
// deny and a grant nothing exercised, each shown to fail on a deliberately broken role.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { awsClient } from '../../lib/aws/clients.js';
import { FAKE_STACK, IamRecorder, iamCallsOf, registryIamCalls } from '../helpers/iam-recorder.js';
import { RoleEvaluator, TemplateResolver, describeFindings } from '../helpers/iam-policy.js';
import type { Json } from '../helpers/lambda-package.js';

const DLQ_URL = 'http://127.0.0.1:9324/000000000000/svc-dev-dlq';
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:svc-dev';
const DLQ_ARN = 'arn:aws:sqs:us-east-1:123456789012:svc-dev-dlq';

/** A copier whose role lets Lambda poll its queue, write its logs, and send to the DLQ. */
function template(): Json {
  return {
    Resources: {
      Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'svc-dev' } },
      Dlq: { Type: 'AWS::SQS::Queue', Properties: { QueueName: { 'Fn::Join': ['-', ['svc', 'dev', 'dlq']] } } },
      CopierRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          Policies: [
            {
              PolicyName: 'copier',
              PolicyDocument: {
                Version: '2012-10-17',
                Statement: [
                  { Sid: 'Logs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/svc-dev-copier:*' } },
                  { Sid: 'Consume', Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'], Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] } },
                  { Sid: 'DeadLetters', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: { 'Fn::GetAtt': ['Dlq', 'Arn'] } },
                ],
              },
            },
          ],
        },
      },
      CopierLambdaFunction: { Type: 'AWS::Lambda::Function', Properties: { Handler: 'functions/copier.handler', FunctionName: 'svc-dev-copier', Role: { 'Fn::GetAtt': ['CopierRole', 'Arn'] } } },
      Mapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: { 'Fn::GetAtt': ['CopierLambdaFunction', 'Arn'] }, EventSourceArn: { 'Fn::GetAtt': ['Queue', 'Arn'] } } },
    },
  };
}

const statement = (t: Json, sid: string): Json => t.Resources.CopierRole.Properties.Policies[0].PolicyDocument.Statement.find((s: Json) => s.Sid === sid);

/** What the copier did: a dead letter sent in a batch (authorized as sqs:SendMessage). */
const dlqSend = () => new Map([['copier', iamCallsOf({ client: 'SQSClient', operation: 'SendMessageBatch', input: { QueueUrl: DLQ_URL } })]]);

describe('IAM evaluator (packaged roles, offline)', () => {
  test('every call allowed and every grant exercised: no finding', async () => {
    const report = await new RoleEvaluator(template()).check(dlqSend());
    assert.deepEqual(report.denied, []);
    assert.deepEqual(report.unexercised, []);
    // Lambda's own calls with the role are part of the check (logs, the event source mapping).
    assert.deepEqual([...new Set(report.calls.get('copier')!.map((c) => c.action))].sort(), [
      'logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:SendMessage',
    ]);
  });

  test('a call no statement grants is denied, naming the function, action and resource', async () => {
    const calls = dlqSend();
    calls.get('copier')!.push(...iamCallsOf({ client: 'SQSClient', operation: 'GetQueueUrl', input: { QueueName: 'svc-dev-dlq' } }));
    const report = await new RoleEvaluator(template()).check(calls);
    assert.equal(describeFindings(report.denied), `copier: sqs:GetQueueUrl on ${DLQ_ARN} (SQS GetQueueUrl)`);
  });

  test('a line removed from the role: the call it granted is denied', async () => {
    const t = template();
    statement(t, 'Consume').Action = ['sqs:ReceiveMessage', 'sqs:GetQueueAttributes'];
    const report = await new RoleEvaluator(t).check(dlqSend());
    assert.equal(describeFindings(report.denied), `copier: sqs:DeleteMessage on ${QUEUE_ARN} (Lambda (SQS event source mapping))`);
  });

  test('a line added to the role that nothing calls: granted but never exercised, naming the statement', async () => {
    const t = template();
    statement(t, 'DeadLetters').Action = ['sqs:SendMessage', 'sqs:GetQueueAttributes'];
    statement(t, 'Consume').Resource = [{ 'Fn::GetAtt': ['Queue', 'Arn'] }, { 'Fn::GetAtt': ['Dlq', 'Arn'] }];
    const report = await new RoleEvaluator(t).check(dlqSend());
    assert.deepEqual(report.denied, []);
    assert.deepEqual(describeFindings(report.unexercised).split('\n').sort(), [
      `copier: sqs:DeleteMessage on ${DLQ_ARN} (copier Consume)`,
      `copier: sqs:GetQueueAttributes on ${DLQ_ARN} (copier Consume)`,
      `copier: sqs:GetQueueAttributes on ${DLQ_ARN} (copier DeadLetters)`,
      `copier: sqs:ReceiveMessage on ${DLQ_ARN} (copier Consume)`,
    ]);
  });

  test('attached AWS::IAM::Policy resources count; a literal "*" in a request ARN is not a pattern', async () => {
    const t = template();
    const repos = (resource: string): Json => ({
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'copier-ecr',
        Roles: [{ Ref: 'CopierRole' }],
        PolicyDocument: {
          Statement: [
            { Sid: 'EcrLogin', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: '*' },
            { Sid: 'EcrRepositories', Effect: 'Allow', Action: ['ecr:DescribeRepositories'], Resource: [{ 'Fn::Sub': `arn:\${AWS::Partition}:ecr:\${AWS::Region}:\${AWS::AccountId}:${resource}` }] },
          ],
        },
      },
    });
    const calls = dlqSend();
    calls.get('copier')!.push(
      ...iamCallsOf({ client: 'ECRClient', operation: 'GetAuthorizationToken', input: {}, region: 'us-east-1' }),
      ...iamCallsOf({ client: 'ECRClient', operation: 'DescribeRepositories', input: { maxResults: 100 }, region: 'us-east-1' }),
    );
    t.Resources.CopierEcrPolicy = repos('repository/*');
    assert.deepEqual((await new RoleEvaluator(t).check(calls)).denied, []);
    // Listing a registry is authorized on `repository/*`, which `team/*` does not cover (AWS
    // compares the request's ARN as a string; a simulator treating it as a pattern would allow it).
    t.Resources.CopierEcrPolicy = repos('repository/team/*');
    const report = await new RoleEvaluator(t).check(calls);
    assert.equal(describeFindings(report.denied), 'copier: ecr:DescribeRepositories on arn:aws:ecr:us-east-1:123456789012:repository/* (ECR DescribeRepositories)');
  });

  test('an unknown action (a mapping mistake) is an error, not a denial', async () => {
    const calls = new Map([['copier', [{ action: 'sqs:SendMessageBatch', resource: DLQ_ARN, via: 'hand-made' }]]]);
    await assert.rejects(new RoleEvaluator(template()).check(calls), /cannot evaluate sqs:SendMessageBatch/);
  });
});

describe('template resolver', () => {
  test('Ref, Fn::GetAtt, Fn::Sub (with variables), Fn::Join, Fn::If and stand-in queue names', () => {
    const t = template();
    t.Conditions = { HasTopic: { 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] } };
    const r = new TemplateResolver(t, { stack: FAKE_STACK, names: { Queue: 'local-q' } });
    assert.equal(r.value({ Ref: 'Queue' }), 'https://sqs.us-east-1.amazonaws.com/123456789012/local-q');
    assert.equal(r.value({ 'Fn::GetAtt': ['Dlq', 'Arn'] }), DLQ_ARN);
    assert.equal(r.value({ 'Fn::Sub': ['${Q}/${AWS::Region}/${!Literal}', { Q: { 'Fn::GetAtt': ['Queue', 'QueueName'] } }] }), 'local-q/us-east-1/${Literal}');
    assert.deepEqual(r.value({ A: { 'Fn::If': ['HasTopic', 'x', { Ref: 'AWS::NoValue' }] }, B: 1 }), { B: 1 });
    // A DynamoDB table: Ref is its name, Arn its table ARN.
    t.Resources.StateTable = { Type: 'AWS::DynamoDB::Table', Properties: { TableName: { 'Fn::Sub': '${AWS::StackName}-state' } } };
    assert.equal(r.value({ Ref: 'StateTable' }), 'swr-migrate-dev-state');
    assert.equal(r.value({ 'Fn::GetAtt': ['StateTable', 'Arn'] }), 'arn:aws:dynamodb:us-east-1:123456789012:table/swr-migrate-dev-state');
  });
});

describe('IAM recorder', () => {
  test('SDK calls map to IAM actions and ARNs (batches as their single action; DynamoDB transactions per item)', () => {
    const one = (client: string, operation: string, input: Record<string, unknown>, region?: string) =>
      iamCallsOf({ client, operation, input, ...(region ? { region } : {}) }).map((c) => `${c.action} ${c.resource}`);
    assert.deepEqual(one('SQSClient', 'DeleteMessageBatch', { QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/svc-dev' }), [`sqs:DeleteMessage ${QUEUE_ARN}`]);
    assert.deepEqual(one('SQSClient', 'StartMessageMoveTask', { SourceArn: 'arn:aws:sqs:us-east-1:000000000000:svc-dev-dlq', DestinationArn: 'arn:aws:sqs:us-east-1:000000000000:svc-dev' }), [
      `sqs:StartMessageMoveTask ${DLQ_ARN}`, `sqs:ReceiveMessage ${DLQ_ARN}`, `sqs:DeleteMessage ${DLQ_ARN}`, `sqs:GetQueueAttributes ${DLQ_ARN}`, `sqs:SendMessage ${QUEUE_ARN}`,
    ]);
    assert.deepEqual(one('SecretsManagerClient', 'GetSecretValue', { SecretId: 'swr-migrate/hub' }), ['secretsmanager:GetSecretValue arn:aws:secretsmanager:us-east-1:123456789012:secret:swr-migrate/hub-AbCdEf']);
    assert.deepEqual(one('SSMClient', 'GetParameter', { Name: '/swr-migrate/quay' }), ['ssm:GetParameter arn:aws:ssm:us-east-1:123456789012:parameter/swr-migrate/quay']);
    assert.deepEqual(one('ECRClient', 'DescribeImages', { registryId: '210987654321', repositoryName: 'team/app' }, 'eu-central-1'), ['ecr:DescribeImages arn:aws:ecr:eu-central-1:210987654321:repository/team/app']);
    assert.deepEqual(one('ECRClient', 'GetAuthorizationToken', {}, 'eu-central-1'), ['ecr:GetAuthorizationToken *']);
    assert.deepEqual(one('DynamoDBClient', 'TransactWriteItems', { TransactItems: [{ Put: { TableName: 'state' } }, { Update: { TableName: 'state' } }] }), [
      'dynamodb:PutItem arn:aws:dynamodb:us-east-1:123456789012:table/state', 'dynamodb:UpdateItem arn:aws:dynamodb:us-east-1:123456789012:table/state',
    ]);
    assert.deepEqual(one('DynamoDBClient', 'Query', { TableName: 'state', IndexName: 'byRun' }), ['dynamodb:Query arn:aws:dynamodb:us-east-1:123456789012:table/state/index/byRun']);
    assert.deepEqual(one('DynamoDBClient', 'DescribeTable', { TableName: 'state' }), ['dynamodb:DescribeTable arn:aws:dynamodb:us-east-1:123456789012:table/state']);
  });

  test('registry requests to an ECR registry map to the ECR actions AWS authorizes them as', () => {
    const ecr = { account: '210987654321', region: 'eu-central-1' };
    const one = (method: string, path: string) => registryIamCalls(method, path, ecr).map((c) => `${c.action} ${c.resource.split(':').at(-1)}`);
    assert.deepEqual(one('GET', '/v2/'), []);
    assert.deepEqual(one('HEAD', '/v2/team/app/manifests/v1'), ['ecr:BatchGetImage repository/team/app']);
    assert.deepEqual(one('GET', '/v2/team/app/blobs/sha256:ab'), ['ecr:GetDownloadUrlForLayer repository/team/app']);
    assert.deepEqual(one('HEAD', '/v2/team/app/blobs/sha256:ab'), ['ecr:BatchCheckLayerAvailability repository/team/app']);
    assert.deepEqual(one('GET', '/v2/team/app/tags/list?n=100'), ['ecr:ListImages repository/team/app']);
  });

  test('calls are filed under the function whose run they happen in; calls outside any run are not recorded', async () => {
    // A stand-in client: the same middleware stack shape the SDK's clients have.
    type Mw = (next: (args: unknown) => Promise<unknown>, ctx: Record<string, unknown>) => (args: unknown) => Promise<unknown>;
    let mw: Mw | undefined;
    const client = awsClient({ middlewareStack: { add: (m: Mw) => void (mw = m) }, config: { region: async () => 'us-east-1' } });
    assert.ok(client && mw);
    const send = (operation: string, QueueUrl: string, clientName = 'SQSClient') => mw!(async () => ({}), { clientName, commandName: `${operation}Command` })({ input: { QueueUrl } });
    const recorder = new IamRecorder().start();
    try {
      await send('SendMessageBatch', 'http://127.0.0.1:1/000000000000/outside');
      await Promise.all([recorder.run('planner', () => send('SendMessageBatch', 'http://127.0.0.1:1/000000000000/svc-dev')), recorder.wrap('replay', async () => send('GetQueueUrl', DLQ_URL))()]);
      await recorder.run('copier', () => send('PutRecord', DLQ_URL, 'KinesisClient'));
    } finally {
      recorder.stop();
    }
    await send('SendMessage', 'http://127.0.0.1:1/000000000000/after-stop');
    const calls = recorder.calls();
    assert.deepEqual([...calls.keys()].sort(), ['copier', 'planner', 'replay']);
    assert.deepEqual(calls.get('planner')!.map((c) => `${c.action} ${c.resource}`), [`sqs:SendMessage ${QUEUE_ARN}`]);
    assert.deepEqual(calls.get('replay')!.map((c) => `${c.action} ${c.resource}`), [`sqs:GetQueueUrl ${DLQ_ARN}`]);
    // A call the recorder cannot map is kept aside, so a test can insist there is none.
    assert.deepEqual(recorder.unmapped, [{ fn: 'copier', call: 'KinesisClient PutRecord' }]);
  });
});
