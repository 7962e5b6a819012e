// swr-migrate's own config file (YAML or JSON), versioned and strict: an unknown key is a typo
// until proven otherwise, and a typo silently ignored is an image silently not copied. Every part
// is validated on its own so one run lists every problem, each as `FILE: path: what was expected`.
import { posix } from 'node:path';
import { z } from 'zod';
import { parseRepositoryReference, type ImageReference } from '../oci/reference.js';
import type { RegistryAccess } from '../registry/pool.js';
import { normalisePrefix, resolverFromEntries } from './auth-file.js';
import { type ConfigText, readConfigFile } from './config-file.js';
import { dockerConfigCredentials, dockerConfigPath, type DockerConfigCache } from './docker-config.js';
import { literalOf, parseCredential } from './secret-refs.js';
import { resolveSecretSlots, type SecretSlot } from './secret-resolve.js';
import type { SecretStore } from './secret-store.js';
import { compileRegex, PLATFORM, PLATFORM_HINT, Problems, reason, TAG } from './rule-parts.js';
import type { Locate } from './source-text.js';
import { DEFAULTS, type LoadedConfig, type DestinationMapping, type RegistrySettings, type RuleDestination, type SyncRule, type TagFilter } from './types.js';
import type { Format } from '../copy/transforms.js';
import { TEMPLATE_FIELDS, mapRepository, unknownTemplateFields } from '../plan/mapping.js';
import { exactDepth, globNamespace, globProblem, isGlob } from '../plan/namespaces.js';
import { validRange } from '../plan/tags.js';
import { attachSwrKeys, swrAccessOf, swrFields } from '../vendors/swr/config.js';
import type { ListingSettings, ListingType } from '../listing/settings.js';
import { parseServiceSettings } from './service-settings.js';
import { globProblem as tagGlobProblem } from './tag-globs.js';

export const SUPPORTED_VERSIONS = [1] as const;

