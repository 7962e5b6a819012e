// The config as `npm run package` reads it (issue 14, items 1 and 5): the functions load the bundled
// config with exactly this code at cold start (lib/lambda/handlers.ts), so a config they would refuse
// is refused while packaging, every problem listed (infra/derived.cjs checkedConfig), instead of being
// deployed to fail every scheduled run; and the ECR statements are derived from the same reading
// (lib/aws/package-grants.ts). Offline: secret references and `${env:}` cannot be resolved on the
// packaging machine (the functions resolve them with their own role and environment), so only their
// syntax is checked and they stand for placeholder values; SWR destination names are checked as the
// CLI's pre-flight checks them.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { checkSwrNames, ruleDestinations } from '../vendors/swr/preflight.js';
import { loadConfig } from './load.js';
import type { SecretStore } from './secret-store.js';
import type { LoadedConfig } from './types.js';

const PLACEHOLDER = 'packaging-placeholder';

/**
 * Every variable reads as set: `${env:NAME}` is the function's environment, not this machine's, so
 * only its syntax can be checked (secret-refs.ts still refuses `${env:}` or `${env:1X}`).
 */
const anyEnv: NodeJS.ProcessEnv = new Proxy({}, { get: (_t, name) => (typeof name === 'string' ? `<${name} at run time>` : undefined), has: () => true });

/**
 * A store that answers every reference with a placeholder: for `${secretsmanager:ID#key}`, a JSON
 * object holding every key the file asks of ID, so a valid reference to a JSON secret loads too.
 * The file's own syntax errors are the parser's to report.
 */
async function placeholderStore(file: string): Promise<SecretStore> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const keys = new Map<string, Record<string, string>>();
  for (const m of text.matchAll(/\$\{secretsmanager:([^}#]+)#([^}]+)\}/g)) keys.set(m[1]!, { ...keys.get(m[1]!), [m[2]!]: PLACEHOLDER });
  return {
    secretString: async (id) => (keys.has(id) ? JSON.stringify(keys.get(id)) : PLACEHOLDER),
    parameter: async () => PLACEHOLDER,
  };
}

/** The config at `file` as the functions would load it, credentials by placeholder (a ConfigError if they would refuse it). */
export async function loadForPackaging(file: string, configFlag = 'SWRM_CONFIG'): Promise<LoadedConfig> {
  return loadConfig({ config: file, configFlag, secretStore: await placeholderStore(file) }, anyEnv);
}

/** The config's problems as the functions would report them (summary first), or [] when it loads. */
export async function bundledConfigProblems(file: string): Promise<string[]> {
  try {
    const config = await loadForPackaging(file);
    checkSwrNames(ruleDestinations(config.rules), config.resolve);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [err.summary, ...err.problems];
    throw err;
  }
}
