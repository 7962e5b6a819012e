// Issue 9 items 1, 3, 4 on a real distribution registry (its `_catalog`): a whole-registry rule
// plans and copies every repository; a namespace rule with repository and tag filters selects
// exactly, and `plan --explain` says why.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { listTags, pushImage, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';

describe('namespace and registry rules', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  const images: [string, string][] = [
    ['team/api', 'v1.0.0'],
    ['team/api', 'v1.2.0'],
    ['team/api', 'v1.3.1'],
    ['team/api', 'v2.0.0'],
    ['team/api', 'v1.4.0-rc1'],
    ['team/web', '1.2.5'],
    ['team/old-web', '1.2.5'],
    ['tools/deep/cli', 'latest'],
  ];
  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    dir = tempDir();
    for (const [repo, tag] of images) await pushImage(src, repo, tag, { format: 'oci', layers: [randomLayer(2_000)] });
  });
  after(stopAll);

  const config = (name: string, rule: string) =>
    writeFile(dir, `${name}.yaml`, `version: 1
defaults: { concurrency: 2, retries: 0 }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
${rule}`);

  test('HOST/** plans and copies every repository of the registry, paths kept', async () => {
    const file = config('all', `  - source: ${src.host}/**\n    destination: ${dst.host}/all\n`);
    const r = await runCli(['sync', '--config', file, '--dlq', `${dir}/all-dlq.jsonl`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /8 image\(s\): 8 copied/);
    assert.deepEqual((await listTags(dst, 'all/team/api')).sort(), ['v1.0.0', 'v1.2.0', 'v1.3.1', 'v1.4.0-rc1', 'v2.0.0']);
    assert.deepEqual(await listTags(dst, 'all/tools/deep/cli'), ['latest']);
    assert.deepEqual(await listTags(dst, 'all/team/old-web'), ['1.2.5']);
  });

  test('a namespace rule with repository globs and tag filters selects exactly; plan --explain shows why', async () => {
    const file = config(
      'team',
      `  - source: ${src.host}/team/*
    destination: ${dst.host}/org
    stripLevels: 1
    repositories: { exclude: ["team/old-*"] }
    tags: { include: ["^v?1"], semver: ">=1.2 <2", latest: 1 }
`,
    );
    const plan = await runCli(['plan', '--config', file, '--explain']);
    assert.equal(plan.code, 0, plan.stderr);
    const lines = plan.stdout.split('\n');
    assert.deepEqual(lines.filter((l) => l.includes(' -> ')).sort(), [
      `${src.host}/team/api:v1.3.1 -> ${dst.host}/org/api:v1.3.1`,
      `${src.host}/team/web:1.2.5 -> ${dst.host}/org/web:1.2.5`,
    ]);
    assert.match(plan.stdout, /repositories: 3 listed, 2 kept: team\/api, team\/web/);
    assert.match(plan.stdout, /team\/old-web \(repositories\.exclude "team\/old-\*"\)/);
    assert.match(plan.stdout, /include \/\^v\?1\/: dropped 1: v2\.0\.0/);
    assert.match(plan.stdout, /semver >=1\.2 <2: dropped 2: v1\.0\.0, v1\.4\.0-rc1/);
    assert.match(plan.stdout, /latest 1: dropped 1: v1\.2\.0/);

    const r = await runCli(['sync', '--config', file, '--dlq', `${dir}/team-dlq.jsonl`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await listTags(dst, 'org/api'), ['v1.3.1']);
    assert.deepEqual(await listTags(dst, 'org/web'), ['1.2.5']);
  });

  test('a glob matching nothing warns naming the rule and host, and exits 0', async () => {
    const file = config('none', `  - source: ${src.host}/nobody/**\n    destination: ${dst.host}/none\n`);
    const r = await runCli(['plan', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`warning: .*none\\.yaml: rules\\[0\\]: ${src.host.replace(/\./g, '\\.')}/nobody/\\*\\* matches no repository on ${src.host.replace(/\./g, '\\.')}`));
    assert.match(r.stdout, /plan: 0 image\(s\)/);
  });
});

describe('plan checks the SWR names a namespace rule maps to', () => {
  test('a listed repository whose name SWR refuses fails the plan (exit 2), naming it', async () => {
    const [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    // `__` is a valid separator for distribution, but SWR allows no two separators in a row.
    await pushImage(src, 'odd/a__b', 'v1', { format: 'docker', layers: [randomLayer(500)] });
    const dir = tempDir();
    const file = writeFile(dir, 'swr.yaml', `version: 1
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { type: swr, insecure: true }
rules:
  - source: ${src.host}/odd/*
    destination: ${dst.host}/mirror
`);
    const r = await runCli(['plan', '--config', file]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /a__b/);
    assert.match(r.stderr, /SWRM_SWR_NAME|no two separators/);
  });
});
