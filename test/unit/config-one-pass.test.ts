// Issue 13: "config errors come in two passes". A problem must not hide another: a field of the
// wrong type next to a bad source, a registry entry with an unknown key and a bad reference, a
// duplicate key, a missing version, an auth entry with an unknown key next to an unset variable,
// and the flags that go with the config: all in one ConfigError. Flags alone are a usage error,
// and a run that stops on its flags fetches no secret first.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../lib/config/load.js';
import { parseAuthEntries } from '../../lib/config/auth-file.js';
import { parseNativeConfig } from '../../lib/config/native.js';
import type { SecretStore } from '../../lib/config/secret-store.js';
import { ConfigError, UsageError } from '../../lib/errors.js';
import { problemsOf } from '../helpers/config-problems.js';
import { tempDir, writeFile } from '../helpers/files.js';

const dir = tempDir('swrm-one-pass-');

describe('a problem does not hide another', () => {
  test('a rule: a destination of the wrong type, an unknown key, and a bad source, tags and name', () => {
    const lines = problemsOf(() =>
      parseNativeConfig({ version: 1, rules: [{ source: 'quay.io/A/b', destination: 5, colour: 'x', tags: ['ok', 'bad tag'], name: 'Bad' }] }, 'c.yaml', {}),
    );
    assert.deepEqual(lines, [
      'c.yaml: rules[0].destination: expected registry/namespace or a non-empty list of them',
      'c.yaml: rules[0]: Unrecognized key: "colour"',
      'c.yaml: rules[0].source: invalid image reference "quay.io/A/b": repository names must be lowercase',
      'c.yaml: rules[0].tags[1]: not a valid tag (letters, digits, "_", "." and "-", at most 128)',
      'c.yaml: rules[0].name: expected a repository name such as "etcd" or "tools/etcd" (lowercase a-z, 0-9, separators ".", "_", "__", "-")',
    ]);
  });

  test('a registry: a field of the wrong type, and a bad reference in its password', () => {
    const lines = problemsOf(() =>
      parseNativeConfig(
        { version: 1, registries: { 'quay.io': { insecure: 'yes', username: 'u', password: '${secretmanager:x}' } }, rules: [{ source: 'quay.io/a/b', destination: 'r.io/m' }] },
        'c.yaml',
        {},
      ),
    );
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, /^c\.yaml: registries\.quay\.io\.insecure: /);
    assert.match(lines[1]!, /^c\.yaml: registries\.quay\.io\.password: unknown reference "\$\{secretmanager:\.\.\.\}"/);
  });

  test('a missing version is said, and the rest is checked as version 1', () => {
    const lines = problemsOf(() => parseNativeConfig({ defaults: { retries: 99 }, rules: [{ source: 'quay.io/a/b', destination: 'r.io/M' }] }, 'c.yaml', {}));
    assert.deepEqual(lines.map((l) => l.split(': ')[1]), ['version', 'defaults.retries', 'rules[0].destination']);
  });

  test('an auth file: an unknown key in one entry, an unset variable in another', () => {
    const lines = problemsOf(() => parseAuthEntries({ 'a.io': { user: 'u' }, 'b.io': { username: 'u', password: '$NOPE' } }, 'auth.yaml', {}));
    assert.deepEqual(lines, ['auth.yaml: a.io: Unrecognized key: "user"', 'auth.yaml: b.io.password: environment variable NOPE is not set']);
  });

  test('a duplicate key is listed with the other problems, not instead of them', async () => {
    const file = writeFile(dir, 'dup.yaml', 'version: 1\ndefaults: { retries: -1 }\nrules:\n  - source: quay.io/a/b\n    destination: r.io/m\n    destination: r.io/n\n');
    const err = await loadConfig({ config: file }, {}).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems, [
      `${file}:6:5: duplicate key "destination" under rules[0] (first at line 5); each key may appear once, merge the two entries`,
      `${file}:2:22: defaults.retries: expected a whole number from 0 to 20`,
    ]);
  });
});

describe('the flags that go with a config', () => {
  const calls: string[] = [];
  const store: SecretStore = {
    secretString: async (id) => (calls.push(id), 'secret-value'),
    parameter: async (name) => (calls.push(name), 'param-value'),
  };
  const withSecret = () =>
    writeFile(dir, `s${calls.length}-${Math.random().toString(36).slice(2)}.yaml`, 'version: 1\nregistries:\n  quay.io: { username: u, password: "${secretsmanager:prod/quay}" }\nrules:\n  - { source: "quay.io/a/b:1", destination: r.io/m }\n');

  test('listed after the file\'s problems, in the same error', async () => {
    const file = writeFile(dir, 'bad.yaml', 'version: 1\nrules:\n  - { source: "quay.io/a/b:1", destination: r.io/M }\n');
    const err = await loadConfig({ config: file, platforms: ['linux/Amd64'], registry: 'r.io', problems: ['--proc must be a whole number from 1 to 256, got "0"'] }, {}).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems.length, 4, err.message);
    assert.match(err.problems[0]!, /bad\.yaml:3:45: rules\[0\]\.destination: .*lowercase/);
    assert.equal(err.problems[1], '--proc must be a whole number from 1 to 256, got "0"');
    assert.match(err.problems[2]!, /^--os\/--arch: "linux\/Amd64"/);
    assert.match(err.problems[3]!, /^--registry\/--namespace: .*bad\.yaml is a native config/);
  });

  test('alone, a usage error; no secret is fetched for a run that stops on its flags', async () => {
    calls.length = 0;
    const one = await loadConfig({ config: withSecret(), secretStore: store, problems: ['--timeout must be a whole number from 1 to 86400, got "0"'] }, {}).catch((e: unknown) => e);
    assert.ok(one instanceof UsageError);
    assert.equal(one.message, '--timeout must be a whole number from 1 to 86400, got "0"');
    const two = await loadConfig({ config: withSecret(), secretStore: store, platforms: ['x'], problems: ['--format must be docker or keep'] }, {}).catch((e: unknown) => e);
    assert.ok(two instanceof UsageError);
    assert.match(two.message, /^2 problems with the options:\n {2}- --format must be docker or keep\n {2}- --os\/--arch: "x"/);
    assert.deepEqual(calls, []);
    // The same config with good flags does fetch it.
    assert.equal((await loadConfig({ config: withSecret(), secretStore: store }, {})).resolve('quay.io', 'a/b').credentials?.password, 'secret-value');
    assert.deepEqual(calls, ['prod/quay']);
  });

  test('a file that cannot be read, and the flags', async () => {
    const err = await loadConfig({ config: `${dir}/none.yaml`, problems: ['--retries must be a whole number from 0 to 20, got "x"'] }, {}).catch((e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /^cannot read .*none\.yaml: no such file\n {2}- --retries must be/);
  });

  test('replay and work name themselves, and do not read an images file', async () => {
    await assert.rejects(loadConfig({ requireRules: false, command: 'work' }, {}), /^ConfigError: work needs the credentials: .*comes from the queue/);
    const images = writeFile(dir, 'empty-dest.yaml', '"quay.io/a/b:1": ""\n');
    const loaded = await loadConfig({ images, requireRules: false }, { DEFAULT_REGISTRY: '', DEFAULT_NAMESPACE: '' });
    assert.deepEqual(loaded.rules, []);
  });
});
