// The SWR fields of a registry entry in the config file (lib/config/native.ts spreads `swrFields`
// into its strict registry schema and calls `swrAccessOf`). Pure: the AK/SK come in already
// resolved or as secret templates, and the secret key never reaches a message.
import { z } from 'zod';
import type { Credentials } from '../../registry/auth/auth.js';
import { detectSwr, type SwrTarget } from './detect.js';
import { swrLongTermLogin } from './login.js';
import { LISTING_TYPES } from '../../listing/settings.js';

/** Huawei's per-tenant push limits (about 20 concurrent layer pushes and 20 push requests/s; 503 beyond). */
export const SWR_PUSH_DEFAULTS = { pushConcurrency: 20, pushRate: 20 } as const;

export interface SwrAccess extends SwrTarget {
  /** IAM project ID for the quota API; without it the quota pre-check relies on the create answer. */
  projectId?: string;
  pushConcurrency: number;
  /** Push requests per second at most, per tenant. */
  pushRate: number;
  /**
   * The IAM access key, for signing management API calls (SDK-HMAC-SHA256). Non-enumerable (see
   * `attachSwrKeys`) so that logging or serialising a RegistryAccess does not carry the secret key.
   */
  readonly keys?: { accessKey: string; secretKey: string };
}

const int = (min: number, max: number) => {
  const error = `expected a whole number from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
};

export const swrFields = {
  /** What the registry is, for SWR handling and for listing (lib/listing): swr, generic, dockerhub, harbor, quay, ecr. */
  type: z.enum(LISTING_TYPES, { error: `expected one of ${LISTING_TYPES.join(', ')}` }).optional(),
  edition: z.enum(['basic', 'enterprise'], { error: 'expected basic (converts OCI to Docker media types) or enterprise' }).optional(),
  accessKey: z.string().min(1).optional(),
  secretKey: z.string().min(1).optional(),
  project: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, { error: 'expected an IAM project name such as cn-north-4 or cn-north-4_dev' }).optional(),
  /** The IAM project ID (32 hex), for the quota API (GET /v2/manage/projects/{project_id}/quotas). */
  projectId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, { error: 'expected the IAM project ID (console: My Credentials > Projects)' }).optional(),
  managementEndpoint: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as https://swr-api.cn-north-4.myhuaweicloud.com' }).optional(),
  pushConcurrency: int(1, 256).optional(),
  pushRate: z.number({ error: 'expected a number of push requests per second above 0' }).positive({ error: 'expected a number of push requests per second above 0' }).max(10_000).optional(),
};

type SwrEntry = { [K in keyof typeof swrFields]?: z.infer<(typeof swrFields)[K]> } & { username?: string; password?: string; dockerConfig?: unknown };

const SWR_ONLY = ['edition', 'accessKey', 'secretKey', 'project', 'projectId', 'managementEndpoint', 'pushConcurrency', 'pushRate'] as const;

/**
 * The SwrAccess of an entry for `host`, or undefined for a non-SWR registry; `problem(key, reason)`
 * records a refusal (key '' = the entry itself). SWR-only fields on another registry are refused
 * rather than ignored: that is a registry the user believes is SWR.
 */
export function swrAccessOf(host: string, e: SwrEntry, problem: (key: string, reason: string) => void): SwrAccess | undefined {
  const target = detectSwr(host, e);
  if (!target) {
    for (const k of SWR_ONLY) {
      if (e[k] !== undefined) problem(k, `only for SWR registries (swr.<region>.myhuaweicloud.com, or add type: swr)`);
    }
    return undefined;
  }
  const keyed = e.accessKey !== undefined || e.secretKey !== undefined;
  if (keyed && (e.username !== undefined || e.password !== undefined || e.dockerConfig)) {
    problem('', 'accessKey/secretKey and username/password (or dockerConfig) are mutually exclusive: the login is derived from the access key');
  } else if (keyed && (e.accessKey === undefined || e.secretKey === undefined)) {
    problem('', `${e.accessKey === undefined ? 'secretKey without accessKey' : 'accessKey without secretKey'}: give both`);
  } else if (keyed && target.project === undefined) {
    problem('', `project is needed to derive the login for ${host} (its host names no region): add project: <region id>`);
  }
  return { ...target, ...(e.projectId !== undefined ? { projectId: e.projectId } : {}), pushConcurrency: e.pushConcurrency ?? SWR_PUSH_DEFAULTS.pushConcurrency, pushRate: e.pushRate ?? SWR_PUSH_DEFAULTS.pushRate };
}

/** The long-term login for resolved keys; also keeps the keys (non-enumerable) for the management API. */
export function attachSwrKeys(swr: SwrAccess, accessKey: string, secretKey: string): Credentials {
  Object.defineProperty(swr, 'keys', { value: { accessKey, secretKey }, enumerable: false });
  return swrLongTermLogin(swr.project!, accessKey, secretKey);
}

/**
 * The SwrAccess of a registry found by its host alone (an auth file, `copy` without a config, an
 * image-syncer config): an `swr.<region>.myhuaweicloud.com` host is SWR Basic with the default
 * push budget. undefined for other hosts.
 */
export function swrAccessForHost(host: string): SwrAccess | undefined {
  const target = detectSwr(host);
  return target ? { ...target, ...SWR_PUSH_DEFAULTS } : undefined;
}
