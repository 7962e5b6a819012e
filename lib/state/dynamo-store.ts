// The state port on one DynamoDB table (the stack's StateTable, named to the handlers by
// SWRM_STATE_TABLE; infra/state.yml): partition key `pk` = the group, sort key `sk` = the id, the
// data as plain attributes, `v` the version token and `expiresAt` the TTL attribute (seconds).
// Conditions are ConditionExpressions, counters UpdateExpression ADD, so two copiers never lose an
// update. DynamoDB deletes expired items only within a day or two of their time, so every read
// also hides them, as the other adapters do. The client is made through awsClient (every AWS call
// observable in tests) and finds its endpoint as the SDK does: AWS_ENDPOINT_URL_DYNAMODB, then
// AWS_ENDPOINT_URL. The calls: GetItem, PutItem, UpdateItem, DeleteItem, Query; nothing else.
import {
  type AttributeValue,
  DeleteItemCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { awsClient } from '../aws/clients.js';
import { stateError } from './dynamo-errors.js';
import {
  type AddOptions,
  type PutOptions,
  type QueryOptions,
  type StateData,
  type StateKey,
  type StateRecord,
  type StateStore,
  checkData,
  checkKey,
  newVersion,
  nowSeconds,
} from './store.js';

/** The table's key and TTL attributes: infra/state.yml and test/helpers/dynamo-server.ts create it so. */
export const STATE_TABLE_KEYS = { partition: 'pk', sort: 'sk', ttl: 'expiresAt' } as const;

export interface DynamoStateStoreOptions {
  table: string;
  client?: DynamoDBClient;
  /** Default: AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1. */
  region?: string;
  credentials?: DynamoDBClientConfig['credentials'];
  /** SDK attempts per request (its standard retry mode, for throttling and 5xx). Default 3. */
  maxAttempts?: number;
  /** Milliseconds since the epoch. */
  clock?: () => number;
}

type Item = Record<string, AttributeValue>;

const ALIVE = '(attribute_not_exists(#exp) OR #exp > :now)';

export function dynamoClient(opts: Omit<DynamoStateStoreOptions, 'table' | 'client' | 'clock'> = {}): DynamoDBClient {
  const region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const config: DynamoDBClientConfig = { region, maxAttempts: opts.maxAttempts ?? 3 };
  if (opts.credentials) config.credentials = opts.credentials;
  return awsClient(new DynamoDBClient(config));
}

export class DynamoStateStore implements StateStore {
  readonly where: string;
  readonly table: string;
  readonly client: DynamoDBClient;
  private readonly clock: () => number;

  constructor(opts: DynamoStateStoreOptions) {
    this.table = opts.table;
    this.where = `state table ${opts.table}`;
    this.client = opts.client ?? dynamoClient(opts);
    this.clock = opts.clock ?? Date.now;
  }

  private now(): number {
    return nowSeconds(this.clock());
  }

  private async call<T>(action: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw stateError(err, this.table, action);
    }
  }

  /** One eventually consistent GetItem of a key nothing writes: a missing table or a refused role is one line. */
  async probe(): Promise<void> {
    await this.call('GetItem', () => this.client.send(new GetItemCommand({ TableName: this.table, Key: keyOf({ group: 'probe', id: 'probe' }), ProjectionExpression: 'pk' })));
  }

  async get(key: StateKey): Promise<StateRecord | undefined> {
    checkKey(key);
    const res = await this.call('GetItem', () => this.client.send(new GetItemCommand({ TableName: this.table, Key: keyOf(key), ConsistentRead: true })));
    return res.Item && alive(res.Item, this.now()) ? recordFrom(res.Item) : undefined;
  }

  async put(key: StateKey, data: StateData, opts: PutOptions = {}): Promise<boolean> {
    checkKey(key);
    checkData(data);
    const now = this.now();
    const item: Item = { ...keyOf(key), ...marshal(data), v: { S: newVersion() } };
    if (opts.ttlSeconds !== undefined) item.expiresAt = { N: String(now + opts.ttlSeconds) };
    const conditions: string[] = [];
    const values: Item = {};
    const names: Record<string, string> = {};
    if (opts.ifAbsent) conditions.push('(attribute_not_exists(pk) OR #exp <= :now)');
    if (opts.ifVersion !== undefined) {
      conditions.push(`(#v = :v AND ${ALIVE})`);
      names['#v'] = 'v';
      values[':v'] = { S: opts.ifVersion };
    }
    if (conditions.length) {
      names['#exp'] = STATE_TABLE_KEYS.ttl;
      values[':now'] = { N: String(now) };
    }
    const input = {
      TableName: this.table,
      Item: item,
      ...(conditions.length ? { ConditionExpression: conditions.join(' AND '), ExpressionAttributeNames: names, ExpressionAttributeValues: values } : {}),
    };
    return this.conditional('PutItem', () => this.client.send(new PutItemCommand(input)));
  }

  async add(key: StateKey, deltas: Record<string, number>, opts: AddOptions = {}): Promise<StateRecord> {
    checkKey(key);
    const set = opts.set ?? {};
    checkData({ ...deltas, ...set });
    const names: Record<string, string> = { '#v': 'v' };
    const values: Item = { ':v': { S: newVersion() } };
    const sets = ['#v = :v'];
    const adds: string[] = [];
    let i = 0;
    for (const [k, d] of Object.entries(deltas)) {
      names[`#a${i}`] = k;
      values[`:a${i}`] = { N: String(d) };
      adds.push(`#a${i} :a${i}`);
      i++;
    }
    for (const [k, value] of Object.entries(set)) {
      names[`#s${i}`] = k;
      values[`:s${i}`] = marshalValue(value);
      sets.push(`#s${i} = :s${i}`);
      i++;
    }
    if (opts.ttlSeconds !== undefined) {
      names['#exp'] = STATE_TABLE_KEYS.ttl;
      values[':exp'] = { N: String(this.now() + opts.ttlSeconds) };
      sets.push('#exp = if_not_exists(#exp, :exp)');
    }
    const expression = `SET ${sets.join(', ')}${adds.length ? ` ADD ${adds.join(', ')}` : ''}`;
    const res = await this.call('UpdateItem', () =>
      this.client.send(
        new UpdateItemCommand({ TableName: this.table, Key: keyOf(key), UpdateExpression: expression, ExpressionAttributeNames: names, ExpressionAttributeValues: values, ReturnValues: 'ALL_NEW' }),
      ),
    );
    return recordFrom(res.Attributes ?? keyOf(key));
  }

  async delete(key: StateKey, opts: { ifVersion?: string } = {}): Promise<boolean> {
    checkKey(key);
    const input = {
      TableName: this.table,
      Key: keyOf(key),
      ...(opts.ifVersion !== undefined
        ? {
            ConditionExpression: `#v = :v AND ${ALIVE}`,
            ExpressionAttributeNames: { '#v': 'v', '#exp': STATE_TABLE_KEYS.ttl },
            ExpressionAttributeValues: { ':v': { S: opts.ifVersion }, ':now': { N: String(this.now()) } },
          }
        : {}),
    };
    return this.conditional('DeleteItem', () => this.client.send(new DeleteItemCommand(input)));
  }

  async query(group: string, opts: QueryOptions = {}): Promise<StateRecord[]> {
    checkKey({ group, id: '-' });
    const limit = opts.limit ?? 100;
    const now = this.now();
    const out: StateRecord[] = [];
    let start: Item | undefined;
    // Expired items still in the table are dropped here rather than by a FilterExpression, which
    // DynamoDB applies after Limit: page on until `limit` live items are found.
    do {
      const res = await this.call('Query', () =>
        this.client.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: opts.prefix ? 'pk = :g AND begins_with(sk, :p)' : 'pk = :g',
            ExpressionAttributeValues: { ':g': { S: group }, ...(opts.prefix ? { ':p': { S: opts.prefix } } : {}) },
            ScanIndexForward: !opts.descending,
            Limit: limit - out.length,
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      for (const item of res.Items ?? []) if (alive(item, now)) out.push(recordFrom(item));
      start = res.LastEvaluatedKey;
    } while (start && out.length < limit);
    return out;
  }

  /** true when written, false when DynamoDB found the condition false. */
  private async conditional(action: string, run: () => Promise<unknown>): Promise<boolean> {
    try {
      await run();
      return true;
    } catch (err) {
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw stateError(err, this.table, action);
    }
  }
}

function keyOf(key: StateKey): Item {
  return { pk: { S: key.group }, sk: { S: key.id } };
}

function alive(item: Item, now: number): boolean {
  const exp = item.expiresAt?.N;
  return exp === undefined || Number(exp) > now;
}

function marshalValue(v: string | number | boolean): AttributeValue {
  if (typeof v === 'string') return { S: v };
  if (typeof v === 'number') return { N: String(v) };
  return { BOOL: v };
}

function marshal(data: StateData): Item {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, marshalValue(v)]));
}

function recordFrom(item: Item): StateRecord {
  const data: StateData = {};
  for (const [k, a] of Object.entries(item)) {
    if (k === 'pk' || k === 'sk' || k === 'v' || k === STATE_TABLE_KEYS.ttl) continue;
    if (a.S !== undefined) data[k] = a.S;
    else if (a.N !== undefined) data[k] = Number(a.N);
    else if (a.BOOL !== undefined) data[k] = a.BOOL;
  }
  const exp = item.expiresAt?.N;
  return { group: item.pk?.S ?? '', id: item.sk?.S ?? '', data, version: item.v?.S ?? '', ...(exp !== undefined ? { expiresAt: Number(exp) } : {}) };
}
