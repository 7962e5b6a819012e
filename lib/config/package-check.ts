// The config check `npm run package` runs before bundling (issue 14, item 5; infra/derived.cjs): the
// functions load the bundled config with exactly this code at cold start (lib/lambda/handlers.ts),
// so a config they would refuse is refused here, every problem listed, instead of being deployed to
// fail every scheduled run. Offline: secret references and `${env:}` cannot be resolved on the
// packaging machine (the functions resolve them with their own role and environment), so only their
// syntax is checked; SWR destination names are checked as the CLI's pre-flight checks them.
import { ConfigError } from '../errors.js';
import { checkSwrNames, ruleDestinations } from '../swr/preflight.js';
import { loadConfig } from './load.js';

/**
 * Every variable reads as set: `${env:NAME}` is the function's environment, not this machine's, so
 * only its syntax can be checked (secret-refs.ts still refuses `${env:}` or `${env:1X}`).
 */
const anyEnv: NodeJS.ProcessEnv = new Proxy({}, { get: (_t, name) => (typeof name === 'string' ? `<${name} at run time>` : undefined), has: () => true });

/** The config's problems as the functions would report them (summary first), or [] when it loads. */
export async function bundledConfigProblems(file: string): Promise<string[]> {
  try {
    const config = await loadConfig({ config: file, configFlag: 'SWRM_CONFIG', fetchSecrets: false }, anyEnv);
    checkSwrNames(ruleDestinations(config.rules), config.resolve);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [err.summary, ...err.problems];
    throw err;
  }
}
