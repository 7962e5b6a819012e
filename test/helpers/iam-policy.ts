// The packaged roles as an offline IAM evaluator (issue 14, item 1). Each recorded call is decided
// by @cloud-copilot/iam-simulate against the identity policies of its function's role
// (iam-template.ts rolePolicies: inline, attached AWS::IAM::Policy, managed policies of the
// template). No resource policies and no SCPs: a resource in another account is evaluated for the
// identity side only (the other side is a repository policy there: packaging names it).
//
// Two findings: a call the role would deny, and a grant (one action on one resource of one
// statement) that no call exercised. Calls made by Lambda itself with the role count as calls
// (platformCalls): the log writes of every function, and the SQS event source mapping's polling.
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { type Json, lambdaFunction, resourcesOf, target } from './lambda-package.js';
import { FAKE_STACK, type FunctionName, type IamCall } from './iam-calls.js';
import { type RolePolicy, type TemplateContext, TemplateResolver, functionNames, rolePolicies } from './iam-template.js';

export { type TemplateContext, TemplateResolver, functionEnvironment } from './iam-template.js';

/**
 * What Lambda does with each function's role (AWS: "Lambda execution role"): it writes the
 * function's logs (logs:CreateLogStream, logs:PutLogEvents on its log group), and an SQS event
 * source mapping polls the queue with the role of the function it invokes (sqs:ReceiveMessage,
 * sqs:DeleteMessage, sqs:GetQueueAttributes: "Lambda execution role permissions for SQS").
 */
export function platformCalls(r: TemplateResolver): Map<FunctionName, IamCall[]> {
  const { partition, region, account } = r.ctx.stack;
  const out = new Map<FunctionName, IamCall[]>();
  const idOf = new Map<string, FunctionName>();
  for (const fn of functionNames(r.template)) {
    const [id, f] = lambdaFunction(r.template, fn);
    idOf.set(id, fn);
    const stream = `arn:${partition}:logs:${region}:${account}:log-group:/aws/lambda/${String(r.value(f.Properties.FunctionName))}:log-stream:2026/01/01/[$LATEST]0123456789abcdef`;
    out.set(fn, ['logs:CreateLogStream', 'logs:PutLogEvents'].map((action) => ({ action, resource: stream, via: 'Lambda (function logs)' })));
  }
  for (const [, m] of resourcesOf(r.template, 'AWS::Lambda::EventSourceMapping')) {
    const fn = idOf.get(target(m.Properties.FunctionName) ?? '');
    const arn = String(r.value(m.Properties.EventSourceArn));
    if (!fn || !arn.includes(':sqs:')) continue;
    out.get(fn)!.push(...['ReceiveMessage', 'DeleteMessage', 'GetQueueAttributes'].map((a) => ({ action: `sqs:${a}`, resource: arn, via: 'Lambda (SQS event source mapping)' })));
  }
  return out;
}

export interface Finding {
  fn: FunctionName;
  action: string;
  resource: string;
  /** What made the call (denied), or the statement that grants it (unexercised). */
  where: string;
}

export interface IamReport {
  denied: Finding[];
  unexercised: Finding[];
  /** Every call evaluated, per function (recorded and the platform's). */
  calls: Map<FunctionName, IamCall[]>;
  /** Every grant, per function: `action on resource`. */
  grants: Map<FunctionName, string[]>;
}

interface Grant {
  key: string;
  action: string;
  resource: string;
  statement: Json;
}

/** A literal `*` in a request's ARN (DescribeRepositories on `repository/*`) is a character, not a pattern. */
function literal(resource: string): string {
  return resource === '*' ? resource : resource.replaceAll('*', '\u2217');
}

export class RoleEvaluator {
  readonly resolver: TemplateResolver;
  private readonly roles = new Map<FunctionName, { roleId: string; policies: RolePolicy[] }>();
  private readonly cache = new Map<string, Promise<string>>();

  constructor(template: Json, ctx: TemplateContext = { stack: FAKE_STACK }) {
    this.resolver = new TemplateResolver(template, ctx);
    for (const fn of functionNames(template)) {
      const [, f] = lambdaFunction(template, fn);
      const roleId = target(f.Properties.Role);
      if (!roleId) throw new Error(`the ${fn} function's role is not a role of the template`);
      this.roles.set(fn, { roleId, policies: rolePolicies(this.resolver, roleId) });
    }
  }

