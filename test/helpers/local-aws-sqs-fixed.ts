// local-aws-sqs 2.0.2 with one deviation from SQS corrected. SQS's ApproximateReceiveCount is "the
// number of times a message has been received across all queues but not deleted" (SQS API
// reference, ReceiveMessage): ChangeMessageVisibility is not a receive. local-aws-sqs counts it as
// one (its changeVisibility runs the receive bookkeeping), so a message released once for a retry
// came back as receive 3, then 5: every retry spent two of the copier's deliveries, and the
// stand-in's own redrive fired at half the RedrivePolicy's maxReceiveCount. The tests must see
// what SQS does, so the library is loaded with that one increment skipped when the bookkeeping runs
// for a visibility change. Pinned version: if the code changes, this fails loudly.
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Server } from 'node:http';

type CreateSqsServer = (options: { port: number; hostname: string; emulateQueueCreationLifecycle?: boolean }) => Promise<Server>;

// The receive bookkeeping `Wt(record, visibility, isVisibilityChange)`: the third argument is true
// only when ChangeMessageVisibility calls it.
const COUNTED = 'let n=Number(t.record.attributes.ApproximateReceiveCount)+1;';
const FIXED = 'let n=Number(t.record.attributes.ApproximateReceiveCount)+(i?0:1);';

let loaded: CreateSqsServer | undefined;

export function createSqsServer(options: Parameters<CreateSqsServer>[0]): Promise<Server> {
  loaded ??= load();
  return loaded(options);
}

function load(): CreateSqsServer {
  const require = createRequire(import.meta.url);
  const file = require.resolve('local-aws-sqs');
  const source = readFileSync(file, 'utf8');
  if (source.split(COUNTED).length !== 2) {
    throw new Error(`test/helpers/local-aws-sqs-fixed.ts: ${file} is not the local-aws-sqs this fix was written for (ApproximateReceiveCount bookkeeping not found once)`);
  }
  const mod = new Module(file) as Module & { _compile(code: string, filename: string): void };
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(file));
  mod._compile(source.replace(COUNTED, FIXED), file);
  return (mod.exports as { createSqsServer: CreateSqsServer }).createSqsServer;
}
