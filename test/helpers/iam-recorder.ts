// Records what each Lambda function does on AWS, as IAM sees it (issue 14, item 1): every SDK call
// (lib/aws/clients.ts observeAwsCalls) and every Docker Registry API request to an ECR registry
// (undici's `undici:request:create` diagnostics channel), each turned into the IAM action(s) it is
// authorized as and the resource ARN, and filed under the function it ran for. Which function a
// call belongs to is the AsyncLocalStorage context of `run(fn, work)`: a test runs each handler
// invocation inside it, and calls made outside any (the test's own set-up) are not recorded.
// A handler run in another process (a packaged bundle) records there with CHILD_RECORDER_JS, and
// its calls come back through `add(fn, calls)`.
//
// ARNs are built for a fixed fake stack (FAKE_STACK): the stand-ins (local-aws-sqs, the secrets
// and ECR stand-ins) are taken to live in its account and region, as the real services would for
// the deployed functions. iam-policy.ts resolves the template with the same stack.
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import { type AwsCall, observeAwsCalls } from '../../lib/aws/clients.js';
import { ecrHost } from '../../lib/listing/settings.js';

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

/** An ECR registry reached under another name (a `type: ecr` entry): its account and region, default the stack's. */
export interface EcrAlias {
  account?: string;
  region?: string;
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

interface UndiciRequestMessage {
  request: { origin?: string | URL; method?: string; path?: string };
}

export interface IamRecorderOptions {
  stack?: Stack;
  /** Registries to treat as ECR by `host:port` (a stand-in reached under another name). */
  ecrAliases?: Record<string, EcrAlias>;
}

export class IamRecorder {
  readonly stack: Stack;
  private readonly als = new AsyncLocalStorage<FunctionName>();
  private readonly byFunction = new Map<FunctionName, IamCall[]>();
  private readonly ecrAliases: Record<string, EcrAlias>;
  /** SDK calls made inside a function that the recorder could not map to IAM: a test asserts none. */
  readonly unmapped: { fn: FunctionName; call: string }[] = [];
  private stopObserving: (() => void) | undefined;
  private readonly onRequest = (message: unknown) => this.request(message as UndiciRequestMessage);

  constructor(opts: IamRecorderOptions = {}) {
    this.stack = opts.stack ?? FAKE_STACK;
    this.ecrAliases = opts.ecrAliases ?? {};
  }

  start(): this {
    this.stopObserving ??= observeAwsCalls((call) => {
      const fn = this.als.getStore();
      if (fn) this.add(fn, [call]);
    });
    diagnostics.subscribe('undici:request:create', this.onRequest);
    return this;
  }

  stop(): void {
    this.stopObserving?.();
    this.stopObserving = undefined;
    diagnostics.unsubscribe('undici:request:create', this.onRequest);
  }

  /** Run `work` as function `fn`: every AWS call it makes is recorded for `fn`. */
  run<T>(fn: FunctionName, work: () => Promise<T>): Promise<T> {
    return this.als.run(fn, work);
  }

  /** A handler whose every invocation runs as `fn`. */
  wrap<A extends unknown[], R>(fn: FunctionName, handler: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return (...args) => this.run(fn, () => handler(...args));
  }

  /** Record calls for `fn`: SDK calls (from a child process) or IAM calls already mapped. */
  add(fn: FunctionName, calls: (AwsCall | IamCall)[]): void {
    const list = this.byFunction.get(fn) ?? [];
    this.byFunction.set(fn, list);
    for (const c of calls) {
      if ('action' in c) {
        list.push(c);
        continue;
      }
      const mapped = iamCallsOf(c, this.stack);
      // A call AWS authorizes without any permission maps to nothing on purpose (STS GetCallerIdentity).
      if (!mapped.length && !(c.client === 'STSClient' && c.operation === 'GetCallerIdentity')) this.unmapped.push({ fn, call: `${c.client} ${c.operation}` });
      list.push(...mapped);
    }
  }

