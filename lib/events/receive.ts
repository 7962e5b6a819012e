// The webhook receiver's decision (issue 16, continuous mirroring), without I/O: which sender a
// request claims to come from (its path), whether it proves it (REFERENCE.md section 8: Harbor's
// auth header, GitHub's HMAC, Docker Hub's and Quay's secret path segment), and the rechecks its
// body asks for. The HTTP side (serve, the receiver function) enqueues them and answers at once:
// senders give up within seconds (Harbor 2.8+: 3 s) and events are only hints; the schedule is the
// backstop. Refusals name no secret and quote nothing from the body or the path's secret segment.
import type { EventSource, EventsSettings } from '../config/service-settings.js';
import type { EventVia, RecheckMessage } from '../queue/messages.js';
import { rechecksFrom } from './hints.js';
import type { WebhookRequest } from './sender.js';
import { VENDOR_WEBHOOKS } from '../vendors/webhooks.js';

export type { EventVia } from '../queue/messages.js';

/** Bodies above this are refused (413) before they are read as JSON; registry events are a few KB. */
export const MAX_WEBHOOK_BODY = 1024 * 1024;

export type { WebhookRequest } from './sender.js';

export type WebhookResult =
  /** 202: rechecks to enqueue; 200: nothing to do (a ping, an event that needs no re-check). */
  | { status: 200 | 202; via: EventVia; rechecks: RecheckMessage[]; note?: string }
  | { status: 400 | 401 | 404 | 413; via?: EventVia; reason: string };

const ROUTES = Object.keys(VENDOR_WEBHOOKS) as EventSource[];
const NOT_FOUND = `no webhook here; POST to ${ROUTES.map((r) => `/hooks/${r}${VENDOR_WEBHOOKS[r].proof === 'path' ? '/SECRET' : ''}`).join(', ')}`;

/** The sender a path is for and the secret segment it carries; undefined for any other path. */
function route(path: string): { via: EventSource; segment?: string } | undefined {
  const parts = path.split('?')[0]!.replace(/\/$/, '').split('/');
  if (parts.length < 3 || parts[0] !== '' || parts[1] !== 'hooks') return undefined;
  const via = ROUTES.find((r) => r === parts[2]);
  if (!via) return undefined;
  if (VENDOR_WEBHOOKS[via].proof === 'path') {
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

/** What to answer a webhook request, and the rechecks to enqueue before answering. Pure. */
export function receiveWebhook(req: WebhookRequest, events: EventsSettings | undefined): WebhookResult {
  const r = route(req.path);
  if (!r) return { status: 404, reason: NOT_FOUND };
  const { via } = r;
  const secret = events?.secrets[via];
  if (!secret) return { status: 401, via, reason: `webhooks from ${via} are not enabled (events.${via}.secret is not set)` };
  if (req.body.length > MAX_WEBHOOK_BODY) return { status: 413, via, reason: `body of ${req.body.length} bytes is above the ${MAX_WEBHOOK_BODY}-byte limit` };
  const sender = VENDOR_WEBHOOKS[via];
  const refused = sender.authenticate(req, secret, r.segment, via);
  if (refused) return { status: 401, via, reason: refused };
  let json: unknown;
  try {
    json = JSON.parse(req.body.toString('utf8'));
  } catch {
    return { status: 400, via, reason: 'body is not JSON' };
  }
  const parsed = sender.parse(json, req);
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