// distribution's path-component grammar (reference/regexp.go), as in oci/reference.ts.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPO_PATH = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const count = (min: number, max: number) => {
  const error = `expected a whole number from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
};

// Sections are `unknown` here and validated one by one below, so a bad rule does not hide a bad registry.
const topSchema = z.strictObject({
  version: z.unknown(),
  defaults: z.unknown().optional(),
  registries: z.unknown().optional(),
  rules: z.unknown().optional(),
  events: z.unknown().optional(),
  notify: z.unknown().optional(),
  schedule: z.unknown().optional(),
});

const FORMAT_HINT = 'expected docker (convert OCI media types to Docker\'s) or keep (push as is); unset, SWR Basic destinations convert';

const DURATION_HINT = 'expected a duration such as 30m, 24h or 7d, or 0 (check every tag on every run)';

const defaultsSchema = z.strictObject({
  concurrency: count(1, 256).optional(),
  retries: count(0, 20).optional(),
  platforms: z.array(z.string().regex(PLATFORM, PLATFORM_HINT)).min(1).optional(),
  /** Seconds a request may take in all (connect, headers and body), not only between two bytes. */
  timeout: count(1, 86_400).optional(),
  /** Connections at most per registry origin; 2 at least: a transfer within one registry holds two. */
  connections: count(2, 1024).optional(),
  /** Scheduled planner (Lambda): plan even while the previous run's messages are still queued. */
  overlap: z.boolean().optional(),
  format: z.enum(['docker', 'keep'], { error: FORMAT_HINT }).optional(),
  /**
   * How long a record of a pushed tag stands for a destination HEAD (copy/destination-state.ts):
   * `30m`, `24h`, `7d`; `0`: HEAD every tag on every run.
   */
  fullCheckEvery: z
    .union([z.literal(0), z.string().regex(/^(0|[1-9][0-9]{0,5}[smhd])$/, { error: DURATION_HINT })], { error: DURATION_HINT })
    .transform(durationMs)
    .optional(),
});

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };
function durationMs(v: 0 | string): number {
  if (v === 0 || v === '0') return 0;
  return Number(v.slice(0, -1)) * UNIT_MS[v.slice(-1)]!;
}

const BANDWIDTH_HINT = 'expected bytes per second, a whole number from 1024 to 100000000000 (e.g. 10485760 for 10 MiB/s)';

const registrySchema = z.strictObject({
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  dockerConfig: z.union([z.boolean(), z.string().min(1)], { error: 'expected true or the path of a docker config.json' }).optional(),
  insecure: z.boolean().optional(),
  concurrency: count(1, 256).optional(),
  connections: count(2, 1024).optional(),
  /** Blob bytes per second from and to this registry, each way (Harbor's per-policy speed limit). */
  maxBytesPerSecond: z.int({ error: BANDWIDTH_HINT }).min(1024, { error: BANDWIDTH_HINT }).max(1e11, { error: BANDWIDTH_HINT }).optional(),
  caFile: z.string().min(1).optional(),
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
  tokenRealms: z.array(z.string().min(1)).optional(),
  allowLinkLocal: z.boolean().optional(),
  /** The listing API's URL (lib/listing): Docker Hub's is hub.docker.com; stand-ins, private deployments. */
  apiEndpoint: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as https://hub.docker.com' }).optional(),
  /** Quay OAuth token, or a Docker Hub PAT that differs from the password; `${env:}` / secret references. */
  apiToken: z.string().min(1).optional(),
  ...swrFields, // type, edition, accessKey, secretKey, project, managementEndpoint, pushConcurrency, pushRate
});

const PRUNE_HINT = 'expected true, or { max: N, protect: [tag globs] }';
const pruneSchema = z.strictObject({
  max: z.int({ error: 'expected a whole number of tags a run may delete, 1 to 10000' }).min(1, { error: 'expected a whole number of tags a run may delete, 1 to 10000' }).max(10_000, { error: 'expected a whole number of tags a run may delete, 1 to 10000' }).optional(),
  protect: z.array(z.string().min(1)).min(1).optional(),
});
/** Tags a run may delete under one rule when `prune: true` says no `max` (REFERENCE.md section 10). */
export const DEFAULT_PRUNE_MAX = 10;

const ruleSchema = z.strictObject({
  source: z.string().min(1),
  destination: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
    error: 'expected registry/namespace or a non-empty list of them',
  }),
  tags: z.unknown().optional(),
  name: z.string().min(1).optional(),
  mapping: z.enum(['basename', 'path'], { error: 'expected basename (the last path component) or path (the whole source path)' }).optional(),
  /** Destination repository below each destination, e.g. `{namespace}-{name}` (lib/plan/mapping.ts). */
  template: z.string().min(1).optional(),
  /** Drop the first N levels of the source path at the destination (Harbor's dest_namespace_replace_count). */
  stripLevels: z.int({ error: 'expected a whole number of path levels to drop, 1 or more' }).min(1, { error: 'expected a whole number of path levels to drop, 1 or more' }).optional(),
  /** Path put before every destination repository, e.g. `mirror/hub`. */
  prefix: z.string().min(1).optional(),
  /** Glob sources only: repository globs over the whole path (picomatch). */
  repositories: z.strictObject({ include: z.array(z.string().min(1)).min(1).optional(), exclude: z.array(z.string().min(1)).min(1).optional() }).optional(),
  format: z.enum(['docker', 'keep'], { error: FORMAT_HINT }).optional(),
  /** Delete destination tags this tool pushed that the source no longer has (plan/prune.ts). */
  prune: z.union([z.boolean(), pruneSchema], { error: PRUNE_HINT }).optional(),
  /** false: a destination tag holding another digest is left alone and reported `kept` (Harbor's override off). */
  overwrite: z.boolean({ error: 'expected true (the default: the source wins) or false (an existing destination tag is kept)' }).optional(),
});

const exactTagsSchema = z.array(z.string().regex(TAG, 'not a valid tag (letters, digits, "_", "." and "-", at most 128)')).min(1);
const filterSchema = z.strictObject({
  include: z.array(z.string()).optional(),
  exclude: z.array(z.string()).optional(),
  latest: z.int({ error: 'expected a whole number of tags to keep' }).min(1).optional(),
  semver: z.string().min(1).optional(),
  pushedWithinDays: z.int({ error: 'expected a whole number of days, 1 or more' }).min(1, { error: 'expected a whole number of days, 1 or more' }).optional(),
});

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `requireRules: false` (replay, work): rules may be absent or stale; those that read are kept (a recheck needs them). */
export interface NativeOptions {
  requireRules?: boolean;
  /** Where `${secretsmanager:}` / `${ssm:}` values come from; default: AWS, cached per process. */
  secretStore?: SecretStore;
  /** Where each value sits in the file's text (problems then name the line and column). */
  locate?: Locate;
  /** Problems found before the values were looked at (duplicate keys), listed first. */
  problems?: string[];
  /** false: leave `${secretsmanager:}` / `${ssm:}` unresolved (the run stops on its flags anyway). */
  fetchSecrets?: boolean;
}

/** Read and validate a native config; `text` when the caller already read the file (load.ts). */
export async function loadNativeConfig(file: string, env: NodeJS.ProcessEnv = process.env, opts: NativeOptions = {}, text?: ConfigText): Promise<LoadedConfig> {
  const read = text ?? (await readConfigFile(file));
  const loaded = parseNativeConfig(read.value, file, env, { ...opts, locate: read.locate, problems: [...read.duplicates, ...(opts.problems ?? [])] });
  // The secrets are fetched only once the whole file is known to be valid: a typo costs no AWS call.
  if (loaded.secrets && opts.fetchSecrets !== false) await resolveSecretSlots(loaded.secrets, file, opts.secretStore);
  delete loaded.secrets;
  return loaded;
}

export function parseNativeConfig(raw: unknown, file: string, env: NodeJS.ProcessEnv = process.env, opts: NativeOptions = {}): LoadedConfig {
  const p = new Problems(file, opts.locate);
  p.add(...(opts.problems ?? []));
  const message = `invalid config file ${file}`;
  const stop = () => p.throwIfAny(message);
  if (!isMapping(raw)) {
    p.at([], 'expected a mapping with version, registries and rules');
    stop();
  }
  const doc = raw as Record<string, unknown>;
  const supported = `supported versions: ${SUPPORTED_VERSIONS.join(', ')}`;
  // A missing version is read as the only one there is, so its other problems come in this run too;
  // another version's file may be shaped differently, and its other "problems" would only be noise.
  if (doc.version === undefined) p.at([], `required (${supported})`, { label: 'version' });
  else if (doc.version !== 1) {
    p.at(['version'], `version ${JSON.stringify(doc.version)} is not supported; ${supported}`);
    stop();
  }
  const top = topSchema.safeParse({ version: 1, ...doc });
  if (!top.success) p.zod(top.error);

  const defaults = { ...DEFAULTS };
  const parsedDefaults = defaultsSchema.safeParse(doc.defaults ?? {});
  if (parsedDefaults.success) Object.assign(defaults, parsedDefaults.data);
  else p.zod(parsedDefaults.error, ['defaults']);

  const secrets: SecretSlot[] = [];
  const registries = parseRegistries(doc.registries, file, env, p, secrets);

  const service = parseServiceSettings(doc, env, p, secrets);

  const rules: SyncRule[] = [];
  let staleRules = false;
  if (opts.requireRules === false) {
    // replay and work take their work from the DLQ or the queue: rules may be absent, or stale. Those
    // that still read are kept for an event's recheck (pipeline/recheck.ts); one that does not read
    // is no problem here, but then no recheck is trusted to these rules (it goes to the DLQ instead
    // of being acknowledged as covered by none).
    if (Array.isArray(doc.rules)) {
      const lenient = new Problems(file, opts.locate);
      doc.rules.forEach((r, i) => {
        const rule = parseRule(r, i, file, lenient, defaults.format);
        if (rule) rules.push(rule);
      });
      staleRules = lenient.lines.length > 0;
    }
  } else if (!Array.isArray(doc.rules) || doc.rules.length === 0) p.at(['rules'], 'expected a non-empty list of rules');
  else doc.rules.forEach((r, i) => {
    const rule = parseRule(r, i, file, p, defaults.format);
    if (rule) rules.push(rule);
  });

  p.throwIfAny(message);
  return { source: file, defaults, registries, resolve: resolverFromEntries(registries), rules, ...(staleRules ? { staleRules } : {}), ...service, ...(secrets.length ? { secrets } : {}) };
}

function parseRegistries(raw: unknown, file: string, env: NodeJS.ProcessEnv, p: Problems, secrets: SecretSlot[]): RegistrySettings[] {
  if (raw === undefined || raw === null) return [];
  if (!isMapping(raw)) {
    p.at(['registries'], 'expected a mapping of registry[/namespace] to its settings');
    return [];
  }
  const out: RegistrySettings[] = [];
  const seen = new Map<string, string>();
  const cache: DockerConfigCache = new Map();
  for (const [key, value] of Object.entries(raw)) {
    const path = ['registries', key];
    const prefix = registryPrefix(key);
    if (prefix === undefined) {
      p.at(path, 'expected registry host[:port][/namespace], e.g. quay.io or quay.io/coreos', { key: true });
      continue;
    }
    const other = seen.get(prefix);
    if (other !== undefined) p.at(path, `the same registry as "${other}"`, { key: true });
    seen.set(prefix, key);

    // `docker.io:` with nothing = anonymous. A field that fails does not hide the others' problems.
    const e = salvage(registrySchema, value ?? {}, path, p);
    if (!e) continue;
    const access: RegistryAccess = {};
    if (e.insecure) access.insecure = true;
    if (e.connections !== undefined) access.connections = e.connections;
    if (e.concurrency !== undefined) access.concurrency = e.concurrency;
    if (e.maxBytesPerSecond !== undefined) access.maxBytesPerSecond = e.maxBytesPerSecond;
    if (e.tokenRealms?.length) access.tokenRealms = e.tokenRealms;
    if (e.allowLinkLocal) access.allowLinkLocal = true;
    if ((e.certFile === undefined) !== (e.keyFile === undefined)) {
      p.at(path, `${e.certFile === undefined ? 'keyFile without certFile' : 'certFile without keyFile'}: give both for mutual TLS`);
    }
    // Relative paths are relative to the config file, as dockerConfig paths are.
    for (const k of ['caFile', 'certFile', 'keyFile'] as const) {
      const v = e[k];
      if (v !== undefined) access[k] = posix.isAbsolute(v) ? v : posix.join(posix.dirname(file), v);
    }
    const listing = parseListing(e, env, path, p, secrets);
    if (listing) access.listing = listing;
    const swr = swrAccessOf(prefix.split('/')[0]!, e, (k, why) => p.at(k ? [...path, k] : path, why));
    if (swr) access.swr = swr;
    const inline = e.username !== undefined || e.password !== undefined;
    if (swr && e.accessKey !== undefined && e.secretKey !== undefined && !inline && !e.dockerConfig && swr.project !== undefined) {
      // Long-term login `<project>@<AK>` / hmac(SK, AK), derived once the keys are known (lib/vendors/swr/login.ts).
      const ak = parseCredential(e.accessKey, env);
      const sk = parseCredential(e.secretKey, env);
      for (const line of ak.problems) p.at([...path, 'accessKey'], line);
      for (const line of sk.problems) p.at([...path, 'secretKey'], line);
      const [a, s] = [literalOf(ak.template), literalOf(sk.template)];
      if (a !== undefined && s !== undefined) access.credentials = attachSwrKeys(swr, a, s);
      else secrets.push({ where: (field) => p.where([...path, field]), access, username: ak.template, password: sk.template, swrKeys: true });
    } else if (inline && e.dockerConfig) {
      p.at(path, 'username/password and dockerConfig are mutually exclusive: give one way to find the credentials');
    } else if (inline) {
      if (e.username === undefined || e.password === undefined) {
        p.at(path, `${e.username === undefined ? 'password without username' : 'username without password'}: give both`);
      } else {
        const username = parseCredential(e.username, env);
        const password = parseCredential(e.password, env);
        for (const line of username.problems) p.at([...path, 'username'], line);
        for (const line of password.problems) p.at([...path, 'password'], line);
        const [user, pass] = [literalOf(username.template), literalOf(password.template)];
        if (user !== undefined && pass !== undefined) access.credentials = { username: user, password: pass };
        else secrets.push({ where: (field) => p.where([...path, field]), access, username: username.template, password: password.template });
      }
    } else if (e.dockerConfig) {
      const dockerFile = dockerConfigPath(e.dockerConfig, file, env);
      const creds = dockerConfigCredentials(prefix, dockerFile, cache);
      if (typeof creds === 'string') p.at([...path, 'dockerConfig'], creds);
      else {
        access.credentials = creds;
        // A refused login names the docker config.json they came from, not this file.
        access.credentialsFrom = { file: dockerFile, flag: `dockerConfig of ${key} in ${file}`, entry: prefix };
      }
    }
    out.push({ prefix, access, ...(e.concurrency !== undefined ? { concurrency: e.concurrency } : {}) });
  }
  return out;
}

/** The listing settings of an entry (type, apiEndpoint, apiToken), or undefined when it gives none. */
function parseListing(
  e: { type?: ListingType; apiEndpoint?: string; apiToken?: string },
  env: NodeJS.ProcessEnv, path: PropertyKey[], p: Problems, secrets: SecretSlot[],
): ListingSettings | undefined {
  if (e.type === undefined && e.apiEndpoint === undefined && e.apiToken === undefined) return undefined;
  const listing: ListingSettings = {};
  if (e.type !== undefined) listing.type = e.type;
  if (e.apiEndpoint !== undefined) listing.apiEndpoint = e.apiEndpoint.replace(/\/+$/, '');
  if (e.apiToken !== undefined) {
    const token = parseCredential(e.apiToken, env);
    for (const line of token.problems) p.at([...path, 'apiToken'], line);
    const literal = literalOf(token.template);
    if (literal !== undefined) listing.apiToken = literal;
    else {
      // A secret reference: resolved with the passwords (secret-resolve.ts), which set
      // `credentials`; this slot's target turns that into the token.
      const target = {} as RegistryAccess;
      Object.defineProperty(target, 'credentials', { set: (c: { password: string }) => (listing.apiToken = c.password) });
      secrets.push({ where: () => p.where([...path, 'apiToken']), access: target, username: [], password: token.template });
    }
  }
  return listing;
}

/** `Quay.io/coreos/` -> `quay.io/coreos`; undefined when the first component is not a host. */
function registryPrefix(key: string): string | undefined {
  const prefix = normalisePrefix(key);
  try {
    // Parsed as a repository below the prefix, so `myhost/ns` (no '.', ':' or localhost) is caught:
    // docker would read it as a Docker Hub user, never as a registry.
    const ref = parseRepositoryReference(`${prefix}/x`);
    return ref.registry === prefix.split('/')[0] && ref.tag === undefined ? prefix : undefined;
  } catch {
    return undefined;
  }
}

function parseRule(raw: unknown, i: number, file: string, p: Problems, defaultFormat?: Format): SyncRule | undefined {
  const path = ['rules', i];
  const before = p.lines.length;
  // A field that fails (an unknown key, a wrong type) must not hide the others' problems: the rest
  // is checked as if it were absent, and the rule is dropped anyway.
  const r = salvage(ruleSchema, raw, path, p);
  if (!r) return undefined;

  const glob = r.source === undefined ? undefined : globSource(r.source);
  if (glob) return parseNamespaceRule(r, glob, path, file, p, defaultFormat);
  for (const k of ['repositories'] as const) {
    if (r[k] !== undefined && r.source !== undefined) p.at([...path, k], `only valid when the source is a glob such as HOST/team/* or HOST/team/**; "${r.source}" is one repository`);
  }
  let src: ImageReference | undefined;
  try {
    if (r.source !== undefined) src = parseRepositoryReference(r.source);
  } catch (err) {
    p.at([...path, 'source'], reason(err));
  }
  const rule: SyncRule = { origin: `${file}: rules[${i}]`, source: { registry: '', repository: '' }, destinations: [] };
  const format = r.format ?? defaultFormat;
  if (format) rule.format = format;
  if (src) {
    rule.source = { registry: src.registry, repository: src.repository };
    // `repo:tag@digest`: the digest pins the content, the tag names it at the destination.
    if (src.tag !== undefined) rule.tags = [src.tag];
    if (src.digest !== undefined) rule.digest = src.digest;
  }

  if (r.tags !== undefined) {
    if (src && (src.tag !== undefined || src.digest !== undefined)) {
      p.at([...path, 'tags'], `only valid when the source is a repository; "${r.source}" already names a ${src.digest ? 'digest' : 'tag'}`);
    } else if (Array.isArray(r.tags)) {
      const tags = exactTagsSchema.safeParse(r.tags);
      if (tags.success) rule.tags = [...new Set(tags.data)];
      else p.zod(tags.error, [...path, 'tags']);
    } else if (isMapping(r.tags)) {
      const f = filterSchema.safeParse(r.tags);
      if (f.success) rule.filter = compileFilter(f.data, [...path, 'tags'], p);
      else p.zod(f.error, [...path, 'tags']);
    } else {
      p.at([...path, 'tags'], TAGS_HINT);
    }
  }

  checkNaming(r, path, p);
  applyPolicy(r, rule, path, p, rule.tags !== undefined || rule.digest !== undefined);
  if (r.name !== undefined && !REPO_PATH.test(r.name)) {
    p.at([...path, 'name'], 'expected a repository name such as "etcd" or "tools/etcd" (lowercase a-z, 0-9, separators ".", "_", "__", "-")');
  }

  const list = typeof r.destination === 'string' ? [r.destination] : (r.destination ?? []);
  list.forEach((d, j) => {
    const dpath = typeof r.destination === 'string' ? [...path, 'destination'] : [...path, 'destination', j];
    // Only the part after the last '/' can hold a tag; a ':' in a lone host is its port.
    if (d.includes('@') || (d.includes('/') && d.slice(d.lastIndexOf('/')).includes(':'))) {
      p.at(dpath, 'expected registry[/namespace] without a tag or digest: the tags come from the source');
      return;
    }
    if (!src) return;
    const mapped = r.name !== undefined ? { path: r.prefix ? `${r.prefix}/${r.name}` : r.name } : mapRepository(src.registry, src.repository, mappingOf(r, 'basename'));
    if ('error' in mapped) {
      if (j === 0) p.at([...path, 'stripLevels'], mapped.error);
      return;
    }
    const suffix = mapped.path;
    try {
      // Parsed whole, so `docker.io` + `alpine` gets docker's `library/` like any other reference.
      const ref = parseRepositoryReference(`${d}/${suffix}`);
      const dest: RuleDestination = { registry: ref.registry, repository: ref.repository };
      if (dest.registry === src.registry && dest.repository === src.repository) p.at(dpath, 'the destination is the source itself');
      else rule.destinations.push(dest);
    } catch (err) {
      p.at(dpath, reason(err));
    }
  });

  return p.lines.length === before ? rule : undefined;
}

/** `prune` and `overwrite` of a rule. Pruning needs a listing to compare with: exact tags have none. */
function applyPolicy(r: RawRule, rule: SyncRule, path: PropertyKey[], p: Problems, exact: boolean): void {
  if (r.overwrite === false) rule.overwrite = false;
  if (r.prune === undefined || r.prune === false) return;
  if (exact) {
    p.at([...path, 'prune'], 'only valid on a rule that lists its tags (no exact tags or digest): there is nothing to compare the destination with');
    return;
  }
  const given = r.prune === true ? {} : r.prune;
  const protect = given.protect ?? [];
  protect.forEach((g, j) => {
    const problem = tagGlobProblem(g);
    if (problem) p.at([...path, 'prune', 'protect', j], problem);
  });
  rule.prune = { max: given.max ?? DEFAULT_PRUNE_MAX, maxGiven: given.max !== undefined, protect };
}