  /** The recorded calls, per function. */
  calls(): Map<FunctionName, IamCall[]> {
    return new Map([...this.byFunction].map(([fn, calls]) => [fn, [...calls]]));
  }

  private ecrOf(host: string): { account: string; region: string } | undefined {
    const alias = this.ecrAliases[host];
    if (alias) return { account: alias.account ?? this.stack.account, region: alias.region ?? this.stack.region };
    const real = ecrHost(host);
    return real ? { account: real.account, region: real.region } : undefined;
  }

  private request({ request }: UndiciRequestMessage): void {
    const fn = this.als.getStore();
    if (fn && request.origin && request.path) this.addRequest(fn, { method: String(request.method ?? 'GET'), origin: String(request.origin), path: request.path });
  }

  /** Record an HTTP request made as `fn` (only requests to ECR registries are authorized by IAM). */
  addRequest(fn: FunctionName, r: HttpRequest): void {
    const ecr = this.ecrOf(new URL(r.origin).host);
    if (ecr) this.add(fn, registryIamCalls(r.method.toUpperCase(), r.path, ecr, this.stack));
  }

  /** Record what a handler run in a child process printed with CHILD_RECORDER_JS. */
  addChildOutput(fn: FunctionName, stdout: string): void {
    const line = stdout.split('\n').find((l) => l.startsWith(CHILD_MARKER));
    if (!line) throw new Error(`the child printed no ${CHILD_MARKER.trim()} line (was CHILD_RECORDER_JS run before the handler?)`);
    const { sdk, http } = JSON.parse(line.slice(CHILD_MARKER.length)) as { sdk: AwsCall[]; http: HttpRequest[] };
    this.add(fn, sdk);
    for (const r of http) this.addRequest(fn, r);
  }
}

export interface HttpRequest {
  method: string;
  origin: string;
  path: string;
}

const CHILD_MARKER = '@@AWS_CALLS ';

/**
 * For a handler run in a child process (test/helpers/lambda-package.ts runBundle): code to run
 * before the bundle is imported. It registers an observer on the bundle's own AWS clients (the
 * global set of lib/aws/clients.ts) and on undici's requests, and prints both as one
 * `@@AWS_CALLS <json>` line at exit (IamRecorder.addChildOutput). Only resource-bearing inputs are
 * kept: no message bodies, no item values, no headers.
 */
export const CHILD_RECORDER_JS = `
{
  const key = Symbol.for('swr-migrate.awsCallObservers');
  const observers = (globalThis[key] ??= new Set());
  const sdk = [];
  const http = [];
  const keep = ['QueueUrl', 'QueueName', 'SourceArn', 'DestinationArn', 'SecretId', 'Name', 'registryId', 'repositoryName', 'repositoryNames', 'TableName', 'IndexName'];
  observers.add((c) => {
    const input = {};
    for (const k of keep) if (c.input[k] !== undefined) input[k] = c.input[k];
    if (c.input.RequestItems) input.RequestItems = Object.fromEntries(Object.keys(c.input.RequestItems).map((t) => [t, []]));
    if (c.input.TransactItems) input.TransactItems = c.input.TransactItems.map((i) => Object.fromEntries(Object.entries(i).map(([k, v]) => [k, { TableName: v && v.TableName }])));
    sdk.push({ client: c.client, operation: c.operation, input, ...(c.region ? { region: c.region } : {}) });
  });
  const dc = await import('node:diagnostics_channel');
  dc.subscribe('undici:request:create', ({ request }) => {
    if (request.origin && request.path) http.push({ method: String(request.method || 'GET'), origin: String(request.origin), path: String(request.path).split('?')[0] });
  });
  process.on('exit', () => process.stdout.write('\\n${CHILD_MARKER}' + JSON.stringify({ sdk, http }) + '\\n'));
}
`;
