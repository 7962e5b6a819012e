// Issue 6 item 11: property tests for the config loaders. Whatever document a user (or a YAML
// parser) hands over, the native and image-syncer loaders give a LoadedConfig / rules or a
// ConfigError listing problems, never a TypeError, and what they accept is well formed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { parseNativeConfig } from '../../lib/config/native.js';
import { parseImagesFile } from '../../lib/config/image-syncer.js';
import { parseAuthEntries } from '../../lib/config/auth-file.js';
import { ConfigError } from '../../lib/errors.js';
import type { SyncRule } from '../../lib/config/types.js';

const RUNS = { numRuns: 300 };
// dockerConfig: true must not read the real ~/.docker/config.json of whoever runs the tests.
const nowhere = join(tmpdir(), 'swrm-property-no-such-dir');
const ENV = { HOME: nowhere, DOCKER_CONFIG: nowhere, PASS: 'p', USER_NAME: 'u' };

// Values a config is made of, biased to the ones the loaders give meaning to.
const hosts = fc.constantFrom('quay.io', 'r.io/ns', '127.0.0.1:5000', 'localhost', 'Quay.IO/x/', 'https://index.docker.io/v1/', 'myhost', '', 'a b', '[::1]:5000', '__proto__', 'constructor');
const refs = fc.constantFrom(
  'alpine', 'quay.io/coreos/etcd:v3.5.0', 'ghcr.io/org/app', 'r.io/a@sha256:' + 'a'.repeat(64), 'r.io/a:t1,t2', 'r.io/a:/^v[0-9]+$/', 'r.io/a:/(/', 'r.io/a:/(\n/', 'r.io/a\n:b',
  'r.io/a:', 'R.io/A', 'r.io/a/', 'docker.io', 'x:y:z', '@', ':', '/', 'r.io/a:t1,,t2', 'h.io/a:/x/,b', 'quay.io/mirror', 'd.io/m/app:pinned',
);
const scalar = fc.oneof(
  refs,
  hosts,
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom('${env:PASS}', '${env:MISSING}', '$PASS', '${USER_NAME}', '$MISSING', 'linux/amd64', '^1\\.2', '(', 'basename', 'path'),
  fc.integer({ min: -3, max: 300 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);
const keys = fc.oneof(
  fc.constantFrom('version', 'defaults', 'registries', 'rules', 'source', 'destination', 'tags', 'name', 'mapping', 'include', 'exclude', 'latest',
    'username', 'password', 'insecure', 'concurrency', 'retries', 'platforms', 'dockerConfig', 'timeout', 'connections', 'caFile', 'certFile', 'keyFile',
    'tokenRealms', 'allowLinkLocal', '__proto__', 'toString'),
  hosts,
  refs,
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(keys, tie('value'), { maxKeys: 5 }),
  ),
}));

