// Lambda: the webhook receiver, behind a function URL (serverless.yml `url: true`). All logic is
// in lib/lambda/receiver.ts and lib/events; this file only says where the queue and config come from.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { receiverFromEnv } from '../lib/lambda/receiver.js';
import { sqsQueues } from '../lib/lambda/queue-factory.js';

export const handler = receiverFromEnv({ env: process.env, handlerDir: dirname(fileURLToPath(import.meta.url)), queues: sqsQueues });
