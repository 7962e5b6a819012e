// An SQS stand-in for tests: local-aws-sqs, in-process, on 127.0.0.1 and a free port. It speaks
// SQS's JSON protocol, so the real SDK client talks to it unchanged. Quirks measured for issue 7:
// it ignores MessageSystemAttributeNames (send AttributeNames too); a long poll with
// MaxNumberOfMessages > 1 waits the whole WaitTimeSeconds; a visibility timeout shorter than the
// wait can repeat a message within one response.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createSqsServer } from './local-aws-sqs-fixed.js';
import { sqsClient } from '../../lib/queue/sqs-client.js';
import { track } from './cleanup.js';

export interface SqsQueuePair {
  queueUrl: string;
  queueArn: string;
  dlqUrl: string;
  dlqArn: string;
}

export interface SqsServerHandle {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  /** A client for this server with dummy credentials. */
  client: SQSClient;
  /** A queue and its DLQ, `RedrivePolicy {deadLetterTargetArn, maxReceiveCount}`. */
  createQueuePair(name: string, options?: { maxReceiveCount?: number; visibilityTimeoutS?: number }): Promise<SqsQueuePair>;
  /** A queue without RedrivePolicy. */
  createQueue(name: string, attributes?: Record<string, string>): Promise<{ queueUrl: string; queueArn: string }>;
  stop(): Promise<void>;
}

/** The SDK's default chain needs some credentials; a stand-in accepts any. Never real ones here. */
export function setDummyAwsEnv(): void {
  process.env.AWS_ACCESS_KEY_ID ??= 'test-access-key';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test-secret-key';
  process.env.AWS_REGION ??= 'us-east-1';
  // The pinned SDK warns on Node 20 (several lines on stderr) when the first client is made.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

export async function startSqsServer(): Promise<SqsServerHandle> {
  setDummyAwsEnv();
  const server: Server = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  // Node closes a keep-alive connection idle for 5 s; a client that sends on it at that moment gets
  // ECONNRESET (seen with the test client's single attempt while a loaded machine paused the test
  // between two receives). Real SQS keeps connections far longer: so does the stand-in.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = sqsClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });

  const createQueue = async (name: string, attributes: Record<string, string> = {}) => {
    const res = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const queueUrl = res.QueueUrl!;
    const attrs = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    return { queueUrl, queueArn: attrs.Attributes!.QueueArn! };
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    client.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  track({ stop, stopSync: () => void server.close() });

  return {
    endpoint,
    client,
    createQueue,
    async createQueuePair(name, options = {}) {
      const dlq = await createQueue(`${name}-dlq`);
      const q = await createQueue(name, {
        VisibilityTimeout: String(options.visibilityTimeoutS ?? 30),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount: options.maxReceiveCount ?? 5 }),
      });
      return { queueUrl: q.queueUrl, queueArn: q.queueArn, dlqUrl: dlq.queueUrl, dlqArn: dlq.queueArn };
    },
    stop,
  };
}
