// Issue 16: ECR pushes reach the work queue through an EventBridge rule the stack gets when the
// config has ECR sources (lib/vendors/ecr/event-rule.ts); only that rule may send to the queue.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNativeConfig } from '../../lib/config/native.js';
import { ECR_EVENT_QUEUE_POLICY_ID, ECR_EVENT_RULE_ID, ecrEventResources, ecrEventRule } from '../../lib/vendors/ecr/event-rule.js';

const HERE = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const THERE = '210987654321.dkr.ecr.eu-central-1.amazonaws.com';
const STACK = { service: 'swr-migrate', stage: 'dev', region: 'us-east-1', accountId: '123456789012' };
const config = (sources: string[]) => parseNativeConfig({ version: 1, rules: sources.map((source) => ({ source, destination: 'swr.cn-north-4.myhuaweicloud.com/mirror' })) }, 'sync.yaml', {});
type Rule = { Properties: { EventPattern: { source: string[]; 'detail-type': string[]; detail: Record<string, unknown> }; Targets: unknown[] } };
type Policy = { Properties: { PolicyDocument: { Statement: { Principal: unknown; Action: string; Condition: unknown }[] } } };

describe('the ECR push event rule', () => {
  test('no ECR source: no rule, no queue policy', () => {
    assert.equal(ecrEventRule(config(['quay.io/coreos/etcd:v3']), STACK), undefined);
    assert.deepEqual(ecrEventResources(undefined, { logicalId: 'MigrationQueue' }), {});
  });

  test('exact repositories and a namespace prefix, PUSH and DELETE that succeeded, to the work queue; only the rule may send', () => {
    const rule = ecrEventRule(config([`${HERE}/team/app:v1`, `${HERE}/web`, `${HERE}/batch/**`, 'quay.io/coreos/etcd']), STACK)!;
    const res = ecrEventResources(rule, { logicalId: 'MigrationQueue' });
    const r = res[ECR_EVENT_RULE_ID] as Rule;
    assert.deepEqual(r.Properties.EventPattern, {
      source: ['aws.ecr'],
      'detail-type': ['ECR Image Action'],
      detail: { 'action-type': ['PUSH', 'DELETE'], result: ['SUCCESS'], 'repository-name': ['team/app', 'web', { prefix: 'batch/' }] },
    });
    assert.deepEqual(r.Properties.Targets, [{ Id: 'work-queue', Arn: { 'Fn::GetAtt': ['MigrationQueue', 'Arn'] } }]);
    const [s] = (res[ECR_EVENT_QUEUE_POLICY_ID] as Policy).Properties.PolicyDocument.Statement;
    assert.deepEqual(s!.Principal, { Service: 'events.amazonaws.com' });
    assert.equal(s!.Action, 'sqs:SendMessage');
    assert.deepEqual(s!.Condition, { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ECR_EVENT_RULE_ID, 'Arn'] } } });
  });

  test('a whole-registry rule matches every repository; another region gets a note and no pattern', () => {
    const all = ecrEventRule(config([`${HERE}/**`]), STACK)!;
    const r = ecrEventResources(all, { logicalId: 'MigrationQueue' })[ECR_EVENT_RULE_ID] as Rule;
    assert.equal('repository-name' in r.Properties.EventPattern.detail, false);
    const other = ecrEventRule(config([`${THERE}/team/app`]), STACK)!;
    assert.deepEqual(other.repositories, []);
    assert.match(other.notes[0]!, /push events stay in eu-central-1; .* follow the schedule only/);
    assert.deepEqual(ecrEventResources(other, { logicalId: 'MigrationQueue' }), {});
  });
});
