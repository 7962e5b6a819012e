// Harbor's webhooks (REFERENCE.md section 8): 1.10's `pushImage`/`deleteImage` (one resource per
// tag), 2.x's `PUSH_ARTIFACT`/`DELETE_ARTIFACT` (one resource), and from 2.8 the same data as a
// CloudEvent (`application/cloudevents+json`, `harbor.artifact.pushed`/`deleted`). Harbor signs
// nothing: the policy's auth header is sent verbatim as `Authorization`. Pure: no I/O.
import { z } from 'zod';
import { type ParsedEvent, type RepositoryHint, repositoryHint } from '../../events/hints.js';
import type { WebhookSender } from '../../events/sender.js';
import { headerValue, sameSecret } from '../../events/verify.js';
import { printable } from '../../text.js';

/** The policy's auth header is the secret itself, or `Bearer <secret>`: both are accepted. */
export function harborAuthorized(headers: Record<string, string | string[] | undefined>, secret: string): boolean {
  const given = headerValue(headers, 'authorization');
  if (given === undefined) return false;
  const bare = sameSecret(given, secret);
  const bearer = /^bearer /i.test(given) && sameSecret(given.slice(7), secret);
  return bare || bearer;
}

// Non-strict: Harbor adds fields between versions (date_created, repo_type, operator, ...).
const eventData = z.object({
  resources: z.array(z.object({ tag: z.string().max(256).optional(), digest: z.string().max(256).optional(), resource_url: z.string().min(1).max(2048) })).min(1).max(1000),
  repository: z.object({ repo_full_name: z.string().min(1).max(1024) }),
});
const classic = z.object({ type: z.string().min(1).max(128), event_data: z.unknown() });
const cloudEvent = z.object({ specversion: z.string(), type: z.string().min(1).max(128), data: z.unknown() });

const PUSH = new Set(['pushImage', 'PUSH_ARTIFACT', 'harbor.artifact.pushed']);
const DELETE = new Set(['deleteImage', 'DELETE_ARTIFACT', 'harbor.artifact.deleted']);

/** The repositories an authenticated Harbor body names; other event types (pulls, scans, quotas) need nothing. */
export function parseHarborEvent(json: unknown): ParsedEvent {
  const envelope = cloudEvent.safeParse(json);
  const c = envelope.success ? undefined : classic.safeParse(json);
  if (!envelope.success && !c?.success) return { invalid: 'not a Harbor webhook (expected type and event_data, or a CloudEvent with data)' };
  const type = envelope.success ? envelope.data.type : c!.data!.type;
  const action = PUSH.has(type) ? 'push' : DELETE.has(type) ? 'delete' : undefined;
  if (!action) return { hints: [], note: `Harbor event ${printable(type, 60)} needs no re-check` };
  const data = eventData.safeParse(envelope.success ? envelope.data.data : c!.data!.event_data);
  if (!data.success) return { invalid: `not a Harbor ${action} event (expected resources[].resource_url and repository.repo_full_name)` };
  const hints: RepositoryHint[] = [];
  for (const r of data.data.resources) {
    // resource_url is `host[:port]/project/repo:tag` or `...@sha256:...`: the host is all it is read for.
    const slash = r.resource_url.indexOf('/');
    if (slash <= 0) return { invalid: 'a Harbor resource_url names no registry host' };
    const hint = repositoryHint(r.resource_url.slice(0, slash), data.data.repository.repo_full_name, r.tag, action);
    if (typeof hint === 'string') return { invalid: `Harbor event: ${hint}` };
    hints.push(hint);
  }
  return { hints };
}

/** Harbor's webhook sender (lib/vendors/webhooks.ts): the auth header, then the body. */
export const harborWebhook: WebhookSender = {
  proof: 'header',
  authenticate: (req, secret) => {
    if (headerValue(req.headers, 'authorization') === undefined) return 'no Authorization header (set the webhook policy\'s auth header to the secret)';
    return harborAuthorized(req.headers, secret) ? undefined : 'the Authorization header does not match the configured secret';
  },
  parse: (json) => parseHarborEvent(json),
};
