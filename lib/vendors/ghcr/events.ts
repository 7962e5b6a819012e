// GitHub Packages webhooks for the GitHub Container Registry (ghcr.io): the `package` event and the
// older `registry_package` one, both signed with `X-Hub-Signature-256` (HMAC-SHA256 of the raw body
// under the webhook's secret). Only `published` container versions matter; GitHub sends one per
// manifest (a 2-platform tagged image: 3 events), which the burst window collapses. Pure: no I/O.
import { z } from 'zod';
import { type ParsedEvent, repositoryHint } from '../../events/hints.js';
import type { WebhookSender } from '../../events/sender.js';
import { headerValue, hubSignatureMatches } from '../../events/verify.js';
import { printable } from '../../text.js';

export const GHCR_HOST = 'ghcr.io';

// Non-strict: the package objects carry many more fields (html_url, registry, ...).
const pkg = z.object({
  name: z.string().min(1).max(512),
  // `container` in `package` events, `CONTAINER` in some `registry_package` ones: compared case-insensitively.
  package_type: z.string().min(1).max(64),
  owner: z.object({ login: z.string().min(1).max(256) }),
  package_version: z
    .object({ container_metadata: z.object({ tag: z.object({ name: z.string().max(256).nullish() }).nullish() }).nullish() })
    .nullish(),
});
const payload = z.object({ action: z.string().min(1).max(64), package: pkg.optional(), registry_package: pkg.optional() });

/** What an authenticated GitHub delivery of `event` (X-GitHub-Event) asks for. */
export function parseGithubEvent(event: string, json: unknown): ParsedEvent {
  if (event === 'ping') return { hints: [], note: 'GitHub ping' };
  if (event !== 'package' && event !== 'registry_package') return { hints: [], note: `GitHub event ${printable(event, 60)} needs no re-check` };
  const p = payload.safeParse(json);
  const body = p.success ? (event === 'package' ? p.data.package : p.data.registry_package) : undefined;
  if (!p.success || !body) return { invalid: `not a GitHub ${event} event (expected action and ${event}.name, package_type, owner.login)` };
  if (p.data.action !== 'published') return { hints: [], note: `GitHub ${event} action ${printable(p.data.action, 40)} needs no re-check` };
  if (body.package_type.toLowerCase() !== 'container') return { hints: [], note: `GitHub ${event} of a ${printable(body.package_type, 40)} package needs no re-check` };
  // A container package below a repository may be named `repo/image` (sometimes URL-encoded).
  const name = body.name.replace(/%2f/gi, '/');
  const tag = body.package_version?.container_metadata?.tag?.name || undefined;
  const hint = repositoryHint(GHCR_HOST, `${body.owner.login}/${name}`.toLowerCase(), tag, 'push');
  return typeof hint === 'string' ? { invalid: `GitHub ${event} event: ${hint}` } : { hints: [hint] };
}

/** GitHub's webhook sender (lib/vendors/webhooks.ts): the HMAC of the raw body, then the event named by its header. */
export const githubWebhook: WebhookSender = {
  proof: 'header',
  authenticate: (req, secret) => {
    const signature = headerValue(req.headers, 'x-hub-signature-256');
    if (signature === undefined) return 'no X-Hub-Signature-256 header (set the webhook\'s secret)';
    return hubSignatureMatches(signature, req.body, secret) ? undefined : 'the X-Hub-Signature-256 signature does not match the configured secret';
  },
  parse: (json, req) => {
    const event = headerValue(req.headers, 'x-github-event');
    if (!event) return { status: 400, reason: 'no X-GitHub-Event header' };
    return parseGithubEvent(event, json);
  },
};