const field = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, value);
const registryEntry = fc.record(
  {
    username: field(fc.constantFrom('u', '${env:USER_NAME}', '${env:NOPE}', '${secretsmanager:prod/q#username}', '${ssm:x y}')),
    password: field(fc.constantFrom('p', '${env:PASS}', '', '${secretsmanager:prod/q}', '${ssm:/a/b}', '${secretmanager:q}', '${X}')),
    dockerConfig: field(fc.constantFrom(true, false, join(nowhere, 'config.json'))),
    insecure: field(fc.boolean()),
    concurrency: field(fc.integer({ min: 0, max: 300 })),
    connections: field(fc.integer({ min: 0, max: 2000 })),
    maxBytesPerSecond: field(fc.integer({ min: 0, max: 2_000_000 })),
    caFile: field(fc.constantFrom('ca.pem', '/etc/ca.pem')),
    certFile: field(fc.constant('c.pem')),
    keyFile: field(fc.constant('k.pem')),
    tokenRealms: field(fc.array(fc.constantFrom('https://auth.r.io/token', ''), { maxLength: 2 })),
    allowLinkLocal: field(fc.boolean()),
  },
  { requiredKeys: [] },
);
const filter = fc.record({ include: field(fc.array(fc.constantFrom('^v', '(', '.*', '(\n'))), exclude: field(fc.array(fc.constantFrom('-rc'))), latest: field(fc.integer({ min: -1, max: 5 })) }, { requiredKeys: [] });
const rule = fc.record(
  {
    source: field(refs),
    destination: field(fc.oneof(refs, fc.array(refs, { maxLength: 3 }))),
    tags: field(fc.oneof(fc.array(fc.constantFrom('v1', 'v2', 'bad tag', '.x'), { maxLength: 3 }), filter)),
    name: field(fc.constantFrom('etcd', 'tools/etcd', 'Bad', '')),
    mapping: field(fc.constantFrom('basename', 'path', 'flat')),
  },
  { requiredKeys: [] },
);
// Mostly valid documents, so the accepting branches run as often as the refusing ones.
const goodSource = fc.constantFrom('alpine', 'quay.io/coreos/etcd:v3.5.0', 'ghcr.io/org/app', `r.io/a@sha256:${'a'.repeat(64)}`, '127.0.0.1:5000/x/y');
const goodDestination = fc.constantFrom('quay.io/mirror', 'r.io/ns', 'docker.io', '127.0.0.1:5000');
const goodRule = fc.record(
  {
    source: goodSource,
    destination: fc.oneof(goodDestination, fc.array(goodDestination, { minLength: 1, maxLength: 2 })),
    tags: fc.constantFrom(['v1', 'v2'], { include: ['^v'], latest: 2 }, { exclude: ['-rc$'] }),
    name: fc.constantFrom('etcd', 'tools/etcd'),
    mapping: fc.constantFrom('basename', 'path'),
  },
  { requiredKeys: ['source', 'destination'] },
);
const goodRegistry = fc.constantFrom({}, null, { insecure: true }, { username: 'u', password: '${env:PASS}' }, { concurrency: 4, connections: 8 }, { caFile: 'ca.pem' });
const goodDoc = fc.record(
  {
    version: fc.constant(1),
    defaults: fc.record({ concurrency: fc.integer({ min: 1, max: 256 }), retries: fc.integer({ min: 0, max: 20 }), platforms: fc.constant(['linux/amd64']) }, { requiredKeys: [] }),
    registries: fc.dictionary(fc.constantFrom('quay.io', 'r.io/ns', '127.0.0.1:5000', 'ghcr.io'), goodRegistry, { maxKeys: 3 }),
    rules: fc.array(goodRule, { minLength: 1, maxLength: 3 }),
  },
  { requiredKeys: ['version', 'rules'] },
);
const nativeDoc = fc.oneof(
  { weight: 3, arbitrary: goodDoc },
  { weight: 2, arbitrary: fc.tuple(goodDoc, fc.constantFrom('defaults', 'registries', 'rules'), value).map(([d, k, v]) => ({ ...d, [k]: v })) },
  { weight: 4, arbitrary: fc.record(
    {
      version: fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, value),
      defaults: field(fc.record({ concurrency: field(fc.integer({ min: 0, max: 300 })), retries: field(fc.integer({ min: -1, max: 30 })), platforms: field(fc.array(fc.constantFrom('linux/amd64', 'linux'))), timeout: field(fc.integer({ min: 0, max: 100_000 })) }, { requiredKeys: [] })),
      registries: field(fc.dictionary(hosts, fc.oneof(registryEntry, value), { maxKeys: 4 })),
      rules: field(fc.array(fc.oneof({ weight: 3, arbitrary: rule }, value), { maxLength: 4 })),
    },
    { requiredKeys: [] },
  ) },
  { weight: 1, arbitrary: value },
  { weight: 1, arbitrary: fc.anything() },
);

/** Runs a loader; returns its value, or undefined when it threw a ConfigError (anything else fails). */
function valueOrConfigError<T>(run: () => T): T | undefined {
  try {
    return run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `threw ${err instanceof Error ? err.stack : String(err)}`);
    assert.equal(err.code, 'SWRM_CONFIG');
    for (const line of err.problems) assert.doesNotMatch(line, /[\n\r]/, 'each problem is one line');
    return undefined;
  }
}

