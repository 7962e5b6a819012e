// Delivery to a Slack-compatible incoming webhook (notify.webhook): one JSON POST of `{ text, blocks }`.
// The URL is a secret (Slack's carries its token in the path): it is never logged, and an error names
// only its host. The URL is the user's own, so the registry client's SSRF guard does not apply, but a
// redirect is never followed (undici's request() follows none without its redirect interceptor): a
// 3xx is not a delivery. One retry at most, after a network failure, a 429 or a 5xx.
import { request } from 'undici';
import { ErrorCode, MigrateError } from '../errors.js';
import type { RunSummary } from './summary.js';
import { summaryDetails, summaryTitle } from './summary.js';

export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Slack's limit for a section block's text. */
const BLOCK_TEXT_MAX = 3000;

/** Slack mrkdwn: `&`, `<` and `>` are control characters (Slack, "Formatting text for app surfaces"). */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The POST body: `text` (every client shows it) and `blocks` (Slack's richer layout). */
export function webhookPayload(summary: RunSummary): { text: string; blocks: unknown[] } {
  const title = summaryTitle(summary);
  const details = summaryDetails(summary);
  const text = [title, ...details].join('\n');
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: cut(`${summary.status === 'failed' ? ':x:' : ':white_check_mark:'} *${escape(title)}*`, BLOCK_TEXT_MAX) } }];
  if (details.length) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(`\`\`\`${escape(details.join('\n'))}\`\`\``, BLOCK_TEXT_MAX) } });
  return { text, blocks };
}

/** The webhook's host, the only part of its URL any message may name. */
export function webhookHost(url: string): string {
  try {
    return new URL(url).host || 'the webhook';
  } catch {
    return 'the webhook';
  }
}

/** POST the summary; throws a MigrateError (SWRM_NOTIFY) naming only the host when it is not delivered. */
export async function postWebhook(url: string, summary: RunSummary, opts: { timeoutMs?: number } = {}): Promise<void> {
  const host = webhookHost(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MigrateError(ErrorCode.NOTIFY, 'the notify webhook is not a URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new MigrateError(ErrorCode.NOTIFY, `the notify webhook at ${host} is not an http(s) URL`);
  const body = JSON.stringify(webhookPayload(summary));
  const timeoutMs = opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  let last: MigrateError | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    let retry = false;
    try {
      const res = await request(parsed, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body.dump().catch(() => undefined);
      if (res.statusCode >= 200 && res.statusCode < 300) return;
      retry = res.statusCode === 429 || res.statusCode >= 500;
      const why = res.statusCode >= 300 && res.statusCode < 400 ? ' (a redirect, not followed)' : '';
      last = new MigrateError(ErrorCode.NOTIFY, `the notify webhook at ${host} answered ${res.statusCode}${why}`);
    } catch (err) {
      // Only the error's code: undici's messages may quote the URL.
      const code = (err as { code?: unknown; name?: unknown }).code ?? (err as { name?: unknown }).name;
      last = new MigrateError(ErrorCode.NOTIFY, `cannot reach the notify webhook at ${host} (${typeof code === 'string' ? code : 'network error'})`);
      retry = true;
    }
    if (!retry) break;
  }
  throw last!;
}
