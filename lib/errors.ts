// One error module for the whole tool: every error we raise on purpose carries a stable `code`
// (model: undici's UND_ERR_* codes), and `isRetryable()` is the single retry decision used by the
// HTTP layer, the copier and the queue workers alike.
import { printable } from './text.js';

export const ErrorCode = {
  INVALID_REFERENCE: 'SWRM_INVALID_REFERENCE',
  USAGE: 'SWRM_USAGE',
  CONFIG: 'SWRM_CONFIG',
  NETWORK: 'SWRM_NETWORK',
  REGISTRY: 'SWRM_REGISTRY',
  AUTH: 'SWRM_AUTH_FAILED',
  DIGEST_MISMATCH: 'SWRM_DIGEST_MISMATCH',
  SIZE_MISMATCH: 'SWRM_SIZE_MISMATCH',
  UNSUPPORTED: 'SWRM_UNSUPPORTED',
  MANIFEST_INVALID: 'SWRM_MANIFEST_INVALID',
  NOT_FOUND: 'SWRM_NOT_FOUND',
  PROTOCOL: 'SWRM_PROTOCOL',
  ABORTED: 'SWRM_ABORTED',
  INVALID_MESSAGE: 'SWRM_INVALID_MESSAGE',
  INTERRUPTED: 'SWRM_INTERRUPTED',
  /** Work never started because the run was interrupted first (reported as "not started"). */
  NOT_STARTED: 'SWRM_NOT_STARTED',
  /** Two different sources map to the same destination tag (planner). */
  DESTINATION_CONFLICT: 'SWRM_DESTINATION_CONFLICT',
  /** A token realm we will not send credentials to (auth). */
  UNTRUSTED_REALM: 'SWRM_UNTRUSTED_REALM',
  /** A redirect, upload Location or Link we refuse to follow (other origin, downgrade, metadata address). */
  UNSAFE_REDIRECT: 'SWRM_UNSAFE_REDIRECT',
  /** A response body over its cap (tag list, catalog, token, manifest). */
  BODY_TOO_LARGE: 'SWRM_BODY_TOO_LARGE',
  /** A `Link` chain that loops or is longer than the page cap. */
  PAGINATION: 'SWRM_PAGINATION',
  /** A request that outlived its overall deadline. */
  TIMEOUT: 'SWRM_TIMEOUT',
  /** A certificate problem (unknown CA, expired, wrong host); retrying does not help. */
  TLS: 'SWRM_TLS',
  /** A DLQ or state file that another process holds, or that cannot be locked. */
  LOCKED: 'SWRM_LOCKED',
  /** An SQS queue refused a request for good: missing queue, access denied, a rejected entry. */
  QUEUE: 'SWRM_QUEUE',
  /** An SQS queue without a RedrivePolicy, so there is no DLQ to dead-letter into or replay from. */
  NO_DLQ: 'SWRM_NO_DLQ',
  /** An image the Lambda deadline cut twice: moved to the long-haul queue for `work` (not a failure). */
  LAMBDA_DEADLINE: 'SWRM_LAMBDA_DEADLINE',
  /** The state store (SWRM_STATE_TABLE's DynamoDB table) is missing or refuses an action the code needs. */
  STATE: 'SWRM_STATE',
  /** An SWR organization or repository name that breaks SWR's naming rules. */
  SWR_NAME: 'SWRM_SWR_NAME',
  /** An SWR management API refusal (quota, exists, owned by another user, auth, busy). */
  SWR_API: 'SWRM_SWR_API',
  /** Creating the SWR organizations a plan needs would exceed the account's organization quota. */
  SWR_ORG_QUOTA: 'SWRM_SWR_ORG_QUOTA',
  /** An SWR organization exists (names are unique per region) but this account cannot push to it. */
  SWR_ORG_NO_PUSH: 'SWRM_SWR_ORG_NO_PUSH',
  /** An image that cannot be converted to the destination's format (zstd layer, artifact, referrer). */
  UNCONVERTIBLE: 'SWRM_UNCONVERTIBLE',
  /** A source's listing API refused or answered something unusable (HTML, missing credentials, unknown type). */
  LISTING: 'SWRM_LISTING',
  /** Docker Hub's pull budget cannot take the rest of the plan: left on the queue / in the DLQ, not failed. */
  RATE_BUDGET: 'SWRM_RATE_BUDGET',
  /** A Kubernetes context, kubeconfig or API server problem (images-from-cluster). */
  KUBERNETES: 'SWRM_KUBERNETES',
  /** A run summary that could not be delivered (SNS, webhook): a warning, never the run's failure. */
  NOTIFY: 'SWRM_NOTIFY',
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export class MigrateError extends Error {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A mistake in what the user typed (flags, references). CLI exit code 2. */
export class UsageError extends MigrateError {
  constructor(message: string) {
    super(ErrorCode.USAGE, message);
  }
}

export class InvalidReferenceError extends MigrateError {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    // The input is untrusted text (a config key, a queue message): kept to one line (issue 6 item 11).
    super(ErrorCode.INVALID_REFERENCE, `invalid image reference "${printable(input)}": ${printable(reason)}`);
  }
}

/** A config file that does not validate. Carries every problem, each with file and path. */
export class ConfigError extends MigrateError {
  readonly problems: string[];
  constructor(
    /** The message without the list of problems. */
    readonly summary: string,
    problems: string[] = [],
  ) {
    // A problem quotes keys and values from the file: one line each, whatever they hold (issue 6 item 11).
    const lines = problems.map((p) => printable(p, 2048));
    super(ErrorCode.CONFIG, lines.length ? `${summary}\n  - ${lines.join('\n  - ')}` : summary);
    this.problems = lines;
  }
}

/** One entry of the registry's `{"errors":[...]}` body (distribution spec, "Error Codes"). */
export interface RegistryErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

export class RegistryError extends MigrateError {
  constructor(
    message: string,
    readonly status: number,
    readonly host: string,
    readonly errors: RegistryErrorEntry[] = [],
    /** From `Retry-After` (seconds or HTTP date), when the registry sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(ErrorCode.REGISTRY, message);
  }
  /** The first registry error code, e.g. MANIFEST_UNKNOWN, or undefined. */
  get registryCode(): string | undefined {
    return this.errors[0]?.code;
  }
  hasCode(code: string): boolean {
    return this.errors.some((e) => e.code === code);
  }
}

/**
 * Where a registry's credentials were given, so an authentication failure points at what the user
 * actually wrote (issue 13: the hint named --auth when --config was used). Files and flags only:
 * never a credential.
 */
export interface CredentialSource {
  /** The file holding them (sync.yaml, auth.yaml, a docker config.json); absent: none was given. */
  file?: string;
  /** How that file was given (`--config`, `--auth`, `SWRM_CONFIG`, `dockerConfig of quay.io in sync.yaml`),
   *  or, with no file, how to give one (`--auth FILE`). */
  flag: string;
  /** The entry whose credentials apply (`quay.io/coreos`); absent: the file has none for this registry. */
  entry?: string;
}

/** The advice that ends an authentication failure, naming the user's own file and flag. */
export function credentialHint(host: string, from?: CredentialSource): string {
  if (!from) return `check the credentials for ${host}`;
  if (!from.file) return `no credentials are given for ${host}: give them with ${from.flag}`;
  if (!from.entry) return `${from.file} (${from.flag}) has no credentials for ${host}: add them there`;
  return `check the credentials for ${from.entry} in ${from.file} (${from.flag})`;
}

export class AuthError extends MigrateError {
  constructor(
    readonly host: string,
    readonly status: number,
    readonly detail?: string,
    /** A token that expired mid-request: fetching a new one may succeed. */
    readonly expired = false,
    readonly from?: CredentialSource,
  ) {
    super(ErrorCode.AUTH, `authentication failed for ${host}${detail ? ` (${detail})` : ''}; ${credentialHint(host, from)}`);
  }
}

export class NetworkError extends MigrateError {
  constructor(
    readonly host: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.NETWORK, `cannot reach ${host}: ${reason}`, options);
  }
}

export class DigestMismatchError extends MigrateError {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what = 'blob',
  ) {
    super(ErrorCode.DIGEST_MISMATCH, `${what} ${expected} failed digest verification: got ${actual}`);
  }
}