function compileFilter(f: z.infer<typeof filterSchema>, path: PropertyKey[], p: Problems): TagFilter {
  const filter: TagFilter = {};
  for (const kind of ['include', 'exclude'] as const) {
    const list = f[kind];
    if (!list) continue;
    filter[kind] = [];
    list.forEach((src, k) => {
      const re = compileRegex(src);
      if (typeof re === 'string') p.at([...path, kind, k], re);
      else filter[kind]!.push(re);
    });
  }
  if (f.latest !== undefined) filter.latest = f.latest;
  if (f.semver !== undefined) {
    if (validRange(f.semver)) filter.semver = f.semver;
    else p.at([...path, 'semver'], `"${f.semver}" is not a semver range; write e.g. ">=1.2 <2" or "^1.4"`);
  }
  if (f.pushedWithinDays !== undefined) filter.pushedWithinDays = f.pushedWithinDays;
  return filter;
}

const TAGS_HINT = 'expected a list of exact tags or { include, exclude, semver, pushedWithinDays, latest }';
/** A rule as far as its fields validated (salvage): a field that failed is absent. */
type RawRule = Partial<z.infer<typeof ruleSchema>>;

/**
 * A mapping validated by `schema`, its problems recorded. When some fields fail, the others are
 * still returned (those that failed, and unknown keys, dropped), so their own checks run in the
 * same pass; undefined when not even that is a mapping.
 */
