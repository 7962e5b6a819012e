// DynamoDB failures as our errors, each one line naming the table and the IAM action, e.g.
// `state table swr-migrate-prod-state: dynamodb:GetItem refused (AccessDeniedException)`.
// Throttling, 5xx and the network are NetworkErrors (passing: retried by the caller's policy);
// everything else (a missing table, a refused role, a malformed request) is a StateError.
import { NetworkError, StateError } from '../errors.js';
import { maskSecretText } from '../secrets.js';
import { remoteText } from '../text.js';

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const MISSING = new Set(['ResourceNotFoundException']);
const DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnrecognizedClientException', 'InvalidSignatureException', 'MissingAuthenticationTokenException', 'ExpiredTokenException', 'ExpiredToken', 'InvalidClientTokenId']);
const THROTTLED = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'LimitExceededException', 'InternalServerError', 'ServiceUnavailable']);

/** The endpoint's host, for a NetworkError (which names a host). */
function hostOf(err: SdkErrorShape): string {
  const url = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL;
  try {
    return url ? new URL(url).host : 'dynamodb';
  } catch {
    return err.name ?? 'dynamodb';
  }
}

export function stateError(err: unknown, table: string, action: string): Error {
  if (err instanceof StateError || err instanceof NetworkError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  const iam = `dynamodb:${action}`;
  if (MISSING.has(name)) return new StateError(table, `state table ${table} does not exist (${iam}: ${name})`, { cause: err });
  if (DENIED.has(name) || status === 403) return new StateError(table, `state table ${table}: ${iam} refused (${name})`, { cause: err });
  if (THROTTLED.has(name) || e.$fault === 'server' || (status !== undefined && status >= 500) || e.$retryable) {
    return new NetworkError(hostOf(e), `state table ${table}: ${iam} failed: ${name}${status ? ` (HTTP ${status})` : ''}`, { cause: err });
  }
  const detail = maskSecretText(remoteText(e.message ?? '', 200));
  // No HTTP answer at all: refused, reset, DNS, TLS handshake (the SDK already retried it).
  if (status === undefined && e.$fault === undefined) return new NetworkError(hostOf(e), `state table ${table}: ${iam}: ${e.code ?? name}${detail ? `: ${detail}` : ''}`, { cause: err });
  return new StateError(table, `state table ${table}: ${iam} failed: ${name}${detail ? ` (${detail})` : ''}`, { cause: err });
}