export class SizeMismatchError extends MigrateError {
  constructor(
    readonly digest: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(ErrorCode.SIZE_MISMATCH, `blob ${digest} has ${actual} bytes, its descriptor says ${expected}`);
  }
}

export class UnsupportedError extends MigrateError {
  constructor(message: string) {
    super(ErrorCode.UNSUPPORTED, message);
  }
}

/** Content the destination's format cannot represent (issue 8): zstd or uncompressed OCI layers,
 *  artifacts, referrers, nested indexes. Permanent: the same bytes always give the same refusal. */
export class UnconvertibleError extends MigrateError {
  constructor(message: string) {
    super(ErrorCode.UNCONVERTIBLE, message);
  }
}

export class ManifestInvalidError extends MigrateError {
  constructor(message: string) {
    super(ErrorCode.MANIFEST_INVALID, message);
  }
}

export class ProtocolError extends MigrateError {
  constructor(message: string) {
    super(ErrorCode.PROTOCOL, message);
  }
}

export class AbortedError extends MigrateError {
  constructor(message = 'aborted') {
    super(ErrorCode.ABORTED, message);
  }
}

/** A queue message that does not validate: it goes to the DLQ, it never crashes a worker. */
export class InvalidMessageError extends MigrateError {
  constructor(message: string) {
    super(ErrorCode.INVALID_MESSAGE, message);
  }
}

