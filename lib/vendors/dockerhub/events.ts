// Docker Hub's repository webhooks (docs.docker.com/docker-hub/webhooks): a push only, no signature
// and no custom header, so the secret is an unguessable path segment of the URL (lib/events/
// receive.ts checks it). `callback_url` (the legacy validation callback) is never called. Pure.
import { z } from 'zod';
import { type WebhookSender, pathSecretProof } from '../../events/sender.js';
import { type ParsedEvent, repositoryHint } from '../../events/hints.js';

// Non-strict: the payload carries the repository's whole description (star_count, dockerfile, ...).
const payload = z.object({
  push_data: z.object({ tag: z.string().max(256).optional() }),
  repository: z.object({ repo_name: z.string().min(1).max(512) }),
});

/** Docker Hub names `namespace/name`; an official image's `nginx` is `library/nginx` (as `docker pull` reads it). */
export function parseDockerHubEvent(json: unknown): ParsedEvent {
  const p = payload.safeParse(json);
  if (!p.success) return { invalid: 'not a Docker Hub webhook (expected push_data.tag and repository.repo_name)' };
  const tag = p.data.push_data.tag || undefined;
  const hint = repositoryHint('docker.io', p.data.repository.repo_name, tag, 'push');
  return typeof hint === 'string' ? { invalid: `Docker Hub webhook: ${hint}` } : { hints: [hint] };
}

/** The webhook sender (lib/vendors/webhooks.ts): the secret is the URL's last segment. */
export const dockerHubWebhook: WebhookSender = { proof: 'path', authenticate: pathSecretProof, parse: (json) => parseDockerHubEvent(json) };
