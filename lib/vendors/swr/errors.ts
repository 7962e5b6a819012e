// SWR management API error bodies -> one error class with a stable code and a retry decision.
// Bodies come as `[{"errorCode","errorMessage"}]` (documented) or `{"errors":[{"errorCode"}]}` /
// `{"error_code","error_msg"}` (API gateway, `APIGW.*`); parse all of them, never echo request data.
import { ErrorCode, MigrateError } from '../../errors.js';
import { printable } from '../../text.js';

export type SwrErrorKind = 'busy' | 'quota' | 'exists' | 'foreign' | 'invalid-name' | 'auth' | 'other';

export interface SwrErrorEntry {
  code: string;
  message: string;
}

/** Codes from the SWR API reference ("Error Codes"), REFERENCE §2. */
const KINDS: Record<string, SwrErrorKind> = {
  'SVCSTG.SWR.4090023': 'busy',
  'SVCSTG.SWR.4031032': 'busy',
  'SVCSTG.SWR.4031042': 'busy',
  'SVCSTG.SWR.4000097': 'quota',
  'SVCSTG.SWR.4090060': 'exists',
  'SVCSTG.SWR.4011044': 'foreign',
  'SVCSTG.SWR.4001028': 'invalid-name',
  'SVCSTG.SWR.4001029': 'invalid-name',
  'SVCSTG.SWR.4010000': 'auth',
};

const WORDS: Record<SwrErrorKind, string> = {
  busy: 'SWR is busy or throttling requests (retrying)',
  quota: 'organization quota exhausted (default 5 per account): delete one or ask Huawei Cloud for a higher quota',
  exists: 'already exists (organization names are unique per region: it may belong to another account)',
  foreign: 'owned by another user',
  'invalid-name': 'SWR refused the name as invalid',
  auth: 'authentication failed: check the access key / token',
  other: 'request refused',
};

function entry(v: unknown): SwrErrorEntry | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  const code = o.errorCode ?? o.error_code ?? o.code;
  const message = o.errorMessage ?? o.error_msg ?? o.message ?? '';
  return typeof code === 'string' ? { code, message: typeof message === 'string' ? message : '' } : undefined;
}

/** Every error entry of a body (text or parsed JSON); [] for anything else. */
export function parseSwrErrorBody(body: unknown): SwrErrorEntry[] {
  let v = body;
  if (typeof v === 'string') {
    try { v = JSON.parse(v); } catch { return []; }
  }
  const list = Array.isArray(v) ? v : v && typeof v === 'object' && Array.isArray((v as { errors?: unknown }).errors) ? (v as { errors: unknown[] }).errors : [v];
  return list.map(entry).filter((e): e is SwrErrorEntry => e !== undefined);
}

export function swrErrorKind(status: number, entries: SwrErrorEntry[]): SwrErrorKind {
  for (const e of entries) {
    const k = KINDS[e.code];
    if (k) return k;
  }
  if (status === 429 || status === 503) return 'busy';
  if (status === 401) return 'auth';
  return 'other';
}

export class SwrApiError extends MigrateError {
  readonly retryable: boolean;
  constructor(readonly kind: SwrErrorKind, readonly status: number, readonly host: string, readonly subject: string, readonly entries: SwrErrorEntry[]) {
    const codes = entries.map((e) => e.code).join(', ');
    super(ErrorCode.SWR_API, `${host}: ${subject}: ${WORDS[kind]} (HTTP ${status}${codes ? `, ${printable(codes)}` : ''})`);
    this.retryable = kind === 'busy';
  }
}

/** The error for a refused management API call; `subject` names what (e.g. `organization "team"`). */
export function swrApiError(status: number, body: unknown, host: string, subject: string): SwrApiError {
  const entries = parseSwrErrorBody(body);
  return new SwrApiError(swrErrorKind(status, entries), status, host, subject, entries);
}
