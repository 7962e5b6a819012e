// The webhook receiver on Lambda (issue 16, item 3): a function URL (payload format 2.0) with auth
// type NONE, because Harbor, Docker Hub, Quay and GitHub cannot sign AWS requests; the sender's own
// proof (a shared secret, a path segment, an HMAC) is checked here, by lib/events/receive.ts, the
// same code `serve` runs. A verified event becomes re-check messages on the work queue and the
// sender gets its 2xx at once: senders give up fast (Harbor 2.8+ after 3 s), the copier does the rest.
//
// Bursts (50 tags pushed at once, a multi-arch push firing per child) collapse per repository: the
// first event of a window claims `recheck/<repository>` in the state table with a lease of the window
// and sends its re-check delayed by the window; later events within it find the claim and send
// nothing. The re-check lists the whole repository when it runs, after the burst, so nothing the
// burst pushed is missed. Without a state table every event sends its own (delayed) re-check.
import { createHash } from 'node:crypto';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/types.js';
import { errorMessage, failureCode } from '../errors.js';
import { receiveWebhook, webhookLogFields } from '../events/receive.js';
import { routedResult } from '../events/route.js';
import { createLogger } from '../log.js';
import { encodeMessage, type RecheckMessage } from '../queue/messages.js';
import type { WorkQueue } from '../queue/types.js';
import type { StateStore } from '../state/store.js';
import { configPathFrom, logLevelFrom, queueUrlFrom } from './env.js';
import type { HandlerSetup } from './handlers.js';
import { openStateStore } from './state.js';

/** What a function URL hands the handler (payload format 2.0), as far as it is read here. */
export interface FunctionUrlEvent {
  rawPath?: string;
  headers?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext?: { http?: { method?: string } };
}

export interface FunctionUrlResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export const BURST_GROUP = 'recheck';

const reply = (statusCode: number, body: Record<string, unknown>): FunctionUrlResult => ({ statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

interface ReceiverEnv {
  config: LoadedConfig;
  queue: WorkQueue;
  state?: StateStore;
}

export function receiverFromEnv(setup: HandlerSetup) {
  const log: Logger = setup.logger ?? createLogger(logLevelFrom(setup.env));
  // Once per container; a failure is not cached, so a fixed secret or table is picked up.
  let ready: Promise<ReceiverEnv> | undefined;
  const open = async (): Promise<ReceiverEnv> => {
    const state = await openStateStore(setup.env, setup.stateStore);
    const config = await (setup.load ?? ((p: string) => loadConfig({ config: p, configFlag: 'SWRM_CONFIG' })))(configPathFrom(setup.env, setup.handlerDir));
    return { config, queue: setup.queues.workQueue(queueUrlFrom(setup.env)), ...(state ? { state } : {}) };
  };
  return middy<FunctionUrlEvent, FunctionUrlResult, Error, Context>().handler(async (event) => {
    let env: ReceiverEnv;
    try {
      env = await (ready ??= open().catch((err: unknown) => {
        ready = undefined;
        throw err;
      }));
    } catch (err) {
      // A 5xx: the sender retries (Harbor, GitHub's redelivery by hand); never the reason's details.
      log.error({ code: failureCode(err) }, `receiver cannot start: ${errorMessage(err)}`);
      return reply(503, { error: 'not ready' });
    }
    if ((event.requestContext?.http?.method ?? 'POST').toUpperCase() !== 'POST') return reply(405, { error: 'POST only' });
    const body = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
    const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    // Re-checks of repositories no rule covers are dropped here, logged and counted (events/route.ts).
    const result = routedResult(receiveWebhook({ path: event.rawPath ?? '/', headers, body }, env.config.events), env.config.rules);
    if (result.status >= 400) {
      log.warn(webhookLogFields(result), 'webhook refused');
      return reply(result.status, { error: 'reason' in result ? result.reason : 'refused' });
    }
    if (!('rechecks' in result)) return reply(result.status, {});
    const windowMs = env.config.events?.windowMs ?? 0;
    let sent = 0;
    let merged = 0;
    try {
      for (const m of result.rechecks) {
        if (await claimBurst(env.state, m, windowMs)) {
          await env.queue.send([encodeMessage(m)], { delaySeconds: Math.min(900, Math.ceil(windowMs / 1000)) });
          sent++;
        } else merged++;
      }
    } catch (err) {
      // Nothing is acknowledged that is not on the queue: the sender retries.
      log.error({ ...webhookLogFields(result), code: failureCode(err) }, `cannot enqueue the re-check: ${errorMessage(err)}`);
      return reply(503, { error: 'cannot enqueue' });
    }
    const ignored = 'ignored' in result ? (result.ignored?.length ?? 0) : 0;
    log.info({ ...webhookLogFields(result), sent, merged, ignored }, 'webhook accepted');
    return reply(result.status, { accepted: sent, merged, ignored });
  });
}

/** True when this event opens the repository's burst window (so it sends the re-check). */
async function claimBurst(state: StateStore | undefined, m: RecheckMessage, windowMs: number): Promise<boolean> {
  if (!state || windowMs <= 0) return true;
  const id = createHash('sha256').update(m.source).digest('hex').slice(0, 48);
  return state.put({ group: BURST_GROUP, id }, { source: m.source.slice(0, 1000) }, { ifAbsent: true, ttlSeconds: Math.max(1, Math.ceil(windowMs / 1000)) });
}
