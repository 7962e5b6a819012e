// Issue 14: the roles' ECR statements, derived from the bundled config while packaging
// (lib/vendors/ecr/grants.ts, run by infra/ecr-grants.cjs), and the notes for ECR sources in another
// region or account, naming what to grant there.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseNativeConfig } from '../../lib/config/native.js';
import { ecrGrants, ecrPolicyResources } from '../../lib/vendors/ecr/grants.js';

const ECR = '210987654321.dkr.ecr.eu-central-1.amazonaws.com';
const STACK = { service: 'swr-migrate', stage: 'dev', region: 'us-east-1' };
const DST = 'swr.cn-north-4.myhuaweicloud.com/mirror';

function config(registries: Record<string, unknown>, rules: Record<string, unknown>[]) {
  return parseNativeConfig({ version: 1, registries, rules: rules.map((r) => ({ destination: DST, ...r })) }, 'sync.yaml', {});
}

const arn = (region: string, account: string, resource: string) => `arn:\${AWS::Partition}:ecr:${region}:${account}:${resource}`;
const here = (resource: string) => arn('${AWS::Region}', '${AWS::AccountId}', resource);

describe('ECR statements from the config', () => {
  test('no ECR source: no statement, no note, no policy', () => {
    const g = ecrGrants(config({}, [{ source: 'quay.io/coreos/etcd:v3' }, { source: 'docker.io/library/alpine' }]), STACK);
    assert.deepEqual(g, { planner: [], copier: [], notes: [] });
    assert.deepEqual(ecrPolicyResources(g, { planner: 'PlannerRole', copier: 'CopierRole' }), {});
  });

  test('exact tags pull the repository; listed tags add ListImages (DescribeImages for pushedWithinDays); a namespace its prefix and `*`, listed by both functions', () => {
    const g = ecrGrants(
      config({ 'ecr.internal:5000': { type: 'ecr' } }, [
        { source: `${ECR}/team/app:v1` },
        { source: 'ecr.internal:5000/apps/web', tags: { pushedWithinDays: 7 } },
        { source: 'ecr.internal:5000/apps/api', tags: { latest: 3 } },
        { source: 'ecr.internal:5000/batch/**' },
      ]),
      STACK,
    );
    assert.deepEqual(g.planner, [{ Sid: 'EcrRepositories', actions: ['ecr:DescribeRepositories'], resources: [here('repository/*')] }]);
    assert.deepEqual(g.copier, [
      { Sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
      { Sid: 'EcrPull', actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], resources: [here('repository/apps/api'), here('repository/apps/web'), here('repository/batch/*'), arn('eu-central-1', '210987654321', 'repository/team/app')] },
      { Sid: 'EcrListTags', actions: ['ecr:DescribeImages'], resources: [here('repository/apps/api'), here('repository/apps/web'), here('repository/batch/*')] },
      { Sid: 'EcrRepositories', actions: ['ecr:DescribeRepositories'], resources: [here('repository/*')] },
    ]);
    // As CloudFormation: the login on "*" (the only resource IAM takes for it), the rest through Fn::Sub.
    const res = ecrPolicyResources(g, { planner: 'PlannerRole', copier: 'CopierRole' }) as Record<string, { Properties: { Roles: unknown; PolicyDocument: { Statement: { Resource: unknown }[] } } }>;
    assert.deepEqual(Object.keys(res), ['PlannerEcrPolicy', 'CopierEcrPolicy']);
    assert.deepEqual(res.CopierEcrPolicy!.Properties.Roles, [{ Ref: 'CopierRole' }]);
    assert.equal(res.CopierEcrPolicy!.Properties.PolicyDocument.Statement[0]!.Resource, '*');
    assert.deepEqual(res.PlannerEcrPolicy!.Properties.PolicyDocument.Statement[0]!.Resource, [{ 'Fn::Sub': here('repository/*') }]);
  });

  test('a registry with a login in the config needs no GetAuthorizationToken', () => {
    const g = ecrGrants(config({ [ECR]: { username: 'AWS', password: 'a-static-token' } }, [{ source: `${ECR}/team/app:v1` }]), STACK);
    assert.deepEqual(g.copier.map((s) => s.Sid), ['EcrPull']);
  });

  test('an ECR source in another region and account: notes naming the repository policy to add there', () => {
    const cfg = config({}, [{ source: `${ECR}/team/app:v1` }, { source: `${ECR}/team/**` }]);
    const unknownAccount = ecrGrants(cfg, STACK).notes;
    assert.equal(unknownAccount.length, 3);
    assert.match(unknownAccount[0]!, /^ECR source 210987654321\.dkr\.ecr\.eu-central-1\.amazonaws\.com is in eu-central-1, the stack in us-east-1: /);
    assert.match(unknownAccount[1]!, /belongs to account 210987654321: if you deploy to another account \(give --param=accountId=ID to check\), each repository's policy in 210987654321 must allow ecr:BatchGetImage, ecr:DescribeImages, ecr:GetDownloadUrlForLayer to principal arn:aws:iam::<your account>:root with condition ArnLike aws:PrincipalArn arn:aws:iam::<your account>:role\/swr-migrate-dev-CopierRole-\*$/);
    assert.match(unknownAccount[2]!, /a namespace rule lists the registry .* no repository policy can grant to another account/);
    const other = ecrGrants(cfg, { ...STACK, accountId: '123456789012' }).notes;
    assert.match(other[1]!, /belongs to account 210987654321, not 123456789012 \(param accountId\): .* principal arn:aws:iam::123456789012:root .* arn:aws:iam::123456789012:role\/swr-migrate-dev-CopierRole-\*$/);
    // The deploying account and region: nothing to say.
    assert.deepEqual(ecrGrants(cfg, { ...STACK, region: 'eu-central-1', accountId: '210987654321' }).notes, []);
  });
});

describe('infra/ecr-grants.cjs (osls variables while packaging)', () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const dir = join(root, 'dist', `ecr-grants-test-${process.pid}`);
  after(() => rmSync(dir, { recursive: true, force: true }));
  type Resolver = (ctx: { resolveVariable: (v: string) => Promise<unknown> }) => Promise<unknown>;
  const grants = createRequire(import.meta.url)(resolve(root, 'infra/ecr-grants.cjs')) as Record<string, Resolver>;
  const ctx = (params: Record<string, string>) => ({
    resolveVariable: async (v: string) => {
      const fixed: Record<string, string> = { 'self:provider.region': 'us-east-1', 'sls:stage': 'dev', 'self:service': 'swr-migrate' };
      if (fixed[v]) return fixed[v];
      const m = /^param:(\w+), '([^']*)'$/.exec(v);
      assert.ok(m, `unexpected variable ${v}`);
      return params[m[1]!] ?? m[2];
    },
  });

  test('the config is read by lib/config: its ECR policies and the functions that depend on them', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'ecr.yaml'), `version: 1\nrules:\n  - source: ${ECR}/team/app:v1\n    destination: ${DST}\n`);
    const c = ctx({ config: `./dist/ecr-grants-test-${process.pid}/ecr.yaml`, accountId: '210987654321' });
    // The packaging notes go to stderr, once per packaging however many variables ask.
    const printed: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => printed.push(String(chunk)) > 0) as typeof process.stderr.write;
    let resources: { Resources: Record<string, unknown> };
    try {
      resources = (await grants.resources!(c)) as typeof resources;
      await grants.copierDependsOn!(c);
    } finally {
      process.stderr.write = write;
    }
    assert.deepEqual(printed, [
      `swr-migrate: ECR source ${ECR} is in eu-central-1, the stack in us-east-1: the copier role is granted on that region's repositories; pulls cross regions (transfer is charged)\n`,
      // Its push events stay on eu-central-1's bus: no event rule in this stack (vendors/ecr/event-rule.ts).
      `swr-migrate: ECR source ${ECR}: its push events stay in eu-central-1; the stack's event rule is in us-east-1, so these images follow the schedule only\n`,
    ]);
    assert.deepEqual(Object.keys(resources.Resources), ['CopierEcrPolicy']);
    assert.deepEqual(await grants.copierDependsOn!(c), ['CopierEcrPolicy']);
    assert.deepEqual(await grants.plannerDependsOn!(c), []);
  });

  // The refusal itself, with every problem, is derived.cjs checkedConfig's (SWRM_CONFIG, listed once:
  // test/unit/package-config-check.test.ts); these three variables would only repeat it.
  test('an invalid config gives no grants here (checkedConfig refuses it); a bad accountId is one SWRM_CONFIG error', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'bad.yaml'), `version: 1\nrules:\n  - source: ${ECR}/team/app:v1\n    destinaton: ${DST}\n`);
    const bad = ctx({ config: `./dist/ecr-grants-test-${process.pid}/bad.yaml` });
    assert.deepEqual(await grants.resources!(bad), { Resources: {} });
    assert.deepEqual(await grants.copierDependsOn!(bad), []);
    const derived = createRequire(import.meta.url)(resolve(root, 'infra/derived.cjs')) as Record<string, Resolver>;
    await assert.rejects(derived.checkedConfig!(bad), /param config \.\/dist\/ecr-grants-test-\d+\/bad\.yaml: the functions would refuse it at cold start: invalid config file .* \[SWRM_CONFIG\]\n  - .*destinaton/s);
    await assert.rejects(grants.resources!(ctx({ config: `./dist/ecr-grants-test-${process.pid}/ecr.yaml`, accountId: '12345' })), /param accountId must be a 12-digit AWS account id, not "12345" \[SWRM_CONFIG\]/);
  });
});
