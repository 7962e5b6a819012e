// The config's service sections (issue 16): `events` (webhook secrets and the burst window),
// `notify` (where a run's summary goes) and `schedule` (serve's cron). Each is validated on its own,
// so its problems come in the same pass as the rules'. Secrets (a webhook secret, a Slack URL,
// which carries its token) take the same references as passwords (secret-refs.ts) and are
// resolved with them; none is ever logged or put in a message.
import { Cron } from 'croner';
import { z } from 'zod';
import type { RegistryAccess } from '../registry/pool.js';
import type { Problems } from './rule-parts.js';
import { literalOf, parseCredential } from './secret-refs.js';
import type { SecretSlot } from './secret-resolve.js';

export const EVENT_SOURCES = ['harbor', 'dockerhub', 'quay', 'github'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];

export interface EventsSettings {
  /** Harbor: compared with `Authorization` (bare or after `Bearer `); Docker Hub, Quay: the URL path
   *  segment; GitHub: the HMAC-SHA256 key of `X-Hub-Signature-256`. A source without one is refused. */
  secrets: Partial<Record<EventSource, string>>;
  /** Events for one repository within this many milliseconds collapse into one re-check. */
  windowMs: number;
}

export interface NotifySettings {
  /** `failure`: only runs with a failed image or rule; `always`: every run. */
  on: 'failure' | 'always';
  snsTopicArn?: string;
  /** A Slack-compatible incoming webhook (its URL is a secret). */
  webhookUrl?: string;
}

export interface ServiceSettings {
  events?: EventsSettings;
  notify?: NotifySettings;
  /** serve's cron expression (5 or 6 fields, croner syntax), UTC unless `scheduleTimezone`. */
  schedule?: string;
}

export const DEFAULT_EVENT_WINDOW_MS = 2000;

const SECRET_HINT = 'expected the secret, or a reference such as ${env:VAR} or ${secretsmanager:NAME}';
const secretField = z.strictObject({ secret: z.string({ error: SECRET_HINT }).min(16, { error: 'expected a secret of at least 16 characters (it is all that stands between the internet and your queue)' }) });

const eventsSchema = z.strictObject({
  harbor: secretField.optional(),
  dockerhub: secretField.optional(),
  quay: secretField.optional(),
  github: secretField.optional(),
  /** Seconds events for one repository collapse into one re-check (a burst of tags, a multi-arch push). */
  windowSeconds: z.number({ error: 'expected seconds from 0 to 300' }).min(0, { error: 'expected seconds from 0 to 300' }).max(300, { error: 'expected seconds from 0 to 300' }).optional(),
});

const ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const notifySchema = z.strictObject({
  on: z.enum(['failure', 'always'], { error: 'expected failure (only runs with failures) or always' }).optional(),
  sns: z.string().regex(ARN, { error: 'expected an SNS topic ARN, arn:aws:sns:REGION:ACCOUNT:NAME' }).optional(),
  webhook: z.string({ error: 'expected an https URL, or a reference such as ${secretsmanager:NAME}' }).min(1).optional(),
});

/** The service sections of `doc`; problems recorded in `p`, secrets to fetch pushed onto `secrets`. */
export function parseServiceSettings(doc: Record<string, unknown>, env: NodeJS.ProcessEnv, p: Problems, secrets: SecretSlot[]): ServiceSettings {
  const out: ServiceSettings = {};
  if (doc.events !== undefined) {
    const e = eventsSchema.safeParse(doc.events ?? {});
    if (!e.success) p.zod(e.error, ['events']);
    else {
      const events: EventsSettings = { secrets: {}, windowMs: e.data.windowSeconds !== undefined ? Math.round(e.data.windowSeconds * 1000) : DEFAULT_EVENT_WINDOW_MS };
      for (const source of EVENT_SOURCES) {
        const raw = e.data[source]?.secret;
        if (raw !== undefined) secretValue(raw, ['events', source, 'secret'], env, p, secrets, (v) => (events.secrets[source] = v));
      }
      if (!Object.keys(e.data).some((k) => (EVENT_SOURCES as readonly string[]).includes(k))) {
        p.at(['events'], `expected at least one of ${EVENT_SOURCES.join(', ')} with its secret`);
      }
      out.events = events;
    }
  }
  if (doc.notify !== undefined) {
    const n = notifySchema.safeParse(doc.notify ?? {});
    if (!n.success) p.zod(n.error, ['notify']);
    else {
      const notify: NotifySettings = { on: n.data.on ?? 'failure' };
      if (n.data.sns) notify.snsTopicArn = n.data.sns;
      if (n.data.webhook !== undefined) {
        // A URL fetched from a secret is checked where it is used (lib/notify), as it cannot be here.
        secretValue(n.data.webhook, ['notify', 'webhook'], env, p, secrets, (v) => (notify.webhookUrl = v), (v) => (/^https?:\/\/[^\s]+$/.test(v) ? undefined : 'expected an http(s) URL (a Slack-compatible incoming webhook)'));
      }
      if (!n.data.sns && n.data.webhook === undefined) p.at(['notify'], 'expected sns (a topic ARN) and/or webhook (a Slack-compatible URL)');
      out.notify = notify;
    }
  }
  if (doc.schedule !== undefined) {
    if (typeof doc.schedule !== 'string') p.at(['schedule'], 'expected a cron expression such as "0 3 * * *" (daily at 03:00 UTC)');
    else {
      try {
        new Cron(doc.schedule, { paused: true, timezone: 'UTC' }).stop();
        out.schedule = doc.schedule;
      } catch (err) {
        p.at(['schedule'], `"${doc.schedule}" is not a cron expression (${(err as Error).message}); e.g. "0 3 * * *" or "*/15 * * * *"`);
      }
    }
  }
  return out;
}

/** A literal or `${env:}` value now; a secret reference later, with the registries' passwords. */
function secretValue(raw: string, path: PropertyKey[], env: NodeJS.ProcessEnv, p: Problems, secrets: SecretSlot[], set: (v: string) => void, check?: (v: string) => string | undefined): void {
  const t = parseCredential(raw, env);
  for (const line of t.problems) p.at(path, line);
  if (t.problems.length) return;
  const literal = literalOf(t.template);
  if (literal !== undefined) {
    // The problem never quotes the value: it is a secret.
    const problem = check?.(literal);
    return problem ? p.at(path, problem) : set(literal);
  }
  // As listing's apiToken: the resolver sets `credentials` on its target once fetched.
  const target = {} as RegistryAccess;
  Object.defineProperty(target, 'credentials', { set: (c: { password: string }) => set(c.password) });
  secrets.push({ where: () => p.where(path), access: target, username: [], password: t.template });
}