function salvage<S extends z.ZodObject>(schema: S, raw: unknown, path: PropertyKey[], p: Problems): Partial<z.infer<S>> | undefined {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  p.zod(parsed.error, path);
  if (!isMapping(raw)) return undefined;
  const failed = new Set(parsed.error.issues.map((i) => i.path[0]));
  const rest = Object.fromEntries(Object.entries(raw).filter(([k]) => Object.hasOwn(schema.shape, k) && !failed.has(k)));
  const again = schema.partial().safeParse(rest);
  return again.success ? (again.data as Partial<z.infer<S>>) : undefined;
}

function mappingOf(r: RawRule, mode: 'path' | 'basename'): DestinationMapping {
  return {
    mode: r.mapping ?? mode,
    ...(r.template !== undefined ? { template: r.template } : {}),
    ...(r.stripLevels !== undefined ? { stripLevels: r.stripLevels } : {}),
    ...(r.prefix !== undefined ? { prefix: r.prefix } : {}),
  };
}

/** name / mapping / template / stripLevels / prefix, checked alike for both kinds of rule. */
function checkNaming(r: RawRule, path: PropertyKey[], p: Problems): void {
  const naming = [r.name !== undefined ? 'name' : '', r.mapping !== undefined ? 'mapping' : '', r.template !== undefined ? 'template' : ''].filter(Boolean);
  if (naming.length > 1) p.at(path, `${naming.join(' and ')} are mutually exclusive: give one way to name the destination repository`);
  if (r.template !== undefined) {
    const unknown = unknownTemplateFields(r.template);
    if (unknown.length) p.at([...path, 'template'], `unknown placeholder(s) ${unknown.map((f) => `{${f}}`).join(', ')}; use ${TEMPLATE_FIELDS.map((f) => `{${f}}`).join(', ')}`);
  }
  if (r.stripLevels !== undefined && (r.name !== undefined || r.mapping === 'basename')) {
    p.at([...path, 'stripLevels'], `only applies to the source path; drop it, or use mapping: path instead of ${r.name !== undefined ? 'name' : 'mapping: basename'}`);
  }
  if (r.prefix !== undefined && !REPO_PATH.test(r.prefix)) p.at([...path, 'prefix'], 'expected a repository path such as "mirror" or "mirror/hub" (lowercase, no leading or trailing "/")');
}

