// The packaged CloudFormation template's roles as an offline IAM evaluator (issue 14, item 1).
// Intrinsics (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If ...) are resolved for a fixed fake stack
// (iam-recorder.ts FAKE_STACK) with the tests' stand-in queue names, and each recorded call is
// decided by @cloud-copilot/iam-simulate against the identity policies of its function's role:
// inline policies, AWS::IAM::Policy resources attached to it, and managed policies of the
// template. No resource policies and no SCPs: a resource in another account is evaluated for the
// identity side only (the other side is a repository policy there: packaging names it).
//
// Two findings: a call the role would deny, and a grant (one action on one resource of one
// statement) that no call exercised. Calls made by Lambda itself with the role count as calls
// (platformCalls): the log writes of every function, and the SQS event source mapping's polling.
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { type Json, lambdaFunction, resourcesOf, target } from './lambda-package.js';
import { FAKE_STACK, type FunctionName, type IamCall, type Stack } from './iam-recorder.js';

export interface TemplateContext {
  stack: Stack;
  /** The stack's name (AWS::StackName); default swr-migrate-dev. */
  stackName?: string;
  /** Queues and tables by logical id -> the name of the stand-in that plays it (default: the template's name). */
  names?: Record<string, string>;
  /**
   * Resources played by a local stand-in: `Ref` and attributes by logical id (a queue's local URL
   * and ARN), for a function's environment (functionEnvironment). Not for IAM: ARNs there are the
   * fake stack's (names).
   */
  standIns?: Record<string, Record<string, string>>;
}

const NO_VALUE = Symbol('AWS::NoValue');

/** Resolves a template's intrinsic functions as CloudFormation would for `ctx`. */
export class TemplateResolver {
  private readonly resources: Json;
  constructor(
    readonly template: Json,
    readonly ctx: TemplateContext = { stack: FAKE_STACK },
  ) {
    this.resources = (template.Resources ?? {}) as Json;
  }

