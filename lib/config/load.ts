// One entry point for the CLI: the native config (--config) or image-syncer's files (--images,
// optional --auth). Mixing them would leave two sources of truth for the same rule, so it is refused.
// `--config` also takes older image-syncer's combined file ({auth, images}); the same flag, so the
// two are told apart by content.
// Everything wrong with a run's inputs comes in one error (issue 13): the files' problems and those
// of the flags that combine with them (the CLI's own checks arrive as `problems`).
import { ConfigError, type CredentialSource, UsageError } from '../errors.js';
import type { AccessResolver, RegistryAccess } from '../registry/pool.js';
import { loadAuthFile, resolverFromEntries } from './auth-file.js';
import { type ConfigText, readConfigFile } from './config-file.js';
import { duplicateInCombined, loadCombinedConfig, loadImageSyncerConfig } from './image-syncer.js';
import { loadNativeConfig } from './native.js';
import { PLATFORM, PLATFORM_HINT } from './rule-parts.js';
import type { SecretStore } from './secret-store.js';
import { DEFAULTS, type LoadedConfig } from './types.js';

export interface LoadOptions {
  config?: string;
  auth?: string;
  images?: string;
  /** From --os/--arch; overrides the native config's defaults.platforms. */
  platforms?: string[];
  /** --registry / --namespace: where image-syncer's empty destinations go. */
  registry?: string;
  namespace?: string;
  /** false for replay and work: the work comes from the DLQ or the queue, so only credentials are
   *  needed (--config without rules, or --auth alone; an --images file is not read). */
  requireRules?: boolean;
  /** Where `${secretsmanager:}` / `${ssm:}` references are read; default: AWS, cached per process. */
  secretStore?: SecretStore;
  /** How the config file was named, for messages: `--config` (default) or `SWRM_CONFIG`. */
  configFlag?: string;
  /** The command, for messages (`replay needs the credentials`); default `sync`. */
  command?: string;
  /** Problems the CLI found in its own flags: listed with the files' problems in one error, or
   *  alone (a usage error) when the files are fine. Either way nothing is fetched first. */
  problems?: string[];
}

/** Flag problems alone: one usage error listing them. */
export function flagError(problems: string[]): UsageError {
  return new UsageError(problems.length === 1 ? problems[0]! : `${problems.length} problems with the options:\n  - ${problems.join('\n  - ')}`);
}

export async function loadConfig(opts: LoadOptions, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  // Loaders add the problems of the flags they check (--os/--arch against a native config) here.
  const extra = [...(opts.problems ?? [])];
  let loaded: LoadedConfig;
  try {
    loaded = await loadInputs(opts, env, extra);
  } catch (err) {
    if (err instanceof ConfigError && extra.length) throw new ConfigError(err.summary, [...err.problems, ...extra]);
    throw err;
  }
  if (extra.length) throw flagError(extra);
  return loaded;
}

