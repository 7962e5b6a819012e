// What the handlers read from their environment: the queue URL, the config path and the delivery
// budget. Secrets never come from here (issue 7: a secret is never an environment variable);
// the config names them and lib/config resolves them.
import { deliveryCap } from '../pipeline/attempts.js';
import { join } from 'node:path';
import type { LoadedConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { printable } from '../text.js';
import type { KnownDeadLetterQueue } from '../queue/sqs-dlq.js';

export type Env = Record<string, string | undefined>;

/** QUEUE_URL: the work queue (its DLQ: deadLetterQueueFrom). */
export function queueUrlFrom(env: Env): string {
  const url = env.QUEUE_URL?.trim();
  if (!url) throw new ConfigError('QUEUE_URL is not set: the handler needs the URL of its SQS work queue');
  return url;
}

/**
 * LONG_QUEUE_URL: the long-haul queue (copier-batch.ts), for images the deadline cut twice; unset,
 * they keep coming back until the work queue's RedrivePolicy moves them to the DLQ.
 */
export function longQueueUrlFrom(env: Env): string | undefined {
  return env.LONG_QUEUE_URL?.trim() || undefined;
}

/** SWRM_CONFIG, else the config.yaml bundled next to the handler at deploy time. */
export function configPathFrom(env: Env, handlerDir: string): string {
  return env.SWRM_CONFIG?.trim() || join(handlerDir, 'config.yaml');
}

/**
 * Deliveries at most before the copier dead-letters a failing image itself, with its reason: the
 * queue's RedrivePolicy.maxReceiveCount (MAX_RECEIVE_COUNT, set by the deployment), else the cap of
 * pipeline/attempts.ts. Dead-lettering on the last delivery keeps the reason; SQS's own move would
 * drop it. Deliveries that make no progress are bounded by retries + 1 within it.
 */
export function maxReceiveCountFrom(env: Env, config: LoadedConfig): number {
  const raw = env.MAX_RECEIVE_COUNT?.trim();
  if (!raw) return deliveryCap(config.defaults.retries);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ConfigError(`MAX_RECEIVE_COUNT must be a whole number from 1 to 1000, got "${raw}"`);
  return n;
}

/**
 * SWRM_STATE_TABLE: the DynamoDB table that outlives an invocation (lib/state: the digest memo, the
 * runs). Unset: nothing does (each container has its own memo; the planner checks queue counts).
 */
export function stateTableFrom(env: Env, what = 'SWRM_STATE_TABLE'): string | undefined {
  const name = env.SWRM_STATE_TABLE?.trim();
  if (!name) return undefined;
  // DynamoDB's naming rule; CloudFormation's Ref gives the name, never an ARN.
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(name)) throw new ConfigError(`${what} must name a DynamoDB table (3-255 of A-Z, a-z, 0-9, _ . -), got "${printable(name, 80)}"`);
  return name;
}

/** LOG_LEVEL for the handlers' pino logger; default info. */
export function logLevelFrom(env: Env): 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' {
  const level = env.LOG_LEVEL?.trim() || 'info';
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
  const found = levels.find((l) => l === level);
  if (!found) throw new ConfigError(`LOG_LEVEL must be one of ${levels.join(', ')}, got "${level}"`);
  return found;
}

const DLQ_VARS = ['DLQ_URL', 'DLQ_ARN', 'QUEUE_ARN'] as const;

/**
 * DLQ_URL, DLQ_ARN and QUEUE_ARN (serverless.yml sets all three from the stack's queues): the DLQ
 * without a look-up. Looking it up would need sqs:GetQueueUrl, an IAM action of its own that no
 * role grants (issue 14). None set: undefined, and the SQS adapter finds the DLQ from the queue's
 * RedrivePolicy (handlers deployed some other way, with a role that allows it). Some set: an error
 * naming the missing ones, since a DLQ that cannot be reached only shows on the first failure.
 */
export function deadLetterQueueFrom(env: Env): KnownDeadLetterQueue | undefined {
  const [dlqUrl, dlqArn, queueArn] = DLQ_VARS.map((k) => env[k]?.trim() ?? '');
  const missing = DLQ_VARS.filter((k) => !env[k]?.trim());
  if (missing.length === DLQ_VARS.length) return undefined;
  if (missing.length) throw new ConfigError(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set: the handler needs DLQ_URL, DLQ_ARN and QUEUE_ARN together (serverless.yml sets them)`);
  if (!/^arn:[^:]+:sqs:/.test(dlqArn!) || !/^arn:[^:]+:sqs:/.test(queueArn!)) throw new ConfigError(`DLQ_ARN and QUEUE_ARN must be SQS queue ARNs, got "${dlqArn}" and "${queueArn}"`);
  const n = Number(env.MAX_RECEIVE_COUNT?.trim());
  return { dlqUrl: dlqUrl!, dlqArn: dlqArn!, queueArn: queueArn!, ...(Number.isInteger(n) && n > 0 ? { maxReceiveCount: n } : {}) };
}
