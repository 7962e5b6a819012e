// The packaged CloudFormation template as the IAM check sees it (issue 14, item 1): intrinsic
// functions (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If ...) resolved for a fixed fake stack
// (iam-calls.ts FAKE_STACK), with the tests' stand-ins named in place of the stack's queues and
// tables; each function's role's identity policies; and each function's environment (its queue
// references resolved to the local stand-ins, for a test that runs the handlers as Lambda would).
import { type Json, lambdaFunction, resourcesOf, target } from './lambda-package.js';
import { FAKE_STACK, type FunctionName, type Stack } from './iam-calls.js';

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
