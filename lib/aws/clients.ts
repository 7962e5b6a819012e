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
}

export type AwsCallObserver = (call: AwsCall) => void;

const observers = new Set<AwsCallObserver>();

/** Observe every call of every client made from now on; returns the function that stops it. */
export function observeAwsCalls(observer: AwsCallObserver): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

/** Attach the observers to a client (any `@aws-sdk/client-*` client) and return it. */
export function awsClient<T extends { middlewareStack: unknown }>(client: T): T {
  (client.middlewareStack as MiddlewareStackLike).add(
    (next, context) => async (args) => {
      if (observers.size) {
        const call: AwsCall = {
          client: String(context.clientName ?? 'unknown'),
          operation: String(context.commandName ?? 'unknown').replace(/Command$/, ''),
          input: ((args as { input?: Record<string, unknown> }).input ?? {}),
        };
        for (const o of observers) o(call);
      }
      return next(args);
    },
    { step: 'initialize', name: 'swrmCallObserver' },
  );
  return client;
}
