// Delivery to an Amazon SNS topic (notify.sns): one Publish per run, with the summary's text as the
// message and `status` (`ok` / `failed`) and `run` as String message attributes, so a subscription's
// filter policy can take only failures (docs/notifications.md). The client is built as the others
// are (lib/aws/clients.ts: the call observers the IAM tests use); its region is the topic's, from
// its ARN, and the SDK itself honours AWS_ENDPOINT_URL_SNS (then AWS_ENDPOINT_URL) for a stand-in.
import { PublishCommand, SNSClient, type SNSClientConfig } from '@aws-sdk/client-sns';
import { awsClient } from '../aws/clients.js';
import type { RunSummary } from './summary.js';
import { summaryText, summaryTitle } from './summary.js';

/** SNS's limits: a Subject is at most 100 ASCII characters without line breaks; a message 256 KiB. */
const SUBJECT_MAX = 100;
const MESSAGE_MAX = 200_000;

export interface SnsPublisher {
  publish(topicArn: string, summary: RunSummary): Promise<string | undefined>;
}

/** The region of `arn:aws:sns:REGION:ACCOUNT:NAME`. */
export function topicRegion(topicArn: string): string | undefined {
  return topicArn.split(':')[3] || undefined;
}

export function snsClient(region: string | undefined, opts: { maxAttempts?: number } = {}): SNSClient {
  const config: SNSClientConfig = { region: region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1', maxAttempts: opts.maxAttempts ?? 2 };
  return awsClient(new SNSClient(config));
}

/** The Publish request for a summary (exported for tests). */
export function publishInput(topicArn: string, summary: RunSummary) {
  // Subject: printable ASCII only, or SNS refuses the whole Publish.
  const subject = summaryTitle(summary).replace(/[^\x20-\x7e]/g, '?').slice(0, SUBJECT_MAX);
  return {
    TopicArn: topicArn,
    Subject: subject,
    Message: summaryText(summary).slice(0, MESSAGE_MAX),
    MessageAttributes: {
      status: { DataType: 'String', StringValue: summary.status },
      run: { DataType: 'String', StringValue: summary.run },
    },
  };
}

/** One client per region, kept while the process lives (a warm Lambda container reuses it). */
export class SdkSnsPublisher implements SnsPublisher {
  private readonly clients = new Map<string, SNSClient>();
  async publish(topicArn: string, summary: RunSummary): Promise<string | undefined> {
    const region = topicRegion(topicArn) ?? '';
    let client = this.clients.get(region);
    if (!client) this.clients.set(region, (client = snsClient(region || undefined)));
    const out = await client.send(new PublishCommand(publishInput(topicArn, summary)));
    return out.MessageId;
  }
}
