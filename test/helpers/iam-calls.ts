// How AWS authorizes a call (issue 14, item 1): an SDK call or an ECR registry request as the IAM
// action(s) it needs and the resource ARN. ARNs are built for a fixed fake stack (FAKE_STACK): the
// stand-ins (local-aws-sqs, the secrets and ECR stand-ins) are taken to live in its account and
// region, as the real services would for the deployed functions; iam-template.ts resolves the
// packaged template for the same stack.
import type { AwsCall } from '../../lib/aws/clients.js';

export interface Stack {
  partition: string;
  region: string;
  account: string;
}

/** The stack every test ARN is made for (the region is the tests' AWS_REGION). */
export const FAKE_STACK: Stack = { partition: 'aws', region: 'us-east-1', account: '123456789012' };

/** A Lambda function by its handler's module name: planner, copier, replay. */
export type FunctionName = string;

/** One authorization AWS would make: this action on this resource, and what caused it. */
export interface IamCall {
  action: string;
  resource: string;
  /** The SDK operation or registry request it came from, for messages. */
  via: string;
}

const BATCH = /^(SendMessage|DeleteMessage|ChangeMessageVisibility)Batch$/;
const SERVICE: Record<string, string> = {
  SQSClient: 'sqs',
  ECRClient: 'ecr',
  SecretsManagerClient: 'secretsmanager',
  SSMClient: 'ssm',
  DynamoDBClient: 'dynamodb',
  STSClient: 'sts',
  CloudWatchClient: 'cloudwatch',
  SNSClient: 'sns',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** A queue's name from its URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`, or a stand-in's). */
function queueArn(stack: Stack, urlOrArn: string): string {
  if (urlOrArn.startsWith('arn:')) return `arn:${stack.partition}:sqs:${stack.region}:${stack.account}:${urlOrArn.split(':').at(-1)}`;
  const name = new URL(urlOrArn).pathname.split('/').filter(Boolean).at(-1) ?? '';
  return `arn:${stack.partition}:sqs:${stack.region}:${stack.account}:${name}`;
}

function sqsCalls(stack: Stack, op: string, input: Record<string, unknown>, via: string): IamCall[] {
  const action = `sqs:${op.replace(BATCH, '$1')}`;
  const url = str(input.QueueUrl);
  if (url) return [{ action, resource: queueArn(stack, url), via }];
  if (op === 'GetQueueUrl') return [{ action, resource: arnIn(stack, 'sqs', stack.region, str(input.QueueName) ?? ''), via }];
  const source = str(input.SourceArn);
  if (op === 'ListMessageMoveTasks' && source) return [{ action, resource: queueArn(stack, source), via }];
  if (op === 'StartMessageMoveTask' && source) {
    // The move task runs with the caller's permissions (AWS, "Configure permissions for DLQ
    // redrive"): it receives and deletes on the source and sends to the destination.
    const src = queueArn(stack, source);
    const dst = str(input.DestinationArn);
    return [
      ...['StartMessageMoveTask', 'ReceiveMessage', 'DeleteMessage', 'GetQueueAttributes'].map((a) => ({ action: `sqs:${a}`, resource: src, via })),
      ...(dst ? [{ action: 'sqs:SendMessage', resource: queueArn(stack, dst), via: `${via} (moves into ${dst.split(':').at(-1)})` }] : []),
    ];
  }
  return [];
}

function arnIn(stack: Stack, service: string, region: string, resource: string, account = stack.account): string {
  return `arn:${stack.partition}:${service}:${region}:${account}:${resource}`;
}

function ecrCalls(stack: Stack, op: string, input: Record<string, unknown>, region: string, via: string): IamCall[] {
  const action = `ecr:${op}`;
  if (op === 'GetAuthorizationToken') return [{ action, resource: '*', via }];
  const account = str(input.registryId) ?? stack.account;
  const names = Array.isArray(input.repositoryNames) ? (input.repositoryNames as string[]) : str(input.repositoryName) ? [input.repositoryName as string] : [];
  // DescribeRepositories without names is authorized on every repository of the registry.
  if (!names.length && op === 'DescribeRepositories') return [{ action, resource: arnIn(stack, 'ecr', region, 'repository/*', account), via }];
  return names.map((n) => ({ action, resource: arnIn(stack, 'ecr', region, `repository/${n}`, account), via }));
}

