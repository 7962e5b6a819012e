// The SQS client and the mapping of SQS failures onto our error module. Shared by the work-queue
// adapter (sqs-queue.ts) and the DLQ store (sqs-dlq.ts).
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { NetworkError, QueueError, ErrorCode } from '../errors.js';
import { awsClient } from '../aws/clients.js';
import { maskSecretText } from '../secrets.js';
import { remoteText } from '../text.js';

/** SQS's message size limit we design for (REFERENCE 4: newer accounts allow 1 MiB, not all do). */
export const SQS_MAX_BYTES = 256 * 1024;
/** SendMessageBatch / DeleteMessageBatch / ReceiveMessage take at most 10 entries. */
export const SQS_MAX_BATCH = 10;
/** ReceiveMessage's longest long poll (WaitTimeSeconds). */
export const SQS_MAX_WAIT_S = 20;
/** ChangeMessageVisibility's largest VisibilityTimeout: 12 hours. */
export const SQS_MAX_VISIBILITY_S = 43_200;

export interface SqsClientOptions {
  /** Default: AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1 (stand-ins ignore it). */
  region?: string;
  /** Overrides AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL, which the SDK reads by itself. */
  endpoint?: string;
  /** Default: the SDK's default chain (env, shared files, container/instance roles). */
  credentials?: SQSClientConfig['credentials'];
  /** SDK attempts per request (its standard retry mode, for throttling and 5xx). Default 3. */
  maxAttempts?: number;
}

/**
 * An SQS client for real SQS or a stand-in such as local-aws-sqs. SDK 3.1175 already honours
 * AWS_ENDPOINT_URL_SQS, then AWS_ENDPOINT_URL (service-specific endpoints, smithy's
 * getEndpointUrlConfig), unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is set, so we pass an endpoint
 * only when the caller gives one. Queue URLs carry their own host: the SDK sends each request to
 * its QueueUrl's host (useQueueUrlAsEndpoint), so a stand-in's URLs work without any override.
 */
export function sqsClient(options: SqsClientOptions = {}): SQSClient {
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const config: SQSClientConfig = { region, maxAttempts: options.maxAttempts ?? 3 };
  if (options.endpoint) config.endpoint = options.endpoint;
  if (options.credentials) config.credentials = options.credentials;
  return awsClient(new SQSClient(config));
}

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const THROTTLING = new Set(['ThrottlingException', 'RequestThrottled', 'KmsThrottled', 'OverLimit', 'TooManyRequestsException']);
const MISSING = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'ResourceNotFoundException']);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'InvalidSecurity', 'InvalidClientTokenId', 'UnrecognizedClientException', 'SignatureDoesNotMatch', 'ExpiredToken']);
/** A receipt handle from an older delivery (the message was received again meanwhile, or is gone). */
const STALE_HANDLE = new Set(['ReceiptHandleIsInvalid', 'AWS.SimpleQueueService.ReceiptHandleIsInvalid', 'MessageNotInflight', 'AWS.SimpleQueueService.MessageNotInflight', 'InvalidIdFormat']);

export function isAbort(err: unknown): boolean {
  const e = err as SdkErrorShape | undefined;
  return e?.name === 'AbortError' || e?.code === 'ABORT_ERR';
}

/** True for SQS's answer to a DeleteMessage / ChangeMessageVisibility with an outdated handle. */
export function isStaleHandle(err: unknown): boolean {
  return STALE_HANDLE.has((err as SdkErrorShape | undefined)?.name ?? '');
}

function hostOf(queueUrl: string): string {
  try {
    return new URL(queueUrl).host;
  } catch {
    return queueUrl;
  }
}

/** SQS text in our messages: one line, short, and masked (an SDK message may quote a header). */
export function sqsText(text: string | undefined, max = 200): string {
  return maskSecretText(remoteText(text ?? '', max));
}

/**
 * An SDK failure as one of our errors. Throttling, 5xx and the network are NetworkErrors (passing:
 * the copier's retry decision applies); everything else is a permanent QueueError naming the queue.
 */
export function sqsError(err: unknown, queueUrl: string, action: string): Error {
  if (err instanceof QueueError || err instanceof NetworkError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const detail = sqsText(e.message);
  if (MISSING.has(name)) return new QueueError(queueUrl, `SQS queue ${queueUrl} does not exist (${action})`, ErrorCode.QUEUE, { cause: err });
  if (DENIED.has(name) || status === 403) {
    return new QueueError(queueUrl, `SQS denied sqs:${action} on ${queueUrl}: ${name}${detail ? ` (${detail})` : ''}`, ErrorCode.QUEUE, { cause: err });
  }
  if (THROTTLING.has(name) || e.$fault === 'server' || (status !== undefined && status >= 500) || e.$retryable) {
    return new NetworkError(hostOf(queueUrl), `SQS ${action} on ${queueUrl} failed: ${name}${status ? ` (HTTP ${status})` : ''}`, { cause: err });
  }
  // No HTTP answer at all: refused, reset, DNS, TLS handshake. The SDK already retried it.
  if (status === undefined && e.$fault === undefined) {
    return new NetworkError(hostOf(queueUrl), `SQS ${action} on ${queueUrl}: ${e.code ?? name}${detail ? `: ${detail}` : ''}`, { cause: err });
  }
  return new QueueError(queueUrl, `SQS ${action} on ${queueUrl} failed: ${name}${detail ? `: ${detail}` : ''}`, ErrorCode.QUEUE, { cause: err });
}

/** Run one SDK call, mapping its failure. */
export async function sqsCall<T>(queueUrl: string, action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isAbort(err)) throw err;
    throw sqsError(err, queueUrl, action);
  }
}

/** `arn:aws:sqs:region:account:name` -> its parts (RedrivePolicy gives the DLQ only as an ARN). */
export function parseQueueArn(arn: string): { region: string; account: string; name: string } | undefined {
  const m = /^arn:[a-z-]+:sqs:([a-z0-9-]*):(\d*):([A-Za-z0-9_-]{1,80}(?:\.fifo)?)$/.exec(arn);
  return m ? { region: m[1]!, account: m[2]!, name: m[3]! } : undefined;
}

/** Seconds for ChangeMessageVisibility: rounded up (never sooner than asked), clamped 0-43200. */
export function visibilitySeconds(delayMs: number): number {
  if (!Number.isFinite(delayMs) || delayMs <= 0) return 0;
  return Math.min(SQS_MAX_VISIBILITY_S, Math.ceil(delayMs / 1000));
}

/** WaitTimeSeconds for a long poll of `waitMs`: whole seconds, 0-20. */
export function waitSeconds(waitMs: number): number {
  if (!Number.isFinite(waitMs) || waitMs <= 0) return 0;
  return Math.min(SQS_MAX_WAIT_S, Math.ceil(waitMs / 1000));
}
