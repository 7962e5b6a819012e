// Issue 8 items 4-5: `defaults.format`, a rule's `format`, `--format`, and destination templates in
// the native config; the format travels in queue messages (copy and expand) and back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNativeConfig } from '../../lib/config/native.js';
import { problemsOf } from '../helpers/config-problems.js';
import { applyTemplate, unknownTemplateFields } from '../../lib/plan/mapping.js';
import { copyMessagesFor, expandMessageFor, ruleFromExpand } from '../../lib/plan/planner.js';
import { decodeMessage, encodeMessage } from '../../lib/queue/messages.js';
import { formatFlag } from '../../lib/cli/pipeline-commands.js';

const parse = (yaml: object) => parseNativeConfig(yaml, 'sync.yaml', {});
const problems = (yaml: object): string[] => problemsOf(() => parse(yaml));

test('format: a rule overrides defaults.format; unset rules inherit it; unset everywhere stays unset', () => {
  const c = parse({
    version: 1,
    defaults: { format: 'docker' },
    rules: [
      { source: 'quay.io/a/b:1', destination: 'reg.example.com/x' },
      { source: 'quay.io/a/c:1', destination: 'reg.example.com/x', format: 'keep' },
    ],
  });
  assert.deepEqual(c.rules.map((r) => r.format), ['docker', 'keep']);
  assert.equal(parse({ version: 1, rules: [{ source: 'quay.io/a/b:1', destination: 'reg.example.com/x' }] }).rules[0]!.format, undefined);
  assert.match(problems({ version: 1, defaults: { format: 'oci' }, rules: [{ source: 'quay.io/a/b:1', destination: 'r.io/x' }] }).join('\n'), /defaults\.format: expected docker .* or keep/);
});

test('format travels in copy and expand messages and back', () => {
  const [rule] = parse({ version: 1, rules: [{ source: 'quay.io/a/b', destination: 'reg.example.com/x', format: 'docker' }] }).rules;
  const [copy] = copyMessagesFor(rule!, ['1']);
  assert.equal((decodeMessage(encodeMessage(copy!)) as NonNullable<typeof copy>).format, 'docker');
  const expand = expandMessageFor(rule!);
  assert.equal(expand.format, 'docker');
  assert.equal(ruleFromExpand(decodeMessage(encodeMessage(expand)) as typeof expand).format, 'docker');
  assert.throws(() => decodeMessage(JSON.stringify({ ...copy, format: 'oci' })), /format/);
});

test('--format: docker or keep, anything else is a usage error naming both', () => {
  assert.equal(formatFlag('docker'), 'docker');
  assert.equal(formatFlag(undefined), undefined);
  assert.throws(() => formatFlag('oci'), (e: Error & { code?: string }) => e.code === 'SWRM_USAGE' && /docker .*keep/.test(e.message));
});

test('template: fields filled, lowercased, an empty namespace takes its separator along', () => {
  assert.equal(applyTemplate('{namespace}-{name}', 'docker.io', 'bitnami/redis'), 'bitnami-redis');
  assert.equal(applyTemplate('{namespace}-{name}', 'docker.io', 'nginx'), 'nginx');
  assert.equal(applyTemplate('{registry}/{repository}', 'Quay.io:443', 'Org/App'), 'quay.io/org/app');
  assert.equal(applyTemplate('mirror/{path}', 'ghcr.io', 'a/b/c'), 'mirror/a/b/c');
  assert.deepEqual(unknownTemplateFields('{org}/{name}/{}'), ['org', '']);
});

test('template rules: destination named by the template; exclusive with name and mapping; unknown fields refused', () => {
  const c = parse({ version: 1, rules: [{ source: 'docker.io/bitnami/redis:7', destination: 'swr.cn-north-4.myhuaweicloud.com/mirror', template: '{namespace}-{name}' }] });
  assert.deepEqual(c.rules[0]!.destinations, [{ registry: 'swr.cn-north-4.myhuaweicloud.com', repository: 'mirror/bitnami-redis' }]);
  const lines = problems({
    version: 1,
    rules: [
      { source: 'docker.io/a/b:1', destination: 'r.example.com/x', template: '{name}', mapping: 'path' },
      { source: 'docker.io/a/b:1', destination: 'r.example.com/x', template: '{org}-{name}' },
    ],
  }).join('\n');
  assert.match(lines, /rules\[0\]: mapping and template are mutually exclusive/);
  assert.match(lines, /rules\[1\]\.template: unknown placeholder\(s\) \{org\}; use \{registry\}/);
});