async function loadInputs(opts: LoadOptions, env: NodeJS.ProcessEnv, extra: string[]): Promise<LoadedConfig> {
  const command = opts.command ?? (opts.requireRules === false ? 'replay' : 'sync');
  if (opts.config !== undefined && (opts.images !== undefined || opts.auth !== undefined)) {
    throw new ConfigError(
      `give either --config or --images (with optional --auth), not both: --config ${opts.config} already holds the rules and the credentials`,
    );
  }
  // SWRM_CONFIG names the config bundled with a Lambda function (issue 7 item 4); flags win over it.
  if (opts.config === undefined && opts.images === undefined && opts.auth === undefined && env.SWRM_CONFIG) {
    return loadInputs({ ...opts, config: env.SWRM_CONFIG, configFlag: 'SWRM_CONFIG' }, env, extra);
  }
  const empty = { ...(opts.registry ? { registry: opts.registry } : {}), ...(opts.namespace ? { namespace: opts.namespace } : {}) };
  if (opts.config !== undefined) {
    const file = opts.config;
    const flag = opts.configFlag ?? '--config';
    const text = await readConfigFile(file, duplicateInCombined);
    if (isCombined(text.value)) {
      const combined = loadCombinedConfig(text, file, { ...empty, ...(opts.platforms ? { platforms: opts.platforms } : {}), requireRules: opts.requireRules ?? true }, env);
      return withCredentialSources(combined, { file, flag });
    }
    // The flags checked against a native config come in the same error as its own problems.
    for (const pl of opts.platforms ?? []) if (!PLATFORM.test(pl)) extra.push(`--os/--arch: "${pl}": ${PLATFORM_HINT}`);
    if (opts.registry || opts.namespace) {
      extra.push(`--registry/--namespace: they name where the empty ("") destinations of an image-syncer images file go; ${file} is a native config, whose rules name their destinations`);
    }
    const native = {
      requireRules: opts.requireRules ?? true,
      ...(opts.secretStore ? { secretStore: opts.secretStore } : {}),
      // A run that stops on its flags fetches no secret first.
      fetchSecrets: extra.length === 0,
    };
    const loaded = await loadNativeConfig(file, env, native, text);
    if (opts.platforms?.length) loaded.defaults = { ...loaded.defaults, platforms: [...new Set(opts.platforms)] };
    return withCredentialSources(loaded, { file, flag });
  }
  if (opts.images === undefined && opts.requireRules === false) {
    if (opts.auth === undefined) throw new ConfigError(`${command} needs the credentials: give --config FILE or --auth FILE (the work itself comes from the ${command === 'work' ? 'queue' : 'DLQ'})`);
    const entries = await loadAuthFile(opts.auth, env);
    const registries = entries.map((e) => ({ prefix: e.prefix, access: e.access }));
    const loaded = { source: opts.auth, defaults: { ...DEFAULTS }, registries, resolve: resolverFromEntries(entries), rules: [] };
    return withCredentialSources(loaded, { file: opts.auth, flag: '--auth' });
  }
  if (opts.images === undefined) {
    throw new ConfigError(
      opts.auth !== undefined
        ? `--auth only gives credentials: add --images with the images to ${command} (or use --config)`
        : `nothing to ${command}: give --config FILE (swr-migrate config) or --images FILE (image-syncer images, with optional --auth FILE)`,
    );
  }
  const loaded = await loadImageSyncerConfig(
    {
      imagesFile: opts.images,
      ...(opts.auth !== undefined ? { authFile: opts.auth } : {}),
      ...(opts.platforms ? { platforms: opts.platforms } : {}),
      ...(opts.requireRules === false ? { requireRules: false } : {}),
      ...empty,
    },
    env,
  );
  return withCredentialSources(loaded, opts.auth !== undefined ? { file: opts.auth, flag: '--auth' } : { flag: '--auth FILE' });
}

/**
 * image-syncer's combined config: a mapping with `auth` and/or `images` at the top and no `version`
 * (every native config has `version: 1`, and neither key is one of its own).
 */
function isCombined(raw: ConfigText['value']): boolean {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
  const keys = Object.keys(raw);
  return !keys.includes('version') && (keys.includes('auth') || keys.includes('images'));
}

function withCredentialSources(config: LoadedConfig, given: { file?: string; flag: string }): LoadedConfig {
  config.resolve = sourcedResolver(config.registries, config.resolve, given);
  return config;
}

/**
 * Every registry's access says where its credentials were given (the file and the flag); an entry
 * without credentials, or a registry with no entry, says the file has none for it. An
 * authentication failure then names them (lib/errors.ts credentialHint). An entry that names its
 * own source (dockerConfig) keeps it.
 */
export function sourcedResolver(registries: { prefix: string; access: RegistryAccess }[], resolve: AccessResolver, given: { file?: string; flag: string }): AccessResolver {
  const none: CredentialSource = given.file !== undefined ? { file: given.file, flag: given.flag } : { flag: given.flag };
  for (const r of registries) {
    const has = r.access.credentials !== undefined || r.access.credentialsProvider !== undefined;
    r.access.credentialsFrom ??= has && given.file !== undefined ? { file: given.file, flag: given.flag, entry: r.prefix } : none;
  }
  return (registry, repository) => {
    const access = resolve(registry, repository);
    return access.credentialsFrom ? access : { ...access, credentialsFrom: none };
  };
}
