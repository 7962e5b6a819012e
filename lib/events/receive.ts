// The webhook receiver's decision (issue 16, continuous mirroring), without I/O: which sender a
// request claims to come from (its path), whether it proves it (REFERENCE.md section 8: Harbor's
// auth header, GitHub's HMAC, Docker Hub's and Quay's secret path segment), and the rechecks its
// body asks for. The HTTP side (serve, the receiver function) enqueues them and answers at once:
// senders give up within seconds (Harbor 2.8+: 3 s) and events are only hints; the schedule is the
// backstop. Refusals name no secret and quote nothing from the body or the path's secret segment.
import type { EventSource, EventsSettings } from '../config/service-settings.js';
import type { EventVia, RecheckMessage } from '../queue/messages.js';
import { type ParsedEvent, rechecksFrom } from './hints.js';
import { headerValue, hubSignatureMatches, sameSecret } from './verify.js';
import { harborAuthorized, parseHarborEvent } from '../vendors/harbor/events.js';
import { parseDockerHubEvent } from '../vendors/dockerhub/events.js';
import { parseQuayEvent } from '../vendors/quay/events.js';
import { parseGithubEvent } from '../vendors/ghcr/events.js';

export type { EventVia } from '../queue/messages.js';

/** Bodies above this are refused (413) before they are read as JSON; registry events are a few KB. */
export const MAX_WEBHOOK_BODY = 1024 * 1024;

export interface WebhookRequest {
  /** As received: `/hooks/harbor`, `/hooks/dockerhub/<secret>`, `/hooks/quay/<secret>`, `/hooks/github` (a query is ignored). */
  path: string;
  /** Header names in lower case (as node:http gives them). */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type WebhookResult =
  /** 202: rechecks to enqueue; 200: nothing to do (a ping, an event that needs no re-check). */
  | { status: 200 | 202; via: EventVia; rechecks: RecheckMessage[]; note?: string }
  | { status: 400 | 401 | 404 | 413; via?: EventVia; reason: string };

const ROUTES: readonly EventSource[] = ['harbor', 'dockerhub', 'quay', 'github'];
/** Senders that cannot sign or add a header: their secret is the URL's last segment. */
const PATH_SECRET = new Set<EventSource>(['dockerhub', 'quay']);
const NOT_FOUND = `no webhook here; POST to ${ROUTES.map((r) => `/hooks/${r}${PATH_SECRET.has(r) ? '/SECRET' : ''}`).join(', ')}`;

/** The sender a path is for and the secret segment it carries; undefined for any other path. */
function route(path: string): { via: EventSource; segment?: string } | undefined {
  const parts = path.split('?')[0]!.replace(/\/$/, '').split('/');
  if (parts.length < 3 || parts[0] !== '' || parts[1] !== 'hooks') return undefined;
  const via = ROUTES.find((r) => r === parts[2]);
  if (!via) return undefined;
  if (PATH_SECRET.has(via)) {
    if (parts.length > 4) return undefined;
    let segment = parts[3];
    try {
      segment = segment === undefined ? undefined : decodeURIComponent(segment);
    } catch {
      // Not percent-encoding a secret could be: compared as sent, it simply does not match.
    }
    return { via, ...(segment !== undefined ? { segment } : {}) };
  }
  return parts.length === 3 ? { via } : undefined;
}

/** Whether the request proves it comes from the configured sender; the refusal's reason when not. */
function authenticate(req: WebhookRequest, via: EventSource, segment: string | undefined, secret: string): string | undefined {
  switch (via) {
    case 'harbor':
      if (headerValue(req.headers, 'authorization') === undefined) return 'no Authorization header (set the webhook policy\'s auth header to the secret)';
      return harborAuthorized(req.headers, secret) ? undefined : 'the Authorization header does not match the configured secret';
    case 'github': {
      const signature = headerValue(req.headers, 'x-hub-signature-256');
      if (signature === undefined) return 'no X-Hub-Signature-256 header (set the webhook\'s secret)';
      return hubSignatureMatches(signature, req.body, secret) ? undefined : 'the X-Hub-Signature-256 signature does not match the configured secret';
    }
    default:
      if (segment === undefined || segment === '') return `the URL carries no secret (use /hooks/${via}/SECRET)`;
      return sameSecret(segment, secret) ? undefined : 'the URL\'s secret does not match the configured secret';
  }
}

function parse(req: WebhookRequest, via: EventSource, json: unknown): ParsedEvent | { status: 400; reason: string } {
  switch (via) {
    case 'harbor':
      return parseHarborEvent(json);
    case 'dockerhub':
      return parseDockerHubEvent(json);
    case 'quay':
      return parseQuayEvent(json);
    case 'github': {
      const event = headerValue(req.headers, 'x-github-event');
      if (!event) return { status: 400, reason: 'no X-GitHub-Event header' };
      return parseGithubEvent(event, json);
    }
  }
}

/** What to answer a webhook request, and the rechecks to enqueue before answering. Pure. */
export function receiveWebhook(req: WebhookRequest, events: EventsSettings | undefined): WebhookResult {
  const r = route(req.path);
  if (!r) return { status: 404, reason: NOT_FOUND };
  const { via } = r;
  const secret = events?.secrets[via];
  if (!secret) return { status: 401, via, reason: `webhooks from ${via} are not enabled (events.${via}.secret is not set)` };
  if (req.body.length > MAX_WEBHOOK_BODY) return { status: 413, via, reason: `body of ${req.body.length} bytes is above the ${MAX_WEBHOOK_BODY}-byte limit` };
  const refused = authenticate(req, via, r.segment, secret);
  if (refused) return { status: 401, via, reason: refused };
  let json: unknown;
  try {
    json = JSON.parse(req.body.toString('utf8'));
  } catch {
    return { status: 400, via, reason: 'body is not JSON' };
  }
  const parsed = parse(req, via, json);
  if ('status' in parsed) return { ...parsed, via };
  if ('invalid' in parsed) return { status: 400, via, reason: parsed.invalid };
  const rechecks = rechecksFrom(parsed.hints, via);
  if (rechecks.length === 0) return { status: 200, via, rechecks, ...(parsed.note ? { note: parsed.note } : {}) };
  return { status: 202, via, rechecks, ...(parsed.note ? { note: parsed.note } : {}) };
}

/** Repositories named in a log line at most. */
const LOGGED_SOURCES = 10;

/**
 * A result as one log object: status, sender, what was enqueued or why not. It holds no header,
 * no body and no path (a path may carry a secret); repositories and tags come from authenticated
 * senders only, and are names, not secrets.
 */
export function webhookLogFields(result: WebhookResult): Record<string, unknown> {
  const base = { status: result.status, ...(result.via ? { via: result.via } : {}) };
  if ('reason' in result) return { ...base, reason: result.reason };
  return {
    ...base,
    rechecks: result.rechecks.length,
    ...(result.rechecks.length ? { sources: result.rechecks.slice(0, LOGGED_SOURCES).map((m) => `${m.action} ${m.source}${m.tags ? `:${m.tags.slice(0, 5).join(',')}${m.tags.length > 5 ? ',...' : ''}` : ''}`) } : {}),
    ...(result.note ? { note: result.note } : {}),
  };
}
