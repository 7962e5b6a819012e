// Values serverless.yml derives from its parameters (osls `${file(./infra/derived.cjs):name}`),
// because CloudFormation has no arithmetic. Resolved offline, while packaging.
'use strict';
const { existsSync, statSync } = require('node:fs');
const Module = require('node:module');
const { dirname, isAbsolute, join, relative, resolve, sep } = require('node:path');

const DEFAULT_COPIER_TIMEOUT = 900;
// The project directory (serverless.yml's), whatever the working directory.
const SERVICE_DIR = resolve(__dirname, '..');

// osls prints a rejection's stack; a refusal is one line with its stable code, naming the parameter,
// then the problems it lists, one per line (as the CLI lists a config's problems).
function refuse(message, problems = []) {
  const err = new Error(`${message} [SWRM_CONFIG]${problems.map((p) => `\n  - ${p}`).join('')}`);
  err.stack = err.message;
  throw err;
}

async function copierTimeout({ resolveVariable }) {
  const raw = await resolveVariable(`param:copierTimeout, '${DEFAULT_COPIER_TIMEOUT}'`);
  const s = Number(raw);
  // Lambda's limit is 900 s (15 minutes).
  if (!Number.isInteger(s) || s < 30 || s > 900) refuse(`param copierTimeout must be whole seconds from 30 to 900, not "${raw}"`);
  return s;
}

// The config file bundled beside each handler (issue 7, item 4). serverless-esbuild copies
// package.patterns paths as they are, relative to this directory, so the file must lie inside it;
// Lambda runs with the task root (the zip's root) as its working directory, so the same relative
// path is SWRM_CONFIG. A missing file fails the packaging here instead of the copier's cold start.
async function config({ resolveVariable }) {
  return (await bundledConfig(resolveVariable)).rel;
}

// The same path, once the config is known to load as the functions load it (issue 14, item 5): a
// config they would refuse fails the packaging, before anything is bundled, with every problem
// listed. SWRM_CONFIG uses this one, package.patterns the plain path: the problems are listed once.
async function checkedConfig({ resolveVariable }) {
  const { raw, rel, path } = await bundledConfig(resolveVariable);
  const problems = await configProblems(path);
  if (problems.length) {
    const [summary, ...lines] = problems;
    refuse(`param config ${raw}: the functions would refuse it at cold start: ${summary}`, lines);
  }
  return rel;
}

async function bundledConfig(resolveVariable) {
  const raw = String(await resolveVariable("param:config, 'config.yaml'"));
  const root = SERVICE_DIR;
  const path = resolve(root, raw);
  const rel = relative(root, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    refuse(`param config ${raw} lies outside ${root}: copy it into the project directory (it is bundled as is)`);
  }
  if (!existsSync(path) || !statSync(path).isFile()) {
    refuse(`param config ${raw}: no such file (give --param="config=./sync.yaml")`);
  }
  return { raw, rel: rel.split(sep).join('/'), path };
}

// The config check of lib/config/package-check.ts, which loads the config exactly as the handlers do
// (strict schema, every problem listed; secret references checked for syntax only). Bundled here from
// the same TypeScript sources serverless-esbuild bundles the handlers from, so a stale dist/ can never
// disagree with them, and evaluated in memory: no file is written. Packages stay in node_modules.
async function configProblems(path) {
  const { build } = require('esbuild');
  const entry = join(SERVICE_DIR, 'lib', 'config', 'package-check.ts');
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    // lib/ is ESM: createRequire(import.meta.url) needs a file URL, which CommonJS has as __filename.
    banner: { js: "const __swrmImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__swrmImportMetaUrl' },
  });
  const filename = entry.replace(/\.ts$/, '.bundle.cjs');
  const mod = new Module(filename, module);
  mod.filename = filename;
  mod.paths = Module._nodeModulePaths(dirname(filename));
  mod._compile(out.outputFiles[0].text, filename);
  // Named as the user gave it (relative to where osls runs), as the CLI names --config.
  const shown = relative(process.cwd(), path) || path;
  return mod.exports.bundledConfigProblems(shown.startsWith('..') ? path : shown);
}

// Parameters arrive as strings from --param; raw CloudFormation properties (RedrivePolicy, the
// alarm) would keep them as strings, so the numeric ones are checked and converted here.
function intParam(name, fallback, min, max, why) {
  return async ({ resolveVariable }) => {
    const raw = await resolveVariable(`param:${name}, '${fallback}'`);
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) refuse(`param ${name} must be a whole number from ${min} to ${max} (${why}), not "${raw}"`);
    return n;
  };
}

module.exports = {
  config,
  checkedConfig,
  maxReceiveCount: intParam('maxReceiveCount', 10, 1, 1000, 'SQS RedrivePolicy'),
  maximumConcurrency: intParam('maximumConcurrency', 5, 2, 1000, 'SQS event source ScalingConfig'),
  dlqAlarmThreshold: intParam('dlqAlarmThreshold', 1, 1, 1000000, 'messages in the DLQ'),
  copierTimeout,
  // AWS (Lambda with SQS): a queue's visibility timeout should be at least 6x the function's
  // timeout, or a batch still being retried by Lambda becomes visible to another copier.
  queueVisibilityTimeout: async (ctx) => 6 * (await copierTimeout(ctx)),
};
