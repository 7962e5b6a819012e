// SQS records as the copier sees them. Lambda's event carries what ReceiveMessage would have
// returned, so a record maps one to one onto the WorkQueue port's QueueMessage.
import type { SQSRecord } from 'aws-lambda';
import type { QueueMessage } from '../queue/types.js';

export function messageFromRecord(record: SQSRecord): QueueMessage {
  // ApproximateReceiveCount is a string in the event; "1" on the first delivery. A record without
  // it (a hand-made event) counts as a first delivery rather than as an exhausted one.
  const count = Number.parseInt(record.attributes?.ApproximateReceiveCount ?? '', 10);
  return {
    id: record.messageId,
    body: record.body,
    receiptHandle: record.receiptHandle,
    receiveCount: Number.isFinite(count) && count >= 1 ? count : 1,
  };
}
