// ECR's push and delete events, as EventBridge delivers them to the SQS work queue (REFERENCE.md
// section 8): an "ECR Image Action" event from `aws.ecr`, put on the queue as the message body
// itself (a rule target without an input transformer). IAM is the authentication here: only the
// rule the queue policy names can send. Pure: no I/O.
import { z } from 'zod';
import { InvalidMessageError } from '../../errors.js';
import { isValidTag } from '../../oci/reference.js';
import type { RecheckMessage } from '../../queue/messages.js';

const ecrImageAction = z.object({
  'detail-type': z.literal('ECR Image Action'),
  source: z.literal('aws.ecr'),
  account: z.string().regex(/^\d{12}$/),
  region: z.string().regex(/^[a-z]{2}(-[a-z0-9]+)+$/),
  detail: z.object({
    'action-type': z.enum(['PUSH', 'DELETE']),
    result: z.string().min(1),
    'repository-name': z.string().min(1).max(256),
    'image-digest': z.string().optional(),
    'image-tag': z.string().optional(),
  }),
});

/** Whether a queue body is an EventBridge event from ECR (then it is read as one, or refused as one). */
export function isEcrEvent(json: unknown): boolean {
  if (typeof json !== 'object' || json === null) return false;
  const o = json as Record<string, unknown>;
  return o.source === 'aws.ecr' && typeof o['detail-type'] === 'string';
}

/**
 * The recheck an ECR event stands for (checked again as a message by decodeMessage).
 * `result: FAILURE` (a push that did not complete) is still a recheck, without a tag hint: the event
 * is valid and needs no human, so the DLQ (InvalidMessageError) would be wrong; a re-check of an
 * unchanged repository costs one tag listing and copies nothing, and the documented rule pattern
 * (`result: [SUCCESS]`) keeps such events off the queue anyway.
 */
export function ecrEventRecheck(json: unknown): Omit<RecheckMessage, 'source'> & { source: string } {
  const parsed = ecrImageAction.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const detailType = (json as Record<string, unknown>)['detail-type'];
    const what = typeof detailType === 'string' && detailType !== 'ECR Image Action' ? `an ECR "${detailType.slice(0, 60)}" event is not one the copier reads (route only "ECR Image Action")` : `invalid ECR event at ${first?.path.join('.') || '(top level)'}: ${first?.message ?? 'unexpected shape'}`;
    throw new InvalidMessageError(what);
  }
  const { account, region, detail } = parsed.data;
  // China regions (cn-north-1, cn-northwest-1) are served under amazonaws.com.cn.
  const host = `${account}.dkr.ecr.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
  const tag = detail['image-tag'];
  const hinted = detail.result === 'SUCCESS' && tag && isValidTag(tag) ? { tags: [tag] } : {};
  return { v: 1, kind: 'recheck', source: `${host}/${detail['repository-name']}`, ...hinted, action: detail['action-type'] === 'DELETE' ? 'delete' : 'push', via: 'ecr' };
}