/** Registry error codes that describe a passing condition, not a wrong request. */
// MANIFEST_BLOB_UNKNOWN at the destination means this run's idea of what is there was wrong (a blob
// removed meanwhile); the copy heals its ledger, and a retry uploads it again.
const RETRYABLE_REGISTRY_CODES = new Set(['TOOMANYREQUESTS', 'BLOB_UPLOAD_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN',
  // SWR management API: system busy, and the two throttling codes (sent with 4xx statuses).
  'SVCSTG.SWR.4090023', 'SVCSTG.SWR.4031032', 'SVCSTG.SWR.4031042']);

/**
 * The single retry decision. Retry: network failures, 408, 429, 5xx, and a digest mismatch
 * (a corrupted download may be a flaky proxy; the copier bounds the attempts). Never retry
 * user mistakes, auth failures or 4xx answers that will not change.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof NetworkError) return true;
  if (err instanceof AuthError) return err.expired;
  if (err instanceof RegistryError) {
    if (err.status === 408 || err.status === 429 || err.status >= 500) return true;
    return err.errors.some((e) => RETRYABLE_REGISTRY_CODES.has(e.code));
  }
  if (err instanceof DigestMismatchError || err instanceof SizeMismatchError) return true;
  // SWR management API: busy / throttled codes and 429/503 (lib/vendors/swr/errors.ts decides which).
  if (err instanceof MigrateError && err.code === ErrorCode.SWR_API) return (err as MigrateError & { retryable?: boolean }).retryable === true;
  return false;
}

/**
 * A registry saying "not now" (429, 503, SWR's busy and throttled codes): under a push budget
 * (lib/registry/limits/push-budget.ts) these are waited out with backoff and never spend an attempt.
 */
export function isBusy(err: unknown): boolean {
  if (err instanceof RegistryError) return err.status === 429 || err.status === 503 || err.errors.some((e) => BUSY_CODES.has(e.code));
  if (err instanceof MigrateError && err.code === ErrorCode.SWR_API) return (err as MigrateError & { retryable?: boolean }).retryable === true;
  return false;
}

