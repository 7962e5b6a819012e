// Quay's "Push to Repository" notification (repo_push): Quay signs nothing, so the secret is an
// unguessable path segment (lib/events/receive.ts). `docker_url` gives the host (quay.io or a
// self-hosted Quay) and repository; `updated_tags` the tags pushed. Other notifications sent to
// the same URL (builds, vulnerabilities) carry no `updated_tags` and need no re-check. Pure.
import { z } from 'zod';
import { type WebhookSender, pathSecretProof } from '../../events/sender.js';
import { type ParsedEvent, type RepositoryHint, repositoryHint } from '../../events/hints.js';

const payload = z.object({
  docker_url: z.string().min(3).max(1024),
  // A list in Quay's docs and code; an object keyed by tag in some older senders: both give the tags.
  updated_tags: z.union([z.array(z.string().max(256)).max(10_000), z.record(z.string(), z.unknown())]).optional(),
});

export function parseQuayEvent(json: unknown): ParsedEvent {
  const p = payload.safeParse(json);
  if (!p.success) return { invalid: 'not a Quay notification (expected docker_url)' };
  if (p.data.updated_tags === undefined) return { hints: [], note: 'Quay notification without updated_tags (not a push) needs no re-check' };
  const url = p.data.docker_url.replace(/^https?:\/\//, '');
  const slash = url.indexOf('/');
  if (slash <= 0) return { invalid: 'a Quay docker_url names no registry host' };
  const tags = Array.isArray(p.data.updated_tags) ? p.data.updated_tags : Object.keys(p.data.updated_tags);
  const hints: RepositoryHint[] = [];
  for (const tag of tags.length ? tags : [undefined]) {
    const hint = repositoryHint(url.slice(0, slash), url.slice(slash + 1), tag, 'push');
    if (typeof hint === 'string') return { invalid: `Quay notification: ${hint}` };
    hints.push(hint);
  }
  return { hints };
}

/** The webhook sender (lib/vendors/webhooks.ts): the secret is the URL's last segment. */
export const quayWebhook: WebhookSender = { proof: 'path', authenticate: pathSecretProof, parse: (json) => parseQuayEvent(json) };
