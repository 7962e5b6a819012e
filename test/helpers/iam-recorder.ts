// Records what each Lambda function does on AWS, as IAM sees it (issue 14, item 1): every SDK call
// (lib/aws/clients.ts observeAwsCalls) and every Docker Registry API request to an ECR registry
// (undici's `undici:request:create` diagnostics channel), each turned into the IAM action(s) it is
// authorized as (iam-calls.ts) and filed under the function it ran for. Which function a call
// belongs to is the AsyncLocalStorage context of `run(fn, work)`: a test runs each handler
// invocation inside it, and calls made outside any (the test's own set-up) are not recorded.
// A handler run in another process (a packaged bundle) records there with CHILD_RECORDER_JS, and
// its calls come back through `addChildOutput(fn, stdout)`.
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import { type AwsCall, observeAwsCalls } from '../../lib/aws/clients.js';
import { ecrHost } from '../../lib/vendors/ecr/detect.js';
import { FAKE_STACK, type FunctionName, type IamCall, type Stack, iamCallsOf, registryIamCalls } from './iam-calls.js';

export { FAKE_STACK, type FunctionName, type IamCall, type Stack, iamCallsOf, registryIamCalls } from './iam-calls.js';

/** An ECR registry reached under another name (a `type: ecr` entry): its account and region, default the stack's. */
export interface EcrAlias {
  account?: string;
  region?: string;
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
  const keep = ['QueueUrl', 'QueueName', 'SourceArn', 'DestinationArn', 'SecretId', 'Name', 'registryId', 'repositoryName', 'repositoryNames', 'TableName', 'IndexName', 'TopicArn'];
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