function dynamoCalls(stack: Stack, op: string, input: Record<string, unknown>, region: string, via: string): IamCall[] {
  const table = (name: string, index?: string) => arnIn(stack, 'dynamodb', region, `table/${name}${index ? `/index/${index}` : ''}`);
  if (op === 'ListTables') return [{ action: 'dynamodb:ListTables', resource: '*', via }];
  if (op === 'BatchGetItem' || op === 'BatchWriteItem') {
    return Object.keys((input.RequestItems as object) ?? {}).map((t) => ({ action: `dynamodb:${op}`, resource: table(t), via }));
  }
  if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
    // A transaction is authorized as each item's own action (DynamoDB, "IAM with transactions").
    const kinds: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };
    return ((input.TransactItems as Record<string, { TableName?: string }>[]) ?? []).flatMap((item) =>
      Object.entries(item).flatMap(([k, v]) => (kinds[k] && v?.TableName ? [{ action: `dynamodb:${kinds[k]}`, resource: table(v.TableName), via }] : [])),
    );
  }
  const name = str(input.TableName);
  return name ? [{ action: `dynamodb:${op}`, resource: table(name, str(input.IndexName)), via }] : [];
}

/** The IAM authorizations of one SDK call; [] for a call the recorder cannot map (see `unmapped`). */
export function iamCallsOf(call: AwsCall, stack: Stack = FAKE_STACK): IamCall[] {
  const service = SERVICE[call.client];
  const via = `${call.client.replace(/Client$/, '')} ${call.operation}`;
  const region = call.region ?? stack.region;
  const { input, operation: op } = call;
  switch (service) {
    case 'sqs':
      return sqsCalls(stack, op, input, via);
    case 'ecr':
      return ecrCalls(stack, op, input, region, via);
    case 'dynamodb':
      return dynamoCalls(stack, op, input, region, via);
    case 'secretsmanager': {
      const id = str(input.SecretId);
      if (!id) return [];
      // Secrets Manager adds a random 6-character suffix to a secret's ARN.
      return [{ action: `secretsmanager:${op}`, resource: id.startsWith('arn:') ? id : arnIn(stack, 'secretsmanager', region, `secret:${id}-AbCdEf`), via }];
    }
    case 'ssm': {
      const name = str(input.Name);
      if (!name) return [];
      return [{ action: `ssm:${op}`, resource: name.startsWith('arn:') ? name : arnIn(stack, 'ssm', region, `parameter/${name.replace(/^\//, '')}`), via }];
    }
    case 'sts':
      // GetCallerIdentity needs no permission (AWS STS API reference).
      return op === 'GetCallerIdentity' ? [] : [{ action: `sts:${op}`, resource: '*', via }];
    case 'sns': {
      // Publish is authorized on the topic (SNS, "Amazon SNS API permissions reference").
      const topic = str(input.TopicArn);
      return topic ? [{ action: `sns:${op}`, resource: topic, via }] : [];
    }
    case 'cloudwatch':
      return [{ action: `cloudwatch:${op}`, resource: '*', via }];
    default:
      return [];
  }
}

/**
 * The ECR action a Docker Registry API request to an ECR registry is authorized as: a manifest
 * GET/HEAD is BatchGetImage, a blob GET GetDownloadUrlForLayer, a blob HEAD
 * BatchCheckLayerAvailability, tags/list ListImages; pushes are InitiateLayerUpload,
 * UploadLayerPart, CompleteLayerUpload and PutImage. `/v2/` (the ping) needs none.
 */
export function registryIamCalls(method: string, path: string, ecr: { account: string; region: string }, stack: Stack = FAKE_STACK): IamCall[] {
  const p = path.split('?')[0]!;
  const via = `${method} ${p}`;
  const m = /^\/v2\/(.+?)\/(manifests|blobs|tags)\/(.*)$/.exec(p);
  if (!m) return [];
  const [, name, kind, rest] = m;
  const repo = arnIn(stack, 'ecr', ecr.region, `repository/${name}`, ecr.account);
  const at = (action: string) => [{ action: `ecr:${action}`, resource: repo, via }];
  if (kind === 'tags') return at('ListImages');
  if (kind === 'manifests') return method === 'PUT' ? at('PutImage') : at('BatchGetImage');
  if (rest!.startsWith('uploads')) return method === 'POST' ? at('InitiateLayerUpload') : method === 'PATCH' ? at('UploadLayerPart') : at('CompleteLayerUpload');
  return method === 'HEAD' ? at('BatchCheckLayerAvailability') : at('GetDownloadUrlForLayer');
}
