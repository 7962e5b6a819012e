// The webhook receiver serve wires in when the config has `events`: lib/events/receive.ts (the pure
// check of secret and body) and lib/events/coalesce.ts (the burst window), whose send puts the
// re-checks on the embedded queue, journalled like planned messages.
import type { Logger } from 'pino';
import type { EventsSettings } from '../config/service-settings.js';
import { errorMessage } from '../errors.js';
import type { HookDeps, HookRequest, HookResult } from './hooks.js';
import type { ServeMetrics } from './metrics.js';
import type { ServeRuntime } from './runtime.js';

/** lib/events' exports as serve calls them. */
interface EventsModules {
  receive: { MAX_WEBHOOK_BODY: number; receiveWebhook(req: HookRequest, events: EventsSettings | undefined): HookResult<object> };
  coalesce: {
    Coalescer: new (opts: { windowMs: number; send: (ms: object[]) => Promise<void>; onError?: (err: unknown) => void }) => {
      offer(m: object): 'scheduled' | 'merged';
      flush(): Promise<void>;
    };
  };
}

export interface WebhookReceiver {
  hooks: HookDeps<unknown>;
  /** Send what the burst window still holds (a stop). */
  flush(): Promise<void>;
}

export async function webhookReceiver(events: EventsSettings, runtime: ServeRuntime, metrics: ServeMetrics, logger: Logger): Promise<WebhookReceiver | undefined> {
  const mods = await loadEvents();
  if (!mods) {
    logger.warn('webhooks: this build has no event receiver (lib/events); /hooks/... answers 404');
    return undefined;
  }
  const coalescer = new mods.coalesce.Coalescer({
    windowMs: events.windowMs,
    send: (ms) => runtime.send(ms.map((m) => JSON.stringify(m))),
    onError: (err) => logger.error({ err: errorMessage(err) }, 'webhooks: cannot enqueue re-checks'),
  });
  return {
    hooks: {
      receive: (req) => mods.receive.receiveWebhook(req, events),
      maxBody: mods.receive.MAX_WEBHOOK_BODY,
      offer: (m) => coalescer.offer(m as object),
      metrics,
      logger,
    },
    flush: () => coalescer.flush(),
  };
}

async function loadEvents(): Promise<EventsModules | undefined> {
  // Named through variables: this file builds before lib/events lands on the branch.
  const receivePath = '../events/receive.js';
  const coalescePath = '../events/coalesce.js';
  try {
    const [receive, coalesce] = await Promise.all([import(receivePath), import(coalescePath)]);
    return { receive, coalesce } as EventsModules;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}
