// Lambda: the copier, on the SQS event (functionResponseType: ReportBatchItemFailures). All logic
// is in lib/lambda; this file only says where the queue and the config come from.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { enableStreamGc } from '../lib/copy/memory.js';
import { copierFromEnv } from '../lib/lambda/handlers.js';
import { sqsQueues } from '../lib/lambda/queue-factory.js';

// A program entry point may set V8 flags (copy/memory.ts: scavenges keep a streamed copy's RSS flat).
enableStreamGc();

export const handler = copierFromEnv({ env: process.env, handlerDir: dirname(fileURLToPath(import.meta.url)), queues: sqsQueues });
