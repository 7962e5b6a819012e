// A Secrets Manager + SSM Parameter Store stand-in on 127.0.0.1, speaking the documented AWS JSON 1.1
// protocol the SDK v3 clients use: `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue` or
// `AmazonSSM.GetParameter`, `Content-Type: application/x-amz-json-1.1`; errors are HTTP 400 with
// `{"__type": "...", "message": "..."}`, which the SDK turns into an error named after `__type`.
// The SDK signs requests (SigV4) with whatever credentials it has; the stand-in does not check them,
// so tests give dummy ones. Every call is counted, so a test can assert the per-process cache.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { track } from './cleanup.js';

export interface AwsSecretsHandle {
  /** `http://127.0.0.1:PORT`, for AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_SSM. */
  url: string;
  /** Secrets Manager secrets by name; a test may add or change them while the server runs. */
  secrets: Map<string, string>;
  /** SSM parameters by name (served as SecureString, whatever WithDecryption says). */
  parameters: Map<string, string>;
  /** Every call, in order: the target and the id asked for. */
  calls: { target: string; id: string; withDecryption?: boolean }[];
  /** Calls for one secret or parameter id. */
  callsFor(id: string): number;
  /** The environment a client (or the CLI) needs to reach this stand-in, and nothing else. */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': 'stand-in' });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    const doc: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    return typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A secret is found by its name or by an ARN whose last part is `NAME` (AWS adds a random suffix; we do not). */
function secretName(id: string): string {
  const m = /^arn:aws[a-z-]*:secretsmanager:[^:]+:\d{12}:secret:(.+)$/.exec(id);
  return m ? m[1]! : id;
}

export async function startAwsSecretsServer(opts: { secrets?: Record<string, string>; parameters?: Record<string, string> } = {}): Promise<AwsSecretsHandle> {
  // The pinned SDK warns on Node 20 (several lines on stderr) when the first client is made.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const secrets = new Map(Object.entries(opts.secrets ?? {}));
  const parameters = new Map(Object.entries(opts.parameters ?? {}));
  const calls: AwsSecretsHandle['calls'] = [];

  const server = createServer((req, res) => {
    void (async () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = await readJson(req);
      if (req.method !== 'POST') return reply(res, 400, { __type: 'UnknownOperationException', message: 'POST / expected' });
      if (target === 'secretsmanager.GetSecretValue') {
        const id = String(body.SecretId ?? '');
        calls.push({ target, id });
        const name = secretName(id);
        const value = secrets.get(name);
        if (value === undefined) return reply(res, 400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
        return reply(res, 200, {
          ARN: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}`,
          Name: name,
          SecretString: value,
          VersionId: '00000000-0000-4000-8000-000000000001',
          VersionStages: ['AWSCURRENT'],
          CreatedDate: 1_700_000_000,
        });
      }
      if (target === 'AmazonSSM.GetParameter') {
        const id = String(body.Name ?? '');
        calls.push({ target, id, withDecryption: body.WithDecryption === true });
        const value = parameters.get(id);
        if (value === undefined) return reply(res, 400, { __type: 'ParameterNotFound', message: '' });
        return reply(res, 200, {
          Parameter: { Name: id, Type: 'SecureString', Value: value, Version: 1, ARN: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${id.startsWith('/') ? '' : '/'}${id}` },
        });
      }
      reply(res, 400, { __type: 'UnknownOperationException', message: `unknown target ${target}` });
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      untrack();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  const untrack = track({ stop, stopSync: () => server.close() });
  return {
    url,
    secrets,
    parameters,
    calls,
    callsFor: (id) => calls.filter((c) => c.id === id).length,
    env: () => ({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: url,
      AWS_ENDPOINT_URL_SSM: url,
      AWS_REGION: REGION,
      // Dummy credentials stop the SDK's provider chain at the environment: no instance-metadata or
      // SSO request ever leaves the machine.
      AWS_ACCESS_KEY_ID: 'AKIDSTANDIN',
      AWS_SECRET_ACCESS_KEY: 'stand-in-secret-key',
      AWS_EC2_METADATA_DISABLED: 'true',
    }),
    stop,
  };
}
