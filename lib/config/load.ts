// One entry point for the CLI: the native config (--config) or image-syncer's files (--images,
// optional --auth). Mixing them would leave two sources of truth for the same rule, so it is refused.
// `--config` also takes older image-syncer's combined file ({auth, images}); the same flag, so the
// two are told apart by content.
import { ConfigError } from '../errors.js';
import { loadAuthFile, resolverFromEntries } from './auth-file.js';
import { duplicateInCombined, loadCombinedConfig, loadImageSyncerConfig } from './image-syncer.js';
import { readStructuredFile } from './auth-file.js';
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
  /** false for replay: the work comes from the DLQ, so only credentials are needed (--config
   *  without rules, or --auth alone). */
  requireRules?: boolean;
  /** Where `${secretsmanager:}` / `${ssm:}` references are read; default: AWS, cached per process. */
  secretStore?: SecretStore;
}

export async function loadConfig(opts: LoadOptions, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  if (opts.config !== undefined && (opts.images !== undefined || opts.auth !== undefined)) {
    throw new ConfigError(
      `give either --config or --images (with optional --auth), not both: --config ${opts.config} already holds the rules and the credentials`,
    );
  }
  // SWRM_CONFIG names the config bundled with a Lambda function (issue 7 item 4); flags win over it.
  if (opts.config === undefined && opts.images === undefined && opts.auth === undefined && env.SWRM_CONFIG) {
    return loadConfig({ ...opts, config: env.SWRM_CONFIG }, env);
  }
  const empty = { ...(opts.registry ? { registry: opts.registry } : {}), ...(opts.namespace ? { namespace: opts.namespace } : {}) };
  if (opts.config !== undefined) {
    const combined = await combinedConfig(opts.config);
    if (combined) {
      return loadCombinedConfig(combined, opts.config, { ...empty, ...(opts.platforms ? { platforms: opts.platforms } : {}), requireRules: opts.requireRules ?? true }, env);
    }
    const native = { requireRules: opts.requireRules ?? true, ...(opts.secretStore ? { secretStore: opts.secretStore } : {}) };
    const loaded = await loadNativeConfig(opts.config, env, native);
    const bad = (opts.platforms ?? []).filter((pl) => !PLATFORM.test(pl));
    if (bad.length) throw new ConfigError('invalid --os/--arch', bad.map((pl) => `--os/--arch: "${pl}": ${PLATFORM_HINT}`));
    if (opts.platforms?.length) loaded.defaults = { ...loaded.defaults, platforms: [...new Set(opts.platforms)] };
    return loaded;
  }
  if (opts.images === undefined && opts.requireRules === false) {
    if (opts.auth === undefined) throw new ConfigError('replay needs the credentials: give --config FILE or --auth FILE (the work itself comes from the DLQ)');
    const entries = await loadAuthFile(opts.auth, env);
    const registries = entries.map((e) => ({ prefix: e.prefix, access: e.access }));
    return { source: opts.auth, defaults: { ...DEFAULTS }, registries, resolve: resolverFromEntries(entries), rules: [] };
  }
  if (opts.images === undefined) {
    throw new ConfigError(
      opts.auth !== undefined
        ? '--auth only gives credentials: add --images with the images to sync (or use --config)'
        : 'nothing to sync: give --config FILE (swr-migrate config) or --images FILE (image-syncer images, with optional --auth FILE)',
    );
  }
  return loadImageSyncerConfig(
    { imagesFile: opts.images, ...(opts.auth !== undefined ? { authFile: opts.auth } : {}), ...(opts.platforms ? { platforms: opts.platforms } : {}), ...empty },
    env,
  );
}

/**
 * image-syncer's combined config: a mapping with `auth` and/or `images` at the top and no `version`
 * (every native config has `version: 1`, and neither key is one of its own).
 */
async function combinedConfig(file: string): Promise<{ auth?: unknown; images?: unknown } | undefined> {
  const raw = await readStructuredFile(file, duplicateInCombined);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const keys = Object.keys(raw);
  if (keys.includes('version') || !(keys.includes('auth') || keys.includes('images'))) return undefined;
  return raw as { auth?: unknown; images?: unknown };
}
