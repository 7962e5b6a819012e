// image-syncer / Huawei image-migrator `--auth` + `--images` files, read unchanged (REFERENCE.md
// section 5), so a migration already scripted for those tools runs here as it is.
// `--images` maps a source to a destination or a list of them. Source forms:
//   repo              all tags            repo:t1,t2        exactly these tags
//   repo:/regex/      tags matching       repo@sha256:...   one digest
// A destination is a full repository path (no name mapping); without a tag it keeps the source tags.
// An empty destination (`""`, image-migrator) is `<registry>/<namespace>/<source repo's last
// component>`, from --registry / --namespace or DEFAULT_REGISTRY / DEFAULT_NAMESPACE.
// The older combined `--config` file ({auth, images} in one) is read by loadCombinedConfig.
import { z } from 'zod';
import { parseRepositoryReference, stripTransport } from '../oci/reference.js';
import { collectAuthEntries, duplicateRegistry, loadAuthFile, resolverFromEntries, type AuthEntry } from './auth-file.js';
import { type ConfigText, type DuplicateWording, readConfigFile } from './config-file.js';
import { compileRegex, PLATFORM, PLATFORM_HINT, Problems, reason } from './rule-parts.js';
import { DEFAULTS, type LoadedConfig, type SyncDefaults, type SyncRule } from './types.js';
import { formatPath } from './zod-issues.js';

export interface ImageSyncerOptions {
  authFile?: string;
  imagesFile: string;
  /** `os/arch[/variant]` built from --os/--arch. */
  platforms?: string[];
  /** --registry / --namespace, for empty destinations; over DEFAULT_REGISTRY / DEFAULT_NAMESPACE. */
  registry?: string;
  namespace?: string;
  /** false (replay, work): only the credentials are needed; the images file is not read. */
  requireRules?: boolean;
}

/** Where empty destinations go: the flags, else the environment (image-migrator's variables). */
export interface EmptyDestination {
  registry?: string;
  namespace?: string;
}

const imagesSchema = z.record(z.string().min(1), z.unknown(), {
  error: 'expected a mapping of source image to a destination or a list of destinations',
});

/** In an images file the keys are sources: a duplicate drops the first one's destinations. */
export const duplicateSource: DuplicateWording = (d) => `duplicate source "${d.key}"`;

function emptyDestination(opts: EmptyDestination, env: NodeJS.ProcessEnv): EmptyDestination {
  const registry = opts.registry || env.DEFAULT_REGISTRY || undefined;
  const namespace = opts.namespace || env.DEFAULT_NAMESPACE || undefined;
  return { ...(registry ? { registry } : {}), ...(namespace ? { namespace } : {}) };
}

export async function loadImageSyncerConfig(opts: ImageSyncerOptions, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const p = new Problems(opts.imagesFile);
  let entries: AuthEntry[] = [];
  // Both files are read before giving up, so a run reports auth and images mistakes together.
  if (opts.authFile !== undefined) {
    try {
      entries = await loadAuthFile(opts.authFile, env);
    } catch (err) {
      p.addError(err);
    }
  }
  let rules: SyncRule[] = [];
  // Replay and work take their work from the DLQ or the queue: the images file is not read.
  if (opts.requireRules !== false) {
    try {
      const text = await readConfigFile(opts.imagesFile, duplicateSource);
      const images = new Problems(opts.imagesFile, text.locate);
      images.add(...text.duplicates);
      rules = collectRules(text.value, images, emptyDestination(opts, env));
      p.add(...images.lines);
    } catch (err) {
      p.addError(err);
    }
  }
  const files = opts.authFile !== undefined ? `${opts.authFile} and ${opts.imagesFile}` : opts.imagesFile;
  return finish(p, files, entries, rules, opts.platforms);
}

/**
 * Older image-syncer's single `--config` file: `{auth: {...}, images: {...}}` (REFERENCE.md
 * section 5). `text` is the file already read (load.ts reads it to tell it from a native config).
 */
export function loadCombinedConfig(
  text: ConfigText,
  file: string,
  opts: Omit<ImageSyncerOptions, 'authFile' | 'imagesFile'> & { requireRules?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  const raw = text.value as { auth?: unknown; images?: unknown };
  const p = new Problems(file, text.locate);
  p.add(...text.duplicates);
  const entries = collectAuthEntries(raw.auth ?? {}, p, env, ['auth']);
  // Replay needs only the credentials, as with a native config whose rules went stale.
  const rules = opts.requireRules === false ? [] : collectRules(raw.images, p, emptyDestination(opts, env), ['images']);
  return finish(p, file, entries, rules, opts.platforms);
}

/** Duplicates in a combined config: `images` keys are sources, `auth` keys registries. */
export const duplicateInCombined: DuplicateWording = (d) =>
  d.path.length === 1 && d.path[0] === 'images' ? duplicateSource(d) : d.path.length === 1 && d.path[0] === 'auth' ? duplicateRegistry(d) : `duplicate key "${d.key}"${d.path.length ? ` under ${formatPath(d.path)}` : ''}`;

function finish(p: Problems, files: string, entries: AuthEntry[], rules: SyncRule[], platforms: string[] | undefined): LoadedConfig {
  const defaults: SyncDefaults = { ...DEFAULTS };
  if (platforms?.length) {
    for (const platform of platforms) {
      if (!PLATFORM.test(platform)) p.add(`--os/--arch: "${platform}": ${PLATFORM_HINT}`);
    }
    defaults.platforms = [...new Set(platforms)];
  }
  p.throwIfAny(`invalid image-syncer configuration (${files})`);
  return {
    source: files,
    defaults,
    registries: entries.map((e) => ({ prefix: e.prefix, access: e.access })),
    resolve: resolverFromEntries(entries),
    rules,
  };
}

/** The rules of an already parsed `--images` document; throws a ConfigError listing every problem. */
export function parseImagesFile(raw: unknown, file: string, empty: EmptyDestination = {}): SyncRule[] {
  const p = new Problems(file);
  const rules = collectRules(raw, p, empty);
  p.throwIfAny(`invalid images file ${file}`);
  return rules;
}

/** `base`: where the images sit in the file (`images` in a combined config), shown before each source. */
function collectRules(raw: unknown, p: Problems, empty: EmptyDestination, base: readonly PropertyKey[] = []): SyncRule[] {
  const parsed = imagesSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    p.zod(parsed.error, base);
    return [];
  }
  const keys = Object.keys(parsed.data);
  if (!keys.length) p.at(base, 'no images listed');
  const rules: SyncRule[] = [];
  for (const key of keys) {
    const rule = parseEntry(key, parsed.data[key], p, empty, base);
    if (rule) rules.push(rule);
  }
  return rules;
}

