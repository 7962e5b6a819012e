// infra/derived.cjs `checkedConfig` (issue 14, item 5): the config `npm run package` bundles is loaded
// as the functions load it at cold start (lib/config/package-check.ts, bundled from the sources by
// esbuild inside osls's process), without AWS: references are checked for syntax only, and SWR
// destination names as the pre-flight checks them. Called here as osls calls it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
type Resolver = (ctx: { resolveVariable: (v: string) => Promise<unknown> }) => Promise<unknown>;
const derived = createRequire(import.meta.url)(resolve(root, 'infra/derived.cjs')) as Record<string, Resolver>;
const dir = join(root, 'dist', `package-config-check-${process.pid}`);
const rel = (name: string) => `dist/package-config-check-${process.pid}/${name}`;

const withConfig = (name: string) => ({
  resolveVariable: async (v: string) => {
    assert.match(v, /^param:config, /);
    return `./${rel(name)}`;
  },
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as Error;
    assert.equal(e.stack, e.message, 'no stack trace');
    return e.message;
  }
  assert.fail('expected a refusal');
}

before(() => {
  mkdirSync(dir, { recursive: true });
  const file = (name: string, text: string) => writeFileSync(join(dir, name), text);
  file(
    'refs.yaml',
    `version: 1
registries:
  "src.example": { username: "\${env:SWRM_NOT_SET_WHILE_PACKAGING}", password: "\${secretsmanager:swr-migrate/src#password}" }
  "swr.cn-north-4.myhuaweicloud.com": { accessKey: "\${ssm:/swr-migrate/ak}", secretKey: "\${secretsmanager:swr-migrate/sk}" }
rules:
  - source: src.example/app:v1
    destination: swr.cn-north-4.myhuaweicloud.com/team
`,
  );
  file('env-syntax.yaml', `version: 1\nregistries:\n  "src.example": { username: "\${env:1BAD}", password: x }\nrules:\n  - source: src.example/app:v1\n    destination: dst.example/m\n`);
  file('swr-names.yaml', `version: 1\nregistries:\n  "swr.cn-north-4.myhuaweicloud.com": { username: "\${ssm:/swr-migrate/u}", password: "\${ssm:/swr-migrate/p}" }\nrules:\n  - source: src.example/app:v1\n    destination: swr.cn-north-4.myhuaweicloud.com/9team\n`);
  // image-syncer's combined file is what SWRM_CONFIG may name too: the same loader takes it.
  file('combined.json', JSON.stringify({ auth: { 'src.example': { insecure: true } }, images: { 'src.example/app:v1': 'dst.example/m/app' } }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('references the packaging machine cannot resolve are checked for syntax only: the config passes', async () => {
  assert.equal(await derived.checkedConfig!(withConfig('refs.yaml')), rel('refs.yaml'));
});

test('a malformed ${env:} reference is refused at its line, with SWRM_CONFIG ending the first line', async () => {
  const message = await refusal(derived.checkedConfig!(withConfig('env-syntax.yaml')));
  const [first, ...lines] = message.split('\n');
  assert.match(first!, /^param config \.\/\S+env-syntax\.yaml: the functions would refuse it at cold start: invalid config file \S+ \[SWRM_CONFIG\]$/);
  assert.equal(lines.length, 1, message);
  assert.match(lines[0]!, /^ {2}- \S+env-syntax\.yaml:3:\d+: registries\.src\.example\.username: "\$\{env:1BAD\}": expected \$\{env:VAR\}/);
});

test('SWR destination names the pre-flight would refuse fail the packaging too', async () => {
  const message = await refusal(derived.checkedConfig!(withConfig('swr-names.yaml')));
  assert.match(message, /1 SWR destination name\(s\) break SWR's naming rules; rename them in the config \[SWRM_CONFIG\]/);
  assert.match(message, /9team\/app: SWR name "9team": an organization name starts with a lowercase letter/);
});

test('an image-syncer combined file loads as the functions would load it', async () => {
  assert.equal(await derived.checkedConfig!(withConfig('combined.json')), rel('combined.json'));
});
