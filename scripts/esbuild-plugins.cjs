// esbuild plugins for the Lambda bundles (serverless.yml custom.esbuild.plugins).
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
    build.onLoad({ filter: /[\\/]undici-agent\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!CREATE_REQUIRE.test(source)) {
        return { errors: [{ text: `${args.path}: expected "const require = createRequire(import.meta.url);" (see scripts/esbuild-plugins.cjs)` }] };
      }
      return { contents: source.replace(CREATE_REQUIRE, ''), loader: 'ts' };
    });
  },
};

module.exports = [undiciAgentRequire];