/** SWR's "system busy" and throttling codes (lib/vendors/swr/errors.ts, REFERENCE.md section 2). */
export const BUSY_CODES: ReadonlySet<string> = new Set(['TOOMANYREQUESTS', 'SVCSTG.SWR.4090023', 'SVCSTG.SWR.4031032', 'SVCSTG.SWR.4031042']);

/** How long the registry asked us to wait, if it said so. */
export function retryAfterMs(err: unknown): number | undefined {
  return err instanceof RegistryError ? err.retryAfterMs : undefined;
}

/** Parse `Retry-After`: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The code stored with a failure: the registry's own (MANIFEST_UNKNOWN, ...) when it gave one. */
export function failureCode(err: unknown): string {
  if (err instanceof RegistryError && err.registryCode) return err.registryCode;
  if (err instanceof MigrateError) return err.code;
  return 'SWRM_INTERNAL';
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The DLQ (or another state file) is locked by another process and stayed locked. */
export class LockedError extends MigrateError {
  constructor(
    readonly file: string,
    waitedMs: number,
    holder: string,
    /** Instead of "is locked": why the lock could not be taken at all. */
    why?: string,
  ) {
    let who = '';
    try {
      const h = JSON.parse(holder) as { pid?: number; host?: string };
      if (typeof h.pid === 'number') who = ` by process ${h.pid}${h.host ? ` on ${h.host}` : ''}`;
    } catch {
      // an unreadable lock file: say nothing about its holder
    }
    super(
      ErrorCode.LOCKED,
      why
        ? `cannot lock ${file}: ${why}`
        : `${file} is locked${who} (waited ${Math.round(waitedMs / 1000)} s); if no other swr-migrate uses it, remove ${file}.lock`,
    );
  }
}

/** Sources that map to the same destination tag; each would overwrite the other's push. */
export class DestinationConflictError extends MigrateError {
  constructor(
    readonly destination: string,
    readonly claims: readonly { source: string; origin?: string }[],
  ) {
    // In rule order whatever order the listings finished in, so the message is the same every run.
    claims = [...claims].sort((a, b) => (a.origin ?? '').localeCompare(b.origin ?? '', undefined, { numeric: true }) || a.source.localeCompare(b.source));
    const who = claims.map((c) => `${c.source}${c.origin ? ` (${c.origin})` : ''}`).join(' and ');
    super(ErrorCode.DESTINATION_CONFLICT, `destination ${destination} is claimed by ${claims.length} different sources: ${who}; give them different destinations`);
  }
}


/** A token realm we will not send credentials to (issue 6, item 3). Names the realm, never a query. */
export class UntrustedRealmError extends MigrateError {
  constructor(
    readonly host: string,
    readonly realm: string,
    reason: string,
  ) {
    super(
      ErrorCode.UNTRUSTED_REALM,
      `registry ${host} sent token realm ${realm}, which is not trusted: ${reason} (add it to tokenRealms of ${host} if it is yours)`,
    );
  }
}

/** A redirect, upload Location or Link we refuse to follow. */
export class UnsafeRedirectError extends MigrateError {
  constructor(
    readonly host: string,
    readonly target: string,
    reason: string,
  ) {
    super(ErrorCode.UNSAFE_REDIRECT, `${host} pointed to ${target}, which was refused: ${reason}`);
  }
}

/** A response body over its cap; never retried, a hostile or broken server sends it again. */
export class BodyTooLargeError extends MigrateError {
  constructor(
    readonly host: string,
    what: string,
    readonly limit: number,
  ) {
    super(ErrorCode.BODY_TOO_LARGE, `${what} from ${host} is larger than ${limit} bytes; refused`);
  }
}

/** A `Link` chain that loops or goes on past the page cap. */
export class PaginationError extends MigrateError {
  constructor(
    readonly host: string,
    what: string,
    reason: string,
  ) {
    super(ErrorCode.PAGINATION, `${what} on ${host}: ${reason}`);
  }
}

/**
 * A TLS problem that retrying cannot fix: an untrusted, expired or misnamed certificate, a refused
 * client certificate, HTTPS spoken to a plain-HTTP port, or unusable caFile/certFile/keyFile. Not a
 * NetworkError, so `isRetryable` treats it as permanent; the message names the option that fixes it.
 */
export class TlsError extends MigrateError {
  constructor(
    /** The host whose TLS failed, or the registry whose files could not be used. */
    readonly host: string,
    message: string,
    /** HTTPS was answered in plain HTTP: an `insecure: true` registry falls back to HTTP. */
    readonly plainHttp = false,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.TLS, message, options);
  }
}