function assertWellFormed(rules: SyncRule[]): void {
  for (const r of rules) {
    assert.ok(r.source.registry && r.source.repository, 'a rule has a source');
    assert.ok(r.destinations.length > 0, 'a rule has a destination');
    for (const d of r.destinations) assert.ok(d.registry && d.repository);
  }
}

describe('config loaders: properties', () => {
  test('native: any document gives a LoadedConfig or a ConfigError', () => {
    fc.assert(
      fc.property(nativeDoc, (doc) => {
        const cfg = valueOrConfigError(() => parseNativeConfig(doc, 'c.yaml', ENV));
        if (!cfg) return;
        assertWellFormed(cfg.rules);
        assert.ok(cfg.rules.length > 0);
        assert.ok(cfg.defaults.concurrency >= 1 && cfg.defaults.retries >= 0);
        // The resolver answers for any repository, configured or not.
        assert.equal(typeof cfg.resolve('quay.io', 'coreos/etcd'), 'object');
      }),
      RUNS,
    );
  });

  test('image-syncer --images: any document gives rules or a ConfigError', () => {
    const images = fc.oneof(
      { weight: 3, arbitrary: fc.dictionary(fc.oneof(refs, goodSource), fc.oneof(goodSource, fc.array(goodSource, { minLength: 1, maxLength: 2 })), { minKeys: 1, maxKeys: 3 }) },
      { weight: 4, arbitrary: fc.dictionary(fc.oneof(refs, keys), fc.oneof(refs, fc.array(refs, { maxLength: 3 }), value), { maxKeys: 4 }) },
      { weight: 1, arbitrary: value },
      { weight: 1, arbitrary: fc.anything() },
    );
    fc.assert(
      fc.property(images, (doc) => {
        const rules = valueOrConfigError(() => parseImagesFile(doc, 'images.yaml'));
        if (rules) assertWellFormed(rules);
      }),
      RUNS,
    );
  });

  test('image-syncer --auth: any document gives entries or a ConfigError', () => {
    const entry = fc.record({ username: field(fc.constantFrom('u', '$PASS', '${MISSING}')), password: field(fc.constantFrom('p', '$PASS')), insecure: field(fc.boolean()) }, { requiredKeys: [] });
    const auth = fc.oneof(
      { weight: 4, arbitrary: fc.dictionary(hosts, fc.oneof(entry, value), { maxKeys: 4 }) },
      { weight: 1, arbitrary: value },
      { weight: 1, arbitrary: fc.anything() },
    );
    fc.assert(
      fc.property(auth, (doc) => {
        const entries = valueOrConfigError(() => parseAuthEntries(doc ?? {}, 'auth.yaml', ENV));
        for (const e of entries ?? []) assert.equal(typeof e.prefix, 'string');
      }),
      RUNS,
    );
  });

  // Counterexamples the properties found, kept as plain regression tests: a key or value with a
  // newline split a problem over two lines, so a one-line-per-problem listing lied.
  test('found: a newline in an unknown key (native)', () => {
    const err = errorOf(() => parseNativeConfig({ version: 1, rules: [{ 'r.io/a\n:b': '' }] }, 'c.yaml', ENV));
    assert.ok(err.problems.some((l) => l.includes('"r.io/a\\n:b"')), err.problems.join(' | '));
    for (const l of err.problems) assert.doesNotMatch(l, /\n/);
  });
  test('found: a newline in an image-syncer tag regex', () => {
    const err = errorOf(() => parseImagesFile({ 'r.io/a:/(\n/': 'd.io/a' }, 'images.yaml'));
    assert.equal(err.problems.length, 1);
    assert.match(err.problems[0]!, /^images\.yaml: .*tag pattern \/\(\\n\/: invalid regular expression/);
  });
});

function errorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err;
  }
  assert.fail('expected a ConfigError');
}
