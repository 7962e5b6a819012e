// Lambda: replay, invoked by hand. Moves the DLQ back onto the queue (StartMessageMoveTask).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayFromEnv } from '../lib/lambda/handlers.js';
import { sqsQueues } from '../lib/lambda/queue-factory.js';

export const handler = replayFromEnv({ env: process.env, handlerDir: dirname(fileURLToPath(import.meta.url)), queues: sqsQueues });