function parseEntry(key: string, value: unknown, p: Problems, empty: EmptyDestination, base: readonly PropertyKey[]): SyncRule | undefined {
  // Sources are shown quoted (they hold ':' and '/'): `images.yaml: "quay.io/a:t1,t2"[1]: ...`.
  const where = `${base.length ? `${formatPath(base)}: ` : ''}${JSON.stringify(key)}`;
  const at = (j?: number) => ({ path: j === undefined ? [...base, key] : [...base, key, j], label: j === undefined ? where : `${where}[${j}]` });
  const problem = (j: number | undefined, why: string) => {
    const { path, label } = at(j);
    // A bad source names the key; a bad destination its value.
    p.at(path, why, { label, key: j === undefined && typeof value !== 'string' });
  };
  const before = p.lines.length;
  const rule: SyncRule = { origin: `${p.file}: ${where}`, source: { registry: '', repository: '' }, destinations: [] };
  let sourceOk = true;
  try {
    Object.assign(rule, parseSource(key));
  } catch (err) {
    p.at([...base, key], reason(err), { label: where, key: true });
    sourceOk = false;
  }
  const single = rule.digest !== undefined || (rule.tags?.length === 1 && rule.filter === undefined);

  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((d) => typeof d !== 'string')) {
    problem(undefined, 'expected a destination repository or a non-empty list of them');
    return undefined;
  }
  list.forEach((given: string, j) => {
    const jj = typeof value === 'string' ? undefined : j;
    let d = given;
    if (d.trim() === '') {
      if (!empty.registry || !empty.namespace) {
        problem(jj, 'empty destination: give --registry and --namespace (or DEFAULT_REGISTRY and DEFAULT_NAMESPACE), or write the destination');
        return;
      }
      if (!sourceOk) return;
      // image-migrator: registry + namespace + the source repository's last component, tags kept.
      d = `${empty.registry.replace(/\/+$/, '')}/${empty.namespace.replace(/^\/+|\/+$/g, '')}/${rule.source.repository.split('/').pop()}`;
    }
    try {
      const ref = parseRepositoryReference(d);
      if (ref.digest !== undefined) {
        problem(jj, `destination "${d}" names a digest; a destination is a repository, optionally with a tag`);
      } else if (ref.tag !== undefined && !single && sourceOk) {
        problem(jj, `destination "${d}" names tag "${ref.tag}", which needs a source with exactly one tag or a digest; drop the tag to keep the source tags`);
      } else {
        rule.destinations.push({ registry: ref.registry, repository: ref.repository, ...(ref.tag !== undefined ? { tag: ref.tag } : {}) });
      }
    } catch (err) {
      problem(jj, reason(err));
    }
  });
  return p.lines.length === before ? rule : undefined;
}

/** Throws an InvalidReferenceError (or Error) whose message says what is wrong with the source. */
function parseSource(given: string): Pick<SyncRule, 'source' | 'tags' | 'digest' | 'filter'> {
  // skopeo's `docker://` first: the regex and tag-list forms below look for ':' and '/'.
  const key = stripTransport(given);
  // `repo:/regex/`: first, since the regex may hold ':' , '/' or ',' of its own.
  const regex = /^([^@]*?):\/(.*)\/$/s.exec(key);
  if (regex) {
    const ref = parseRepositoryReference(regex[1]!);
    if (ref.tag !== undefined || ref.digest !== undefined) throw new Error(`"${regex[1]}" is not a repository`);
    const re = compileRegex(regex[2]!);
    if (typeof re === 'string') throw new Error(`tag pattern /${regex[2]}/: ${re}`);
    return { source: { registry: ref.registry, repository: ref.repository }, filter: { include: [re] } };
  }
  // `repo:t1,t2`: each tag checked as `repo:tN`, so the reference grammar stays in one place.
  const colon = key.lastIndexOf(':');
  if (!key.includes('@') && colon > key.lastIndexOf('/') && key.includes(',', colon)) {
    const repo = key.slice(0, colon);
    const tags = key.slice(colon + 1).split(',').map((t) => t.trim());
    const refs = tags.map((t) => parseRepositoryReference(`${repo}:${t}`));
    const first = refs[0]!;
    return { source: { registry: first.registry, repository: first.repository }, tags: [...new Set(tags)] };
  }
  const ref = parseRepositoryReference(key);
  const out: Pick<SyncRule, 'source' | 'tags' | 'digest'> = { source: { registry: ref.registry, repository: ref.repository } };
  if (ref.tag !== undefined) out.tags = [ref.tag];
  if (ref.digest !== undefined) out.digest = ref.digest;
  return out;
}