/** `HOST/<glob>` when the path after the host is a glob; undefined for one repository. */
function globSource(source: string): { host: string; glob: string } | undefined {
  const cut = source.indexOf('/');
  if (cut < 0 || !isGlob(source.slice(cut + 1))) return undefined;
  return { host: source.slice(0, cut), glob: source.slice(cut + 1) };
}

/** A rule over many repositories (plan/namespaces.ts lists and maps them at plan time). */
function parseNamespaceRule(r: RawRule, g: { host: string; glob: string }, path: PropertyKey[], file: string, p: Problems, defaultFormat?: Format): SyncRule | undefined {
  const before = p.lines.length;
  const origin = `${file}: rules[${path[1] as number}]`;
  // The first component must be a host: `team/*` alone would read as Docker Hub, which is rarely meant.
  const registry = /[.:]/.test(g.host) || g.host === 'localhost' ? registryPrefix(g.host) : undefined;
  if (registry === undefined) p.at([...path, 'source'], `a glob source starts with the registry host, e.g. registry.example.com/team/* or docker.io/myorg/*`);
  if (/[:@]/.test(g.glob)) p.at([...path, 'source'], 'a glob source names repositories, not tags: filter tags with tags: { include, semver, latest }');
  else {
    const problem = globProblem(g.glob);
    if (problem) p.at([...path, 'source'], problem);
  }
  for (const k of ['include', 'exclude'] as const) {
    r.repositories?.[k]?.forEach((x, j) => {
      const problem = globProblem(x);
      if (problem) p.at([...path, 'repositories', k, j], problem);
    });
  }
  if (r.name !== undefined) p.at([...path, 'name'], 'would give every listed repository the same destination; use prefix, stripLevels or template');
  checkNaming(r, path, p);
  const depth = exactDepth(g.glob);
  if (r.stripLevels !== undefined && depth !== undefined && r.stripLevels >= depth) {
    p.at([...path, 'stripLevels'], `stripLevels ${r.stripLevels} removes all of every repository matched by "${g.glob}" (${depth} level${depth > 1 ? 's' : ''}); use at most ${depth - 1}`);
  }
  const rule: SyncRule = { origin, source: { registry: registry ?? '', repository: g.glob }, destinations: [] };
  const format = r.format ?? defaultFormat;
  if (format) rule.format = format;
  if (Array.isArray(r.tags)) {
    const tags = exactTagsSchema.safeParse(r.tags);
    if (tags.success) rule.tags = [...new Set(tags.data)];
    else p.zod(tags.error, [...path, 'tags']);
  } else if (isMapping(r.tags)) {
    const f = filterSchema.safeParse(r.tags);
    if (f.success) rule.filter = compileFilter(f.data, [...path, 'tags'], p);
    else p.zod(f.error, [...path, 'tags']);
  } else if (r.tags !== undefined) p.at([...path, 'tags'], TAGS_HINT);

  applyPolicy(r, rule, path, p, false);
  const list = typeof r.destination === 'string' ? [r.destination] : (r.destination ?? []);
  const targets: string[] = [];
  list.forEach((d, j) => {
    const dpath = typeof r.destination === 'string' ? [...path, 'destination'] : [...path, 'destination', j];
    const target = d.replace(/\/+$/, '');
    try {
      if (target.includes('@') || (target.includes('/') && target.slice(target.lastIndexOf('/')).includes(':'))) throw new Error('expected registry[/namespace] without a tag or digest');
      parseRepositoryReference(`${target}/x`);
      targets.push(target);
    } catch (err) {
      p.at(dpath, reason(err));
    }
  });
  // Keep the path by default: a whole namespace is expected to arrive as it is (team/app stays team/app).
  rule.namespace = {
    glob: g.glob,
    ...(globNamespace(g.glob) !== undefined ? { namespace: globNamespace(g.glob) } : {}),
    ...(r.repositories?.include ? { include: r.repositories.include } : {}),
    ...(r.repositories?.exclude ? { exclude: r.repositories.exclude } : {}),
    targets,
    mapping: mappingOf(r, 'path'),
  };
  return p.lines.length === before ? rule : undefined;
}
