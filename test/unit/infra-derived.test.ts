// infra/derived.cjs: the values serverless.yml derives from its --param values while packaging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
type Resolver = (ctx: { resolveVariable: (v: string) => Promise<unknown> }) => Promise<unknown>;
const derived = createRequire(import.meta.url)(resolve(root, 'infra/derived.cjs')) as Record<string, Resolver>;

/** osls's resolveVariable for `param:NAME, 'default'`: the given value, else the default. */
function params(values: Record<string, string>) {
  return {
    resolveVariable: async (v: string) => {
      const m = /^param:(\w+), '([^']*)'$/.exec(v);
      assert.ok(m, `unexpected variable ${v}`);
      return values[m[1]!] ?? m[2];
    },
  };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as Error;
    // osls prints a rejection's stack: it must be the one line, not a trace.
    assert.equal(e.stack, e.message);
    return e.message;
  }
  assert.fail('expected a refusal');
}

test('the queue visibility timeout is 6x the copier timeout, default 900 s', async () => {
  assert.equal(await derived.queueVisibilityTimeout!(params({})), 5400);
  assert.equal(await derived.copierTimeout!(params({ copierTimeout: '120' })), 120);
  assert.equal(await derived.queueVisibilityTimeout!(params({ copierTimeout: '120' })), 720);
});

test('numeric parameters become numbers; out-of-range ones are one-line SWRM_CONFIG refusals naming the parameter', async () => {
  assert.equal(await derived.maxReceiveCount!(params({})), 10);
  assert.equal(await derived.maxReceiveCount!(params({ maxReceiveCount: '8' })), 8);
  assert.equal(await derived.maximumConcurrency!(params({ maximumConcurrency: '20' })), 20);
  assert.match(await refusal(derived.maxReceiveCount!(params({ maxReceiveCount: '0' }))), /^param maxReceiveCount must be .* not "0" \[SWRM_CONFIG\]$/);
  // Lambda's ScalingConfig takes 2-1000.
  assert.match(await refusal(derived.maximumConcurrency!(params({ maximumConcurrency: '1' }))), /maximumConcurrency .* \[SWRM_CONFIG\]$/);
  assert.match(await refusal(derived.copierTimeout!(params({ copierTimeout: '901' }))), /copierTimeout .* "901" \[SWRM_CONFIG\]$/);
  assert.match(await refusal(derived.dlqAlarmThreshold!(params({ dlqAlarmThreshold: 'x' }))), /dlqAlarmThreshold/);
});

test('the config parameter: a file inside the project, as a relative path; else a refusal naming it', async () => {
  assert.equal(await derived.config!(params({ config: './package.json' })), 'package.json');
  assert.equal(await derived.config!(params({ config: `${root}/infra/queue.yml` })), 'infra/queue.yml');
  assert.match(await refusal(derived.config!(params({ config: 'no-such-sync.yaml' }))), /^param config no-such-sync\.yaml: no such file/);
  assert.match(await refusal(derived.config!(params({ config: 'infra' }))), /^param config infra: no such file/);
  assert.match(await refusal(derived.config!(params({ config: '../outside.yaml' }))), /^param config \.\.\/outside\.yaml lies outside /);
  assert.match(await refusal(derived.config!(params({ config: '/etc/hostname' }))), /lies outside .* \[SWRM_CONFIG\]$/);
});
