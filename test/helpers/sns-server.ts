// An Amazon SNS stand-in that speaks the Query API's Publish as SDK v3 sends it (SNS API Reference,
// "Publish"; "Query requests"): a form-encoded POST with Action=Publish, TopicArn, Message, Subject
// and MessageAttributes.entry.N.{Name,Value.DataType,Value.StringValue}, answered with the documented
// XML PublishResponse (a MessageId), or an ErrorResponse (NotFound for an unknown topic). On
// 127.0.0.1; point the SDK at it with AWS_ENDPOINT_URL_SNS.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenTracked } from './cleanup.js';

export interface SnsPublished {
  topicArn: string;
  message: string;
  subject?: string;
  /** Message attributes by name: their DataType and StringValue. */
  attributes: Record<string, { dataType: string; value: string }>;
}

export interface SnsServerHandle {
  url: string;
  published: SnsPublished[];
  /** Every Action received (Publish and anything else, which is refused). */
  actions: string[];
  stop(): Promise<void>;
}

const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';

function errorXml(code: string, message: string): string {
  return `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}

/** The topics that exist (Publish to another one is NotFound). */
export async function startSnsServer(opts: { topics: string[] }): Promise<SnsServerHandle> {
  const published: SnsPublished[] = [];
  const actions: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const action = form.get('Action') ?? '';
      actions.push(action);
      const reply = (status: number, xml: string) => {
        res.writeHead(status, { 'content-type': 'text/xml' });
        res.end(xml);
      };
      if (req.method !== 'POST' || action !== 'Publish') return reply(400, errorXml('InvalidAction', `${action} is not supported by this stand-in`));
      const topicArn = form.get('TopicArn') ?? '';
      const message = form.get('Message');
      if (!message) return reply(400, errorXml('InvalidParameter', 'Invalid parameter: Empty message'));
      if (!opts.topics.includes(topicArn)) return reply(404, errorXml('NotFound', 'Topic does not exist'));
      const attributes: SnsPublished['attributes'] = {};
      for (let n = 1; form.has(`MessageAttributes.entry.${n}.Name`); n++) {
        const p = `MessageAttributes.entry.${n}`;
        attributes[form.get(`${p}.Name`)!] = { dataType: form.get(`${p}.Value.DataType`) ?? '', value: form.get(`${p}.Value.StringValue`) ?? '' };
      }
      const subject = form.get('Subject');
      published.push({ topicArn, message, ...(subject !== null ? { subject } : {}), attributes });
      reply(200, `<PublishResponse xmlns="${XMLNS}"><PublishResult><MessageId>${randomUUID()}</MessageId></PublishResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`);
    });
  });
  const { port, stop } = await listenTracked(server);
  return { url: `http://127.0.0.1:${port}`, published, actions, stop };
}
