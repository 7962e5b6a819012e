// The roles' Amazon ECR statements, derived from the bundled config while packaging (issue 14):
// for its ECR sources, pulls on exactly their repositories (a namespace rule: its prefix and `*`),
// tag listing and push times where rules list them, DescribeRepositories on the registry for
// namespace rules, and ecr:GetAuthorizationToken on "*" (the only resource IAM accepts for it).
// serverless.yml merges `resources` into the template and makes the planner and copier depend on
// their policy. ECR sources in another region or account get a note naming what to grant there.
// With `notify` in the config the copier also gets its notify policy (lib/aws/package-grants.ts
// notifyPolicy: Query on the state table, sns:Publish on exactly the topic), and with a rule's
// `prune` its prune policy (prunePolicy: Query on the state table), merged the same way. The ECR
// push event rule and its queue policy (lib/vendors/ecr/event-rule.ts) come with `resources` too.
//
// The config is read by lib/config itself: lib/aws/package-grants.ts is bundled here with esbuild
// (a dev dependency already, for the functions) and run in memory, so nothing is left on disk.
'use strict';
const Module = require('node:module');
const { join, resolve } = require('node:path');
const derived = require('./derived.cjs');

const SERVICE_DIR = resolve(__dirname, '..');
const ENTRY = join(SERVICE_DIR, 'lib', 'aws', 'package-grants.ts');

function loadEntry() {
  const { buildSync } = require('esbuild');
  const out = buildSync({
    entryPoints: [ENTRY], bundle: true, platform: 'node', format: 'cjs', target: 'node20', packages: 'external', write: false, logLevel: 'silent',
    // lib/ is ESM: createRequire(import.meta.url) (the SWR checks' undici agent) needs a file URL.
    banner: { js: "const __swrmImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__swrmImportMetaUrl' },
  });
  // Compiled as a module of the project directory, so `zod`, `yaml` ... resolve from its node_modules.
  const file = join(SERVICE_DIR, 'lib', 'aws', 'package-grants.bundle.cjs');
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(SERVICE_DIR);
  m._compile(out.outputFiles[0].text, file);
  return m.exports;
}

// osls resolves each `${file(...):name}` separately: the config is read once per packaging (per
// inputs), and the entry bundled once per process.
let entry;
const results = new Map();
async function grants(ctx) {
  const config = await derived.config(ctx);
  const region = String(await ctx.resolveVariable('self:provider.region'));
  const stage = String(await ctx.resolveVariable('sls:stage'));
  const service = String(await ctx.resolveVariable('self:service'));
  const accountId = String(await ctx.resolveVariable("param:accountId, ''")).trim();
  if (accountId && !/^\d{12}$/.test(accountId)) refuse(`param accountId must be a 12-digit AWS account id, not "${accountId}"`);
  const key = JSON.stringify([config, region, stage, service, accountId]);
  let pending = results.get(key);
  if (!pending) {
    pending = (async () => {
      entry ??= loadEntry();
      let result;
      try {
        result = await entry.packageGrants(join(SERVICE_DIR, config), { service, stage, region, ...(accountId ? { accountId } : {}) });
      } catch (err) {
        // A config the functions would refuse at cold start: derived.cjs checkedConfig (SWRM_CONFIG)
        // refuses the packaging and lists its problems, once. Repeating them here would print them
        // again for each of the three variables that read this file.
        if (err && err.code === 'SWRM_CONFIG') return { resources: {}, dependsOn: { planner: [], copier: [] }, notes: [] };
        refuse(`param config ${config}: ${err && err.message ? err.message : String(err)}`);
      }
      for (const note of result.notes) process.stderr.write(`swr-migrate: ${note}\n`);
      return result;
    })();
    results.set(key, pending);
  }
  return pending;
}

// osls prints a rejection's stack; a refusal is its message and stable code (as derived.cjs does).
function refuse(message) {
  const err = new Error(`${message} [SWRM_CONFIG]`);
  err.stack = err.message;
  throw err;
}

module.exports = {
  resources: async (ctx) => ({ Resources: (await grants(ctx)).resources }),
  plannerDependsOn: async (ctx) => (await grants(ctx)).dependsOn.planner,
  copierDependsOn: async (ctx) => (await grants(ctx)).dependsOn.copier,
};