  private pseudo(name: string): string | typeof NO_VALUE | undefined {
    const { partition, region, account } = this.ctx.stack;
    const values: Record<string, string> = {
      'AWS::Partition': partition,
      'AWS::Region': region,
      'AWS::AccountId': account,
      'AWS::StackName': this.ctx.stackName ?? 'swr-migrate-dev',
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return name === 'AWS::NoValue' ? NO_VALUE : values[name];
  }

  /** A queue's or table's physical name: the stand-in's, else its QueueName/TableName, else CloudFormation's. */
  physicalName(id: string): string {
    const given = this.ctx.names?.[id];
    if (given) return given;
    const props = this.resources[id]?.Properties ?? {};
    const name = this.value(props.QueueName ?? props.TableName);
    return typeof name === 'string' ? name : `${this.ctx.stackName ?? 'swr-migrate-dev'}-${id}`;
  }

  ref(id: string): unknown {
    const p = this.pseudo(id);
    if (p !== undefined) return p;
    const standIn = this.ctx.standIns?.[id]?.Ref;
    if (standIn !== undefined) return standIn;
    const r = this.resources[id];
    if (!r) throw new Error(`Ref to ${id}: no such resource or pseudo parameter`);
    const { partition, region, account } = this.ctx.stack;
    switch (r.Type) {
      case 'AWS::SQS::Queue':
        return `https://sqs.${region}.amazonaws.com/${account}/${this.physicalName(id)}`;
      case 'AWS::DynamoDB::Table':
        return this.physicalName(id);
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${partition}:iam::${account}:policy/${id}`;
      default:
        return id;
    }
  }

  getAtt(id: string, attr: string): unknown {
    const standIn = this.ctx.standIns?.[id]?.[attr];
    if (standIn !== undefined) return standIn;
    const r = this.resources[id];
    if (!r) throw new Error(`Fn::GetAtt ${id}.${attr}: no such resource`);
    const { partition, region, account } = this.ctx.stack;
    if (r.Type === 'AWS::SQS::Queue') {
      if (attr === 'Arn') return `arn:${partition}:sqs:${region}:${account}:${this.physicalName(id)}`;
      if (attr === 'QueueName') return this.physicalName(id);
      if (attr === 'QueueUrl') return this.ref(id);
    }
    if (r.Type === 'AWS::DynamoDB::Table' && attr === 'Arn') return `arn:${partition}:dynamodb:${region}:${account}:table/${this.physicalName(id)}`;
    if (r.Type === 'AWS::IAM::Role' && attr === 'Arn') return `arn:${partition}:iam::${account}:role/${id}`;
    if (r.Type === 'AWS::Lambda::Function' && attr === 'Arn') return `arn:${partition}:lambda:${region}:${account}:function:${this.value(r.Properties.FunctionName) ?? id}`;
    return `${id}.${attr}`;
  }

  condition(name: string): boolean {
    const c = this.template.Conditions?.[name];
    if (c === undefined) throw new Error(`no condition ${name}`);
    return this.truth(c);
  }

  private truth(c: Json): boolean {
    if (c.Condition) return this.condition(c.Condition);
    if (c['Fn::Equals']) {
      const [a, b] = c['Fn::Equals'].map((v: unknown) => this.value(v));
      return JSON.stringify(a) === JSON.stringify(b);
    }
    if (c['Fn::Not']) return !this.truth(c['Fn::Not'][0]);
    if (c['Fn::And']) return c['Fn::And'].every((x: Json) => this.truth(x));
    if (c['Fn::Or']) return c['Fn::Or'].some((x: Json) => this.truth(x));
    throw new Error(`unsupported condition ${JSON.stringify(c)}`);
  }

  private sub(text: string, vars: Json = {}): string {
    return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (name in vars) return String(this.value(vars[name]));
      const p = this.pseudo(name);
      if (typeof p === 'string') return p;
      const dot = name.indexOf('.');
      if (dot > 0) return String(this.getAtt(name.slice(0, dot), name.slice(dot + 1)));
      if (this.resources[name]) return String(this.ref(name));
      throw new Error(`Fn::Sub ${whole}: unknown name`);
    });
  }

  /** `v` with every intrinsic function resolved. */
  value(v: unknown): unknown {
    const out = this.resolve(v);
    return out === NO_VALUE ? undefined : out;
  }

  private resolve(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => this.resolve(x)).filter((x) => x !== NO_VALUE);
    if (!v || typeof v !== 'object') return v;
    const o = v as Json;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const a = o[k];
      switch (k) {
        case 'Ref':
          return this.ref(a);
        case 'Fn::GetAtt':
          return this.getAtt(...((typeof a === 'string' ? a.split('.') : a) as [string, string]));
        case 'Fn::Sub':
          return typeof a === 'string' ? this.sub(a) : this.sub(a[0], a[1]);
        case 'Fn::Join':
          return (this.resolve(a[1]) as unknown[]).join(a[0]);
        case 'Fn::Select':
          return (this.resolve(a[1]) as unknown[])[Number(this.resolve(a[0]))];
        case 'Fn::If':
          return this.resolve(this.condition(a[0]) ? a[1] : a[2]);
      }
    }
    return Object.fromEntries(Object.entries(o).map(([key, x]) => [key, this.resolve(x)]).filter(([, x]) => x !== NO_VALUE));
  }
}

/** A function's environment as the template gives it, references resolved (to stand-ins, where given). */
export function functionEnvironment(r: TemplateResolver, fn: FunctionName): Record<string, string> {
  const [, f] = lambdaFunction(r.template, fn);
  const vars = r.value(f.Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(v)]));
}

export interface PolicyDocument {
  Version?: string;
  Statement: Json[];
}

export interface RolePolicy {
  name: string;
  document: PolicyDocument;
}

/** Every identity policy of a role of the template, resolved: inline, attached, managed. */
export function rolePolicies(r: TemplateResolver, roleId: string): RolePolicy[] {
  const role = r.template.Resources?.[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role of the template`);
  const doc = (d: unknown) => r.value(d) as PolicyDocument;
  const out: RolePolicy[] = (role.Properties.Policies ?? []).map((p: Json) => ({ name: String(r.value(p.PolicyName)), document: doc(p.PolicyDocument) }));
  for (const [id, res] of Object.entries(r.template.Resources as Json) as [string, Json][]) {
    if (res.Type === 'AWS::IAM::Policy' && (res.Properties.Roles ?? []).some((x: unknown) => target(x) === roleId)) {
      out.push({ name: `${id} (${String(r.value(res.Properties.PolicyName))})`, document: doc(res.Properties.PolicyDocument) });
    }
  }
  for (const m of role.Properties.ManagedPolicyArns ?? []) {
    const id = target(m);
    const res = id ? r.template.Resources[id] : undefined;
    if (res?.Type !== 'AWS::IAM::ManagedPolicy') throw new Error(`${roleId}: managed policy ${JSON.stringify(m)} is not in the template, so it cannot be evaluated offline`);
    out.push({ name: id!, document: doc(res.Properties.PolicyDocument) });
  }
  return out;
}

/** The template's functions by handler module name (`functions/copier.handler` -> copier). */
export function functionNames(template: Json): FunctionName[] {
  return resourcesOf(template, 'AWS::Lambda::Function').map(([, f]) => String(f.Properties.Handler).replace(/\.handler$/, '').split('/').at(-1)!);
}

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