/**
 * A request that outlived its overall deadline: a stalled or trickling server (issue 6, item 4).
 * Not retryable: another attempt would hold the copier for another whole deadline; the image goes
 * to the DLQ and `replay` runs it again.
 */
export class RequestTimeoutError extends MigrateError {
  constructor(
    readonly host: string,
    what: string,
    seconds: number,
  ) {
    // --timeout on the command line, defaults.timeout in a config (the only way for the Lambda functions).
    super(ErrorCode.TIMEOUT, `${what} on ${host} took longer than ${seconds} s (its deadline); raise --timeout (or defaults.timeout) if the link is that slow`);
  }
}

/**
 * An SQS request that retrying will not fix (queue does not exist, access denied, an entry SQS
 * rejected as the sender's fault, a body too large). Passing SQS failures (throttling, 5xx, the
 * network) are NetworkErrors instead, so `isRetryable` needs no SQS case. Names the queue URL.
 */
export class QueueError extends MigrateError {
  constructor(
    readonly queueUrl: string,
    message: string,
    code: typeof ErrorCode.QUEUE | typeof ErrorCode.NO_DLQ = ErrorCode.QUEUE,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * A state store (lib/state) that retrying will not fix: the DynamoDB table is missing, the role may
 * not call an action on it, or it refused a request as malformed. Names the table and the action.
 * Throttling, 5xx and the network are NetworkErrors instead (passing).
 */
export class StateError extends MigrateError {
  constructor(
    readonly store: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.STATE, message, options);
  }
}

/** SWR organization problems a user must resolve: quota exhausted, or an org owned by someone else. */
export class SwrOrgError extends MigrateError {
  constructor(
    code: typeof ErrorCode.SWR_ORG_QUOTA | typeof ErrorCode.SWR_ORG_NO_PUSH,
    message: string,
    readonly orgs: string[],
  ) {
    super(code, message);
  }
}

/**
 * A source's listing API (Docker Hub, Harbor, Quay, ECR, SWR: lib/listing) refused or answered
 * something unusable: 401/403/404, HTML (a login page) or non-JSON, missing credentials, a `next`
 * on another origin. Names the host and what to do; never a credential or a query string.
 */
export class ListingError extends MigrateError {
  constructor(
    readonly host: string,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.LISTING, `listing ${host}: ${message}`, options);
  }
}

/**
 * A source's pull budget (Docker Hub: manifest GETs per 6 h) cannot take this image now. Not a
 * failure: the image is left in the DLQ for `replay` after the window, or paced with --pace.
 */
export class RateBudgetError extends MigrateError {
  constructor(
    readonly host: string,
    budget: string,
    readonly replayAfter: Date,
  ) {
    super(ErrorCode.RATE_BUDGET, `pull budget of ${host} spent (${budget}); replay after ${replayAfter.toISOString()}, or run with --pace`);
  }
}

/**
 * `images-from-cluster` could not read the cluster: a kubeconfig or context that does not exist, an
 * API server that cannot be reached (refused, DNS, TLS), or one that refused the listing (401/403).
 * Names the server or the context, never the credentials.
 */
export class KubernetesError extends MigrateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.KUBERNETES, message, options);
  }
}
