// What the Lambda roles must be granted for the config's Amazon ECR sources, computed when the stack
// is packaged (infra/ecr-grants.cjs) from the config it bundles (issue 14, item 1). Pure: no I/O.
//
// AWS authorizes an ECR registry's Docker Registry API requests as ECR actions on the repository:
// a manifest GET/HEAD is ecr:BatchGetImage, a blob GET ecr:GetDownloadUrlForLayer, a blob HEAD
// ecr:BatchCheckLayerAvailability, tags/list ecr:ListImages; the login is ecr:GetAuthorizationToken,
// which IAM only grants on "*". The listing API (lib/vendors/ecr/listing.ts) calls DescribeRepositories
// without repository names, which IAM authorizes on `repository/*` of the registry, and
// DescribeImages on the one repository (a listed rule's tags with their digests).
import type { LoadedConfig, SyncRule } from '../../config/types.js';
import { listingTypeOf } from '../../listing/settings.js';
import { ecrHost } from './detect.js';

/** The stack being packaged. */
export interface StackTarget {
  service: string;
  stage: string;
  /** provider.region: the functions' AWS_REGION. */
  region: string;
  /** The account deployed to, when the packager knows it (param accountId); AWS::AccountId otherwise. */
  accountId?: string;
}

/** One statement: actions on resources, ARNs written for Fn::Sub (`${AWS::Partition}` ...), or "*". */
export interface EcrStatement {
  Sid: string;
  actions: string[];
  resources: string[];
}

export interface EcrGrants {
  planner: EcrStatement[];
  copier: EcrStatement[];
  /** What the packager should be told: other regions, other accounts, what to grant there. */
  notes: string[];
}

const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'];

interface Registry {
  host: string;
  /** From the host (`<account>.dkr.ecr.<region>.amazonaws.com`); an alias host (`type: ecr`) has none. */
  account?: string;
  region?: string;
}

function registryArn(r: Registry, resource: string): string {
  return `arn:\${AWS::Partition}:ecr:${r.region ?? '${AWS::Region}'}:${r.account ?? '${AWS::AccountId}'}:${resource}`;
}

/** The rule's repositories as an IAM resource: the repository, or its namespace with a trailing `*`. */
function repositories(rule: SyncRule): string {
  const ns = rule.namespace;
  if (!ns) return `repository/${rule.source.repository}`;
  // The narrowest form IAM can express for "every repository below team/": `team/*` (a glob such
  // as `team/*-svc` narrows what is copied, not what the policy can name).
  return ns.namespace ? `repository/${ns.namespace}/*` : 'repository/*';
}

class StatementSet {
  private readonly bySid = new Map<string, { actions: Set<string>; resources: Set<string> }>();
  add(Sid: string, actions: string[], resource: string): void {
    let s = this.bySid.get(Sid);
    if (!s) this.bySid.set(Sid, (s = { actions: new Set(), resources: new Set() }));
    for (const a of actions) s.actions.add(a);
    s.resources.add(resource);
  }
  statements(): EcrStatement[] {
    return [...this.bySid].map(([Sid, s]) => ({ Sid, actions: [...s.actions], resources: [...s.resources].sort() }));
  }
}

