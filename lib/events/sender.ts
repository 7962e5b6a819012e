// What a webhook sender provides to the receiver (lib/events/receive.ts): how its requests prove
// where they come from, and what its body asks for. Each vendor's folder exports one
// (lib/vendors/<vendor>/events.ts); lib/vendors/webhooks.ts lists them by route. Pure: no I/O.
import type { ParsedEvent } from './hints.js';
import { sameSecret } from './verify.js';

export interface WebhookRequest {
  /** As received: `/hooks/harbor`, `/hooks/dockerhub/<secret>`, `/hooks/quay/<secret>`, `/hooks/github` (a query is ignored). */
  path: string;
  /** Header names in lower case (as node:http gives them). */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface WebhookSender {
  /** `path`: the sender can neither sign nor add a header, so its secret is the URL's last segment. */
  proof: 'header' | 'path';
  /** Why the request does not prove it comes from the sender, or undefined when it does. `segment`: the URL's secret segment. */
  authenticate(req: WebhookRequest, secret: string, segment: string | undefined, route: string): string | undefined;
  /** The re-checks an authenticated body asks for; a 400 for one the sender never sends. */
  parse(json: unknown, req: WebhookRequest): ParsedEvent | { status: 400; reason: string };
}

/** Docker Hub's and Quay's proof: the URL's last segment, compared in constant time. */
export function pathSecretProof(_req: WebhookRequest, secret: string, segment: string | undefined, route: string): string | undefined {
  if (segment === undefined || segment === '') return `the URL carries no secret (use /hooks/${route}/SECRET)`;
  return sameSecret(segment, secret) ? undefined : 'the URL\'s secret does not match the configured secret';
}