  /** The role's grants, one per (statement, action, resource). NotAction/NotResource are refused. */
  grants(fn: FunctionName): Grant[] {
    const out: Grant[] = [];
    for (const p of this.roles.get(fn)!.policies) {
      p.document.Statement.forEach((s, i) => {
        if (s.NotAction || s.NotResource) throw new Error(`${fn}: ${p.name} statement ${s.Sid ?? i} uses NotAction/NotResource`);
        if (s.Effect !== 'Allow') return;
        for (const action of [s.Action].flat() as string[]) {
          for (const resource of [s.Resource].flat() as string[]) {
            const statement = { ...s, Action: action, Resource: resource };
            out.push({ key: `${p.name} ${s.Sid ?? `#${i}`}`, action, resource, statement });
          }
        }
      });
    }
    return out;
  }

  private simulate(policies: RolePolicy[], roleId: string, call: IamCall): Promise<string> {
    const key = JSON.stringify([policies.map((p) => p.document), call.action, call.resource]);
    let p = this.cache.get(key);
    if (!p) {
      const { partition, account } = this.resolver.ctx.stack;
      p = runSimulation(
        {
          request: {
            principal: `arn:${partition}:iam::${account}:role/${roleId}`,
            action: call.action,
            // The stack's account: identity policies decide alone (see the header).
            resource: { resource: literal(call.resource), accountId: account },
            contextVariables: {},
          },
          identityPolicies: policies.map((x) => ({ name: x.name, policy: x.document })),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      ).then((res) => {
        if (res.resultType === 'error') throw new Error(`cannot evaluate ${call.action} on ${call.resource} (${call.via}): ${JSON.stringify(res.errors)}`);
        return res.overallResult;
      });
      this.cache.set(key, p);
    }
    return p;
  }

  /** The role's decision on one call: Allowed, ImplicitlyDenied or ExplicitlyDenied. */
  decide(fn: FunctionName, call: IamCall): Promise<string> {
    const { roleId, policies } = this.roles.get(fn)!;
    return this.simulate(policies, roleId, call);
  }

  /** Every recorded call (and the platform's) against its role, and every grant against the calls. */
  async check(recorded: Map<FunctionName, IamCall[]>, opts: { platform?: boolean } = {}): Promise<IamReport> {
    const platform = opts.platform === false ? new Map<FunctionName, IamCall[]>() : platformCalls(this.resolver);
    const report: IamReport = { denied: [], unexercised: [], calls: new Map(), grants: new Map() };
    for (const fn of recorded.keys()) if (!this.roles.has(fn)) throw new Error(`calls recorded for ${fn}, which is not a function of the template`);
    for (const fn of this.roles.keys()) {
      const calls = [...(platform.get(fn) ?? []), ...(recorded.get(fn) ?? [])];
      const unique = [...new Map(calls.map((c) => [`${c.action} ${c.resource}`, c])).values()];
      report.calls.set(fn, unique);
      const { roleId } = this.roles.get(fn)!;
      for (const c of unique) {
        if ((await this.decide(fn, c)) !== 'Allowed') report.denied.push({ fn, action: c.action, resource: c.resource, where: c.via });
      }
      const grants = this.grants(fn);
      report.grants.set(fn, grants.map((g) => `${g.action} on ${g.resource}`));
      for (const g of grants) {
        const alone = [{ name: g.key, document: { Version: '2012-10-17', Statement: [g.statement] } }];
        let used = false;
        for (const c of unique) {
          if (c.action.toLowerCase() !== g.action.toLowerCase()) continue;
          if ((await this.simulate(alone, roleId, c)) === 'Allowed') {
            used = true;
            break;
          }
        }
        if (!used) report.unexercised.push({ fn, action: g.action, resource: g.resource, where: g.key });
      }
    }
    return report;
  }
}

/** One line per finding: `copier: sqs:GetQueueUrl on arn:... (SQS GetQueueUrl)`. */
export function describeFindings(findings: Finding[]): string {
  return findings.map((f) => `${f.fn}: ${f.action} on ${f.resource} (${f.where})`).join('\n');
}

/** `arn:aws:sqs:us-east-1:123456789012:q` -> `q`; a log stream's name is dropped. */
function short(resource: string): string {
  return (resource.split(':').slice(5).join(':') || resource).replace(/:log-stream:.*$/, ':log-stream:*');
}

/** The calls recorded per function and the actions granted per role, side by side (a closing note), one line each. */
export function sideBySide(report: IamReport): string[] {
  const lines: string[] = [];
  for (const [fn, calls] of report.calls) {
    const called = [...new Set(calls.map((c) => `${c.action} ${short(c.resource)}`))].sort();
    const granted = [...new Set((report.grants.get(fn) ?? []).map((g) => { const [a, r] = g.split(' on '); return `${a} ${short(r!)}`; }))].sort();
    lines.push(`${fn}: ${called.length} distinct call(s) | ${granted.length} grant(s)`);
    const width = Math.max(10, ...called.map((c) => c.length));
    for (let i = 0; i < Math.max(called.length, granted.length); i++) lines.push(`  ${(called[i] ?? '').padEnd(width)} | ${granted[i] ?? ''}`);
  }
  return lines;
}
