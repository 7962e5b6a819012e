// What the pipeline commands load: --timeout lands in config.defaults.timeout (the registry pool
// reads it), and replay needs only credentials (a config without rules, or --auth alone).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInputs } from '../../lib/cli/pipeline-commands.js';
import { loadConfig } from '../../lib/config/load.js';
import { parseNativeConfig } from '../../lib/config/native.js';
import { ConfigError } from '../../lib/errors.js';

describe('pipeline inputs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'swrm-inputs-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const file = async (name: string, text: string) => {
    const f = join(dir, name);
    await writeFile(f, text);
    return f;
  };

  test('--timeout SECONDS sets defaults.timeout, over the config', async () => {
    const config = await file('t.yaml', 'version: 1\ndefaults: { timeout: 600 }\nrules:\n  - { source: "r.io/a:v1", destination: "d.io/m" }\n');
    assert.equal((await loadInputs({ config })).config.defaults.timeout, 600);
    assert.equal((await loadInputs({ config, timeout: '30' })).config.defaults.timeout, 30);
    await assert.rejects(loadInputs({ config, timeout: '1.5' }), /--timeout must be a whole number from 1 to 86400/);
  });

  test('replay: a native config without rules, or with stale ones, loads its registries', async () => {
    const raw = { version: 1, registries: { 'r.io': { username: 'u', password: 'p' } } };
    const cfg = parseNativeConfig(raw, 'c.yaml', {}, { requireRules: false });
    assert.deepEqual(cfg.rules, []);
    assert.equal(cfg.resolve('r.io', 'a').credentials?.username, 'u');
    assert.deepEqual(parseNativeConfig({ ...raw, rules: [{ source: 'Not A Ref' }] }, 'c.yaml', {}, { requireRules: false }).rules, []);
    assert.throws(() => parseNativeConfig(raw, 'c.yaml', {}), (e: unknown) => e instanceof ConfigError && /rules: expected a non-empty list/.test(e.message));
  });

  test('replay: --auth alone gives the credentials; nothing at all is a config error', async () => {
    const auth = await file('auth.yaml', 'r.io: { username: u, password: p }\n127.0.0.1:5000: { insecure: true }\n');
    const cfg = await loadConfig({ auth, requireRules: false }, {});
    assert.deepEqual(cfg.rules, []);
    assert.equal(cfg.resolve('r.io', 'x/y').credentials?.password, 'p');
    assert.equal(cfg.resolve('127.0.0.1:5000', 'x').insecure, true);
    await assert.rejects(loadConfig({ requireRules: false }, {}), /replay needs the credentials/);
    await assert.rejects(loadConfig({ auth }, {}), /--auth only gives credentials/);
  });
});
