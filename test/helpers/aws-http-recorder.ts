// A preload (`node --import <this file>`) that records every AWS API call a process makes, for the
// IAM proof of a PACKAGED handler (issue 14, item 7): the bundle carries its own copy of the SDK and
// of lib/aws/clients.ts, so an observer registered in the test process sees nothing of it. Every
// AWS JSON-protocol call (SQS, DynamoDB, Secrets Manager, SSM, ECR) names its operation in the
// `x-amz-target` header and its resources in the body: wrapping node's http/https `request` sees
// both, whatever bundles the SDK. Each call is appended as one JSON line
// ({ client, operation, input }, the shape lib/aws/clients.ts's observers get) to the file named by
// SWRM_TEST_AWS_CALLS. A process without that variable is left untouched.
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';

/** `x-amz-target` prefixes -> the SDK client names lib/aws/clients.ts reports. */
const CLIENTS: Record<string, string> = {
  AmazonSQS: 'SQSClient',
  DynamoDB_20120810: 'DynamoDBClient',
  secretsmanager: 'SecretsManagerClient',
  AmazonSSM: 'SSMClient',
  AmazonEC2ContainerRegistry_V20150921: 'ECRClient',
};

const file = process.env.SWRM_TEST_AWS_CALLS;

function headerOf(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) if (k.toLowerCase() === name) return String(v);
  return undefined;
}

function record(target: string, body: Buffer): void {
  const [prefix, operation] = target.split('.');
  let input: Record<string, unknown> = {};
  try {
    input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
  } catch {
    input = {};
  }
  appendFileSync(file!, `${JSON.stringify({ client: CLIENTS[prefix!] ?? prefix, operation, input })}\n`);
}

type RequestFn = typeof http.request;

function wrap(original: RequestFn): RequestFn {
  return function request(this: unknown, ...args: unknown[]) {
    const req = (original as (...a: unknown[]) => http.ClientRequest).apply(this, args);
    const options = args.find((a) => a && typeof a === 'object' && !(a instanceof URL)) as { headers?: unknown } | undefined;
    const target = headerOf(options?.headers, 'x-amz-target') ?? req.getHeader('x-amz-target')?.toString();
    if (!target) return req;
    const chunks: Buffer[] = [];
    const write = req.write.bind(req);
    const end = req.end.bind(req);
    req.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (chunk) chunks.push(Buffer.from(chunk as Buffer));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof req.write;
    req.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as Buffer));
      record(target, Buffer.concat(chunks));
      return (end as (...a: unknown[]) => http.ClientRequest)(chunk, ...rest);
    }) as typeof req.end;
    return req;
  } as RequestFn;
}

if (file) {
  http.request = wrap(http.request);
  https.request = wrap(https.request as unknown as RequestFn) as unknown as typeof https.request;
  // ESM `import { request } from 'node:http'` bindings follow the module object only after this.
  syncBuiltinESMExports();
}
