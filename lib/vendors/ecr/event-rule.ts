// ECR has no webhooks: a push is an EventBridge event ("ECR Image Action", REFERENCE.md section 8).
// When the config has ECR sources, the stack gets a rule that delivers those events to the work
// queue as they are (no input transformer: the copier reads the event itself, vendors/ecr/events.ts),
// and a queue policy that lets only that rule send. Pure: no I/O; CloudFormation out.
//
// EventBridge delivers an account's ECR events on its default bus in the region they happen: a rule
// sees the stack's own account and region only. Sources elsewhere get a note (cross-account needs
// the other account to forward its events to this bus), and the schedule stays their backstop.
import type { LoadedConfig } from '../../config/types.js';
import { listingTypeOf } from '../../listing/settings.js';
import type { StackTarget } from './grants.js';
import { ecrHost } from './detect.js';

export const ECR_EVENT_RULE_ID = 'EcrPushEventRule';
export const ECR_EVENT_QUEUE_POLICY_ID = 'EcrPushEventQueuePolicy';

export interface EcrEventRule {
  /** Repository names (and `prefix` patterns for namespace rules) the rule matches, this region only. */
  repositories: ({ exact: string } | { prefix: string })[];
  notes: string[];
}

/** The repositories of the config's ECR sources whose events the stack can receive. */
export function ecrEventRule(config: Pick<LoadedConfig, 'rules' | 'resolve'>, stack: StackTarget): EcrEventRule | undefined {
  const repositories = new Map<string, { exact: string } | { prefix: string }>();
  const notes: string[] = [];
  for (const rule of config.rules) {
    const { registry: host, repository } = rule.source;
    const access = config.resolve(host, rule.namespace ? '' : repository);
    if (listingTypeOf(host, access.listing?.type) !== 'ecr') continue;
    const at = ecrHost(host);
    if (at && at.region !== stack.region) {
      notes.push(`ECR source ${host}: its push events stay in ${at.region}; the stack's event rule is in ${stack.region}, so these images follow the schedule only`);
      continue;
    }
    if (at && stack.accountId && at.account !== stack.accountId) {
      notes.push(`ECR source ${host}: its push events are on account ${at.account}'s event bus; forward them to ${stack.accountId}'s default bus for events, else these images follow the schedule only`);
    }
    // A namespace rule: every repository below its fixed part (the copier matches the glob itself).
    const ns = rule.namespace;
    const m = ns ? (ns.namespace ? { prefix: `${ns.namespace}/` } : { prefix: '' }) : { exact: repository };
    repositories.set(JSON.stringify(m), m);
  }
  if (!repositories.size && !notes.length) return undefined;
  return { repositories: [...repositories.values()], notes };
}

/** The rule and the queue policy, as CloudFormation resources ({} when there is nothing to match). */
export function ecrEventResources(rule: EcrEventRule | undefined, queue: { logicalId: string }): Record<string, unknown> {
  if (!rule?.repositories.length) return {};
  // `prefix: ''` matches every repository: the pattern then leaves the name out.
  const any = rule.repositories.some((r) => 'prefix' in r && r.prefix === '');
  const names = rule.repositories.map((r) => ('exact' in r ? r.exact : { prefix: r.prefix }));
  return {
    [ECR_EVENT_RULE_ID]: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Description: 'ECR pushes and deletions of the config\'s ECR sources, to the swr-migrate work queue',
        EventPattern: {
          source: ['aws.ecr'],
          'detail-type': ['ECR Image Action'],
          detail: { 'action-type': ['PUSH', 'DELETE'], result: ['SUCCESS'], ...(any ? {} : { 'repository-name': names }) },
        },
        State: 'ENABLED',
        Targets: [{ Id: 'work-queue', Arn: { 'Fn::GetAtt': [queue.logicalId, 'Arn'] } }],
      },
    },
    [ECR_EVENT_QUEUE_POLICY_ID]: {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [{ Ref: queue.logicalId }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'EcrPushEvents',
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: { 'Fn::GetAtt': [queue.logicalId, 'Arn'] },
              // Only this rule: no other rule, in any account, can send through this grant.
              Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ECR_EVENT_RULE_ID, 'Arn'] } } },
            },
          ],
        },
      },
    },
  };
}
