// The packaging side of vendors/ecr/grants.ts and event-rule.ts: infra/ecr-grants.cjs (run by osls, CommonJS) bundles this
// file with esbuild and calls it, so the config is read by the same parser the functions use at
// cold start. Secrets are not fetched while packaging (no AWS, no credentials): a reference stands
// for a value, which is all the grants need to know (that a registry has a login); `${env:}` likewise.
import { loadForPackaging } from '../config/package-check.js';
import { type StackTarget, ecrGrants, ecrPolicyResources, policyId } from '../vendors/ecr/grants.js';
import { ecrEventResources, ecrEventRule } from '../vendors/ecr/event-rule.js';
import type { NotifySettings } from '../config/service-settings.js';
import type { SyncRule } from '../config/types.js';

export type { StackTarget } from '../vendors/ecr/grants.js';

export interface PackageGrants {
  /** CloudFormation Resources to merge into the template ({} when the config has no ECR source). */
  resources: Record<string, unknown>;
  /** Per function, the policies it must not start before (its DependsOn). */
  dependsOn: { planner: string[]; copier: string[] };
  notes: string[];
}

/** The ECR grants for the config at `configPath` (a ConfigError listing its problems if it is invalid). */
export async function packageGrants(configPath: string, stack: StackTarget): Promise<PackageGrants> {
  // Read as the packaging check reads it (config/package-check.ts): references by syntax, placeholders.
  const config = await loadForPackaging(configPath, 'param config');
  const grants = ecrGrants(config, stack);
  // ECR's push events reach the work queue through an EventBridge rule (vendors/ecr/event-rule.ts).
  const events = ecrEventRule(config, stack);
  const resources: Record<string, unknown> = { ...ecrPolicyResources(grants, { planner: 'PlannerRole', copier: 'CopierRole' }), ...ecrEventResources(events, { logicalId: 'MigrationQueue' }) };
  const dependsOn = { planner: [] as string[], copier: [] as string[] };
  for (const fn of ['planner', 'copier'] as const) if (resources[policyId(fn)]) dependsOn[fn].push(policyId(fn));
  const derived: [string, Record<string, unknown> | undefined][] = [
    [NOTIFY_POLICY_ID, notifyPolicy(config.notify, 'CopierRole')],
    [PRUNE_POLICY_ID, prunePolicy(config.rules, 'CopierRole')],
  ];
  for (const [id, policy] of derived) {
    if (!policy) continue;
    resources[id] = policy;
    dependsOn.copier.push(id);
  }
  return { resources, dependsOn, notes: [...grants.notes, ...(events?.notes ?? [])] };
}

/** The copier's notify policy (logical id): the copier that settles a run's last message announces it. */
export const NOTIFY_POLICY_ID = 'CopierNotifyPolicy';

/**
 * What announcing a run's end adds to the copier's role (lib/notify/run-end.ts), only when the
 * config has `notify`: dynamodb:Query on the state table (the run's failures by code, read once at
 * its end), and sns:Publish on exactly the config's topic when it names one. A webhook needs no AWS
 * permission; the planner announces nothing.
 */
export function notifyPolicy(notify: NotifySettings | undefined, role: string, table: unknown = { 'Fn::GetAtt': ['StateTable', 'Arn'] }): Record<string, unknown> | undefined {
  if (!notify || (!notify.snsTopicArn && !notify.webhookUrl)) return undefined;
  const statements: Record<string, unknown>[] = [{ Sid: 'NotifyRunFailures', Effect: 'Allow', Action: ['dynamodb:Query'], Resource: table }];
  if (notify.snsTopicArn) statements.push({ Sid: 'NotifyRunSummary', Effect: 'Allow', Action: ['sns:Publish'], Resource: notify.snsTopicArn });
  return {
    Type: 'AWS::IAM::Policy',
    Properties: { PolicyName: 'copier-notify', Roles: [{ Ref: role }], PolicyDocument: { Version: '2012-10-17', Statement: statements } },
  };
}

/** The copier's prune policy (logical id): a copier that expands a rule with `prune` prunes it. */
export const PRUNE_POLICY_ID = 'CopierPrunePolicy';

/**
 * What a rule's prune adds to the copier's role (pipeline/prune.ts), only when a rule has `prune`:
 * dynamodb:Query on the state table, to read the records of the tags this tool pushed into a
 * destination repository (copy/destination-state.ts pushedTags). A pruned tag's record is expired
 * by a PutItem the role already has; deleting at the registry takes no AWS permission.
 */
export function prunePolicy(rules: readonly SyncRule[], role: string, table: unknown = { 'Fn::GetAtt': ['StateTable', 'Arn'] }): Record<string, unknown> | undefined {
  if (!rules.some((r) => r.prune)) return undefined;
  return {
    Type: 'AWS::IAM::Policy',
    Properties: {
      PolicyName: 'copier-prune',
      Roles: [{ Ref: role }],
      PolicyDocument: { Version: '2012-10-17', Statement: [{ Sid: 'PruneRecords', Effect: 'Allow', Action: ['dynamodb:Query'], Resource: table }] },
    },
  };
}
