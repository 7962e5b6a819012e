// Every AWS SDK client the code creates passes through `awsClient`, so one place can see every call
// it will make. Tests register an observer (test/helpers/iam-recorder.ts) that records each call's
// service, operation and input, to evaluate it against the role the packaged template gives that
// function (issue 14, item 1): a call no role grants fails the test, as it would fail on AWS.
// Production registers nothing, and a client costs nothing more.

/** What the SDK's middleware stack exposes: enough to add one initialize-step middleware. */
interface MiddlewareStackLike {
  add(middleware: (next: (args: unknown) => Promise<unknown>, context: Record<string, unknown>) => (args: unknown) => Promise<unknown>, options: { step: 'initialize'; name: string }): void;
}

export interface AwsCall {
  /** The SDK's client name, e.g. `SQSClient`, `DynamoDBClient`. */
  client: string;
  /** The SDK's command name without `Command`, e.g. `SendMessageBatch`. */
  operation: string;
  /** The command's input (queue URLs, table names, secret ids: what a policy's resource is made of). */
  input: Record<string, unknown>;
  /** The client's region (an ECR or Secrets Manager ARN's region is the client's, not the caller's). */
  region?: string;
}

export type AwsCallObserver = (call: AwsCall) => void;

// Kept on globalThis under a registered symbol, not in a module variable: a packaged handler is an
// esbuild bundle with its own copy of this module, and a test that imports that bundle in a fresh
// process (the "deployed day" of issue 14) can only reach the bundle's observers this way.
const KEY = Symbol.for('swr-migrate.awsCallObservers');
const observers: Set<AwsCallObserver> = ((globalThis as Record<symbol, unknown>)[KEY] ??= new Set<AwsCallObserver>()) as Set<AwsCallObserver>;

/** Observe every call of every client made from now on; returns the function that stops it. */
export function observeAwsCalls(observer: AwsCallObserver): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

/** The SDK keeps the region as a provider function; a region it cannot find is the call's own failure. */
async function regionOf(region: unknown): Promise<string | undefined> {
  try {
    const value: unknown = typeof region === 'function' ? await (region as () => Promise<unknown>)() : region;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Attach the observers to a client (any `@aws-sdk/client-*` client) and return it. */
export function awsClient<T extends { middlewareStack: unknown }>(client: T): T {
  const config = (client as { config?: { region?: unknown } }).config;
  (client.middlewareStack as MiddlewareStackLike).add(
    (next, context) => async (args) => {
      if (observers.size) {
        const call: AwsCall = {
          client: String(context.clientName ?? 'unknown'),
          operation: String(context.commandName ?? 'unknown').replace(/Command$/, ''),
          input: ((args as { input?: Record<string, unknown> }).input ?? {}),
        };
        const region = await regionOf(config?.region);
        if (region) call.region = region;
        for (const o of observers) o(call);
      }
      return next(args);
    },
    { step: 'initialize', name: 'swrmCallObserver' },
  );
  return client;
}
