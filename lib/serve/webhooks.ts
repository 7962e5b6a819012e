// The webhook receiver serve wires in when the config has `events`: lib/events/receive.ts (the pure
// check of secret and body) and lib/events/coalesce.ts (the burst window), whose send puts the
// re-checks on the embedded queue, journalled like planned messages. The same receiver runs on
// Lambda (lib/lambda/receiver.ts).
import type { Logger } from 'pino';
import type { EventsSettings } from '../config/service-settings.js';
import { errorMessage } from '../errors.js';
import { Coalescer } from '../events/coalesce.js';
import { MAX_WEBHOOK_BODY, receiveWebhook } from '../events/receive.js';
import { routedResult } from '../events/route.js';
import type { SyncRule } from '../config/types.js';
import { encodeMessage, type RecheckMessage } from '../queue/messages.js';
import type { HookDeps } from './hooks.js';
import type { ServeMetrics } from './metrics.js';
import type { ServeRuntime } from './runtime.js';

export interface WebhookReceiver {
  hooks: HookDeps<RecheckMessage>;
  /** Send what the burst window still holds (a stop). */
  flush(): Promise<void>;
}

export function webhookReceiver(events: EventsSettings, rules: readonly SyncRule[], runtime: ServeRuntime, metrics: ServeMetrics, logger: Logger): WebhookReceiver {
  const coalescer = new Coalescer({
    windowMs: events.windowMs,
    send: (m) => runtime.send([encodeMessage(m)]),
    onError: (err) => logger.error({ err: errorMessage(err) }, 'webhooks: cannot enqueue a re-check'),
  });
  return {
    hooks: {
      // Re-checks of repositories no rule covers are dropped here and counted as ignored (events/route.ts).
      receive: (req) => routedResult(receiveWebhook(req, events), rules),
      maxBody: MAX_WEBHOOK_BODY,
      offer: (m) => coalescer.offer(m),
      metrics,
      logger,
    },
    flush: () => coalescer.flush(),
  };
}
