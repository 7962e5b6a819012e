// esbuild plugins for the Lambda bundles (serverless.yml custom.esbuild.plugins) and the CLI's (scripts/build-cli.mjs).
//
// lib/registry/http/undici-agent.ts loads undici's Agent through `createRequire(import.meta.url)` to skip
// undici's index.js (~110 ms of start-up). esbuild only bundles calls to the free `require`: a
// `require` made by createRequire is opaque to it and would look for node_modules beside the
// bundle at run time, where there are none. So for the bundle that one binding is dropped; the
// calls then resolve statically (all their paths are literals) and esbuild wraps each undici CJS
// module, llhttp's base64 wasm module included. The build fails if the line is ever reworded,
// rather than shipping a bundle that breaks at cold start.
'use strict';
const { readFile } = require('node:fs/promises');

const CREATE_REQUIRE = /^const require = createRequire\(import\.meta\.url\);$/m;

const undiciAgentRequire = {
  name: 'swrm-undici-agent-require',
  setup(build) {
    // By file name only: when the file moved (lib/registry/ -> lib/registry/http/), a filter on its
    // directory stopped matching and the bundles kept the require() that fails without node_modules.
    build.onLoad({ filter: /[\\/]undici-agent\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!CREATE_REQUIRE.test(source)) {
        return { errors: [{ text: `${args.path}: expected "const require = createRequire(import.meta.url);" (see scripts/esbuild-plugins.cjs)` }] };
      }
      return { contents: source.replace(CREATE_REQUIRE, ''), loader: 'ts' };
    });
  },
};

// zod 4 re-exports every one of its ~50 locales (`z.locales`, `z.core.locales`), ~200 KB of the
// bundle that each start parses; only English is ever used (zod's classic schemas configure it from
// locales/en.js directly, which stays). The bundles get a `locales` namespace with `en` alone.
const zodEnglishOnly = {
  name: 'swrm-zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]zod[\\/]v4[\\/](?:classic|core)[\\/]/.test(args.importer)) return undefined;
      return { path: require('node:path').join(args.resolveDir, '../locales/en.js'), namespace: 'swrm-zod-locales' };
    });
    build.onLoad({ filter: /.*/, namespace: 'swrm-zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: require('node:path').dirname(args.path),
      loader: 'js',
    }));
  },
};

module.exports = [undiciAgentRequire, zodEnglishOnly];