export function ecrGrants(config: Pick<LoadedConfig, 'rules' | 'resolve'>, stack: StackTarget): EcrGrants {
  const planner = new StatementSet();
  const copier = new StatementSet();
  const used = new Map<string, { registry: Registry; actions: Set<string>; namespace: boolean }>();
  for (const rule of config.rules) {
    const { registry: host, repository } = rule.source;
    const access = config.resolve(host, rule.namespace ? '' : repository);
    if (listingTypeOf(host, access.listing?.type) !== 'ecr') continue;
    const registry: Registry = { host, ...ecrHost(host) };
    const repos = registryArn(registry, repositories(rule));
    const u = used.get(host) ?? { registry, actions: new Set<string>(), namespace: false };
    used.set(host, u);
    const grant = (set: StatementSet, Sid: string, actions: string[], resource: string) => {
      set.add(Sid, actions, resource);
      // What another account's repository policies would have to allow (listing a registry cannot be).
      if (set === copier && resource !== '*') for (const a of actions) if (a !== 'ecr:DescribeRepositories') u.actions.add(a);
    };
    // Credentials given in the config (a static login) make GetAuthorizationToken unnecessary.
    if (!access.credentials && !access.credentialsProvider) grant(copier, 'EcrLogin', ['ecr:GetAuthorizationToken'], '*');
    grant(copier, 'EcrPull', PULL, repos);
    const listed = !rule.tags && !rule.digest;
    // A listed rule's tags come from DescribeImages, with their digests and push times (plan/rule-tags.ts),
    // not from the registry's tags/list (ecr:ListImages).
    if (listed) grant(copier, 'EcrListTags', ['ecr:DescribeImages'], repos);
    if (rule.namespace) {
      // The planner lists the repositories; a copier lists them again when that failed (expand-namespace).
      const all = registryArn(registry, 'repository/*');
      grant(planner, 'EcrRepositories', ['ecr:DescribeRepositories'], all);
      grant(copier, 'EcrRepositories', ['ecr:DescribeRepositories'], all);
      u.namespace = true;
    }
  }
  const notes = [...used.values()].flatMap((u) => notesFor(u.registry, [...u.actions], u.namespace, stack));
  return { planner: planner.statements(), copier: copier.statements(), notes };
}

/** Lines for the packager about one ECR source registry in another region or account. */
function notesFor(r: Registry, actions: string[], namespace: boolean, stack: StackTarget): string[] {
  const notes: string[] = [];
  if (r.region && r.region !== stack.region) {
    notes.push(`ECR source ${r.host} is in ${r.region}, the stack in ${stack.region}: the copier role is granted on that region's repositories; pulls cross regions (transfer is charged)`);
  }
  if (!r.account || r.account === stack.accountId) return notes;
  const other = stack.accountId !== undefined;
  const role = `arn:aws:iam::${stack.accountId ?? '<your account>'}:role/${stack.service}-${stack.stage}-CopierRole-*`;
  const grant = `each repository's policy in ${r.account} must allow ${[...actions].sort().join(', ')} to principal arn:aws:iam::${stack.accountId ?? '<your account>'}:root with condition ArnLike aws:PrincipalArn ${role}`;
  notes.push(
    other
      ? `ECR source ${r.host} belongs to account ${r.account}, not ${stack.accountId} (param accountId): ${grant}`
      : `ECR source ${r.host} belongs to account ${r.account}: if you deploy to another account (give --param=accountId=ID to check), ${grant}`,
  );
  if (namespace) notes.push(`ECR source ${r.host}: a namespace rule lists the registry (DescribeRepositories on repository/*), which no repository policy can grant to another account: list its repositories as rules instead`);
  return notes;
}

/** The ECR statements as CloudFormation: one AWS::IAM::Policy per role that needs any. */
export function ecrPolicyResources(grants: EcrGrants, roles: { planner: string; copier: string }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const fn of ['planner', 'copier'] as const) {
    const statements = grants[fn];
    if (!statements.length) continue;
    out[policyId(fn)] = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: `${fn}-ecr`,
        Roles: [{ Ref: roles[fn] }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: statements.map((s) => ({
            Sid: s.Sid,
            Effect: 'Allow',
            Action: s.actions,
            Resource: s.resources.length === 1 && s.resources[0] === '*' ? '*' : s.resources.map((r) => ({ 'Fn::Sub': r })),
          })),
        },
      },
    };
  }
  return out;
}

/** The logical id of a function's ECR policy (its function depends on it: no cold start before the grant). */
export function policyId(fn: 'planner' | 'copier'): string {
  return fn === 'planner' ? 'PlannerEcrPolicy' : 'CopierEcrPolicy';
}
