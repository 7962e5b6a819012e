// The registration list of webhook senders, by route (`/hooks/<route>`): each vendor's folder
// provides its sender (lib/vendors/<vendor>/events.ts); adding one is its file plus a line here and
// its name in the config's `events` (lib/config/service-settings.ts). Kept apart from index.ts (the
// listers) so the receiver function bundles no registry client.
import type { EventSource } from '../config/service-settings.js';
import type { WebhookSender } from '../events/sender.js';
import { dockerHubWebhook } from './dockerhub/events.js';
import { githubWebhook } from './ghcr/events.js';
import { harborWebhook } from './harbor/events.js';
import { quayWebhook } from './quay/events.js';

export const VENDOR_WEBHOOKS: Record<EventSource, WebhookSender> = {
  harbor: harborWebhook,
  dockerhub: dockerHubWebhook,
  quay: quayWebhook,
  github: githubWebhook,
};
