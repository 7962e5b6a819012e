// A DynamoDB stand-in for tests: dynalite (DynamoDB's API on LevelDB, in memory here), in-process on
// 127.0.0.1 and a free port, so the real @aws-sdk/client-dynamodb talks to it unchanged. Starting it
// points AWS_ENDPOINT_URL_DYNAMODB at it (the SDK's own endpoint setting, as the handlers find their
// table on AWS) with dummy credentials; stopping it restores the variable. The state table is
// created as infra/state.yml declares it (pk/sk strings, on-demand). dynalite has no
// UpdateTimeToLive and never expires items: the adapters hide expired items on read themselves.
// `refuse` answers chosen operations with AccessDeniedException, as a role without them would be.
import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { STATE_TABLE_KEYS } from '../../lib/state/dynamo-store.js';
import { track } from './cleanup.js';
import { setDummyAwsEnv } from './sqs-server.js';

type Dynalite = (opts: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as Dynalite;

export interface DynamoServerHandle {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** A client for this server (dummy credentials), for the test's own setup and checks. */
  client: DynamoDBClient;
  /**
   * The state table as the stack creates it: infra/state.yml's keys, or the given properties of an
   * AWS::DynamoDB::Table resource from a packaged template (TableName and TTL are ignored).
   */
  createStateTable(name: string, properties?: { AttributeDefinitions?: unknown; KeySchema?: unknown; BillingMode?: string }): Promise<void>;
  /** Operations (e.g. `GetItem`) answered with AccessDeniedException from now on; empty to stop. */
  refuse: Set<string>;
  /** Every operation received, in order (refused ones too). */
  calls: string[];
  stop(): Promise<void>;
}

export async function startDynamoServer(): Promise<DynamoServerHandle> {
  setDummyAwsEnv();
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const refuse = new Set<string>();
  const calls: string[] = [];
  // Put our check in front of dynalite's own request listener.
  const [inner] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const op = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    calls.push(op);
    if (!refuse.has(op)) return inner!(req, res);
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({
        __type: 'com.amazon.coral.service#AccessDeniedException',
        message: `User: arn:aws:sts::000000000000:assumed-role/test/test is not authorized to perform: dynamodb:${op} because no identity-based policy allows the dynamodb:${op} action`,
      });
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': 'refused' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const previous = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
  // Not through awsClient: the table's setup is the test's, not a call any handler makes.
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });

  let stopped = false;
  const restore = () => {
    if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
    else process.env.AWS_ENDPOINT_URL_DYNAMODB = previous;
  };
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    client.destroy();
    restore();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  track({ stop, stopSync: () => void server.close() });

  return {
    endpoint,
    client,
    refuse,
    calls,
    async createStateTable(name, properties) {
      const { partition, sort } = STATE_TABLE_KEYS;
      const input = {
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: partition, AttributeType: 'S' },
          { AttributeName: sort, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: partition, KeyType: 'HASH' },
          { AttributeName: sort, KeyType: 'RANGE' },
        ],
        ...(properties?.AttributeDefinitions ? { AttributeDefinitions: properties.AttributeDefinitions } : {}),
        ...(properties?.KeySchema ? { KeySchema: properties.KeySchema } : {}),
        ...(properties?.BillingMode ? { BillingMode: properties.BillingMode } : {}),
      } as ConstructorParameters<typeof CreateTableCommand>[0];
      await client.send(new CreateTableCommand(input));
      for (let i = 0; i < 50; i++) {
        if ((await client.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus === 'ACTIVE') return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`table ${name} did not become ACTIVE`);
    },
    stop,
  };
}
