// The replay Lambda: move the DLQ's messages back onto the work queue with SQS's own redrive
// (StartMessageMoveTask), not list + resend + remove. SQS allows one active move task per queue,
// so a replay that finds one running reports it instead of failing. Moved messages get new ids,
// and a dead letter stored twice (a crash between the DLQ send and the delete) is simply copied
// twice: copies are idempotent (the second finds the image present and is "skipped").
import type { Logger } from 'pino';
import type { RedriveStatus, Redrivable } from '../queue/types.js';

export interface ReplayResult extends RedriveStatus {
  /** True when a move task was already running and none was started. */
  alreadyRunning: boolean;
}

export async function startReplay(dlq: Redrivable, logger?: Logger): Promise<ReplayResult> {
  const current = await dlq.redriveStatus();
  if (current?.status === 'RUNNING') {
    logger?.info(current, `a DLQ move is already running (${current.moved} moved so far); not starting another`);
    return { ...current, alreadyRunning: true };
  }
  const status = await dlq.redrive();
  logger?.info(status, `DLQ move ${status.status.toLowerCase()}: ${status.moved} moved${status.toMove !== undefined ? ` of ${status.toMove}` : ''}`);
  return { ...status, alreadyRunning: false };
}
