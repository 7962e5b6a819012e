// A run's end, said once (issue 16, item 5): `notifyRun` sends a summary (summary.ts) to the SNS
// topic and/or the webhook the config's `notify` names, per its `on` (failure | always). A delivery
// that fails is a warning (SWRM_NOTIFY) naming the topic or the webhook's host, never the webhook's
// URL; it never throws, so it never changes a run's outcome or exit code. Callers: `sync` at the end
// of its run (lib/cli/pipeline-commands.ts), the copier that settles a queue run's last message
// (run-end.ts), and `serve` at the end of each scheduled run (`notifyPipelineRun`).
import type { Logger } from 'pino';
import type { NotifySettings } from '../config/service-settings.js';
import { ErrorCode, errorMessage } from '../errors.js';
import type { ImageOutcome } from '../pipeline/copier.js';
import { maskSecretText } from '../secrets.js';
import { newRunId } from '../state/runs.js';
import type { SnsPublisher } from './sns.js';
import { type RunSummary, summaryFromOutcomes, summaryTitle, wantsNotice } from './summary.js';
import { postWebhook, webhookHost } from './webhook.js';

export { type RunSummary, summaryFromOutcomes, summaryFromRecord, summaryText, summaryTitle, wantsNotice } from './summary.js';

export interface NotifyDeps {
  logger?: Logger;
  /** Default: the AWS SDK (one client per region). */
  sns?: SnsPublisher;
  /** Default: 10 s per webhook attempt. */
  webhookTimeoutMs?: number;
  /** The CLI's `warning: ...` line (lib/cli/warnings.ts); default: the logger's warn. */
  onWarning?: (message: string) => void;
}

export interface NotifyResult {
  /** Where the summary went: `sns`, `webhook`. */
  delivered: string[];
  /** Where it did not (each logged as a warning). */
  failed: string[];
}

let defaultSns: Promise<SnsPublisher> | undefined;
/**
 * The SDK publisher, loaded when a summary first goes to SNS: the SNS client is not among what every
 * `sync` loads at start (the CLI bundle keeps it in the chunk this import names).
 */
const sdkSns = (): Promise<SnsPublisher> => (defaultSns ??= import('./sns.js').then((m) => new m.SdkSnsPublisher()));

/** Send the run's summary where the settings say, if they want it; never throws. */
export async function notifyRun(settings: NotifySettings | undefined, summary: RunSummary, deps: NotifyDeps = {}): Promise<NotifyResult> {
  const result: NotifyResult = { delivered: [], failed: [] };
  if (!settings || !wantsNotice(settings, summary)) return result;
  const { logger } = deps;
  const warn = (fields: Record<string, unknown>, message: string) => {
    const line = `${message} [${ErrorCode.NOTIFY}]`;
    if (deps.onWarning) deps.onWarning(line);
    else logger?.warn({ run: summary.run, code: ErrorCode.NOTIFY, ...fields }, line);
  };
  const attempts: Promise<void>[] = [];
  if (settings.snsTopicArn) {
    const topic = settings.snsTopicArn;
    attempts.push(
      (deps.sns ? Promise.resolve(deps.sns) : sdkSns()).then((sns) => sns.publish(topic, summary)).then(
        () => void result.delivered.push('sns'),
        (err: unknown) => {
          result.failed.push('sns');
          warn({ topic }, `cannot publish the run summary to ${topic}: ${maskSecretText(errorMessage(err))}`);
        },
      ),
    );
  }
  if (settings.webhookUrl) {
    const url = settings.webhookUrl;
    attempts.push(
      postWebhook(url, summary, deps.webhookTimeoutMs !== undefined ? { timeoutMs: deps.webhookTimeoutMs } : {}).then(
        () => void result.delivered.push('webhook'),
        (err: unknown) => {
          result.failed.push('webhook');
          // postWebhook's errors name the host only; anything else is reduced to it too.
          const message = err instanceof Error && (err as { code?: string }).code === ErrorCode.NOTIFY ? err.message : `cannot reach the notify webhook at ${webhookHost(url)}`;
          warn({ host: webhookHost(url) }, message);
        },
      ),
    );
  }
  await Promise.all(attempts);
  if (result.delivered.length) logger?.info({ run: summary.run, status: summary.status, delivered: result.delivered }, `run summary sent: ${summaryTitle(summary)}`);
  return result;
}

/** What an in-memory run (sync, serve's scheduled run) knows at its end. */
export interface PipelineRunInfo {
  outcomes: readonly ImageOutcome[];
  bytes: number;
  durationMs: number;
  /** Images and rules left unfinished by an interrupt. */
  unfinished?: number;
  /** The run's id; default a new one from `startedAt`. */
  run?: string;
  startedAt?: Date;
}

/** `sync` and `serve`: the summary of a run that ran in this process, sent once. */
export async function notifyPipelineRun(settings: NotifySettings | undefined, info: PipelineRunInfo, deps: NotifyDeps = {}): Promise<NotifyResult> {
  if (!settings) return { delivered: [], failed: [] };
  const run = info.run ?? newRunId(info.startedAt);
  const summary = summaryFromOutcomes(run, info.outcomes, { bytes: info.bytes, durationMs: info.durationMs, ...(info.unfinished ? { unfinished: info.unfinished } : {}) });
  return notifyRun(settings, summary, deps);
}
