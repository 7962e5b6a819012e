// Lambda: the planner, on the schedule. All logic is in lib/lambda (two-level fan-out, overlap guard).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { plannerFromEnv } from '../lib/lambda/handlers.js';
import { sqsQueues } from '../lib/lambda/queue-factory.js';

export const handler = plannerFromEnv({ env: process.env, handlerDir: dirname(fileURLToPath(import.meta.url)), queues: sqsQueues });
