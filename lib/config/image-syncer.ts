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
import { type DuplicateWording, duplicateRegistry, loadAuthFile, parseAuthEntries, readStructuredFile, resolverFromEntries, type AuthEntry } from './auth-file.js';
import { compileRegex, PLATFORM, PLATFORM_HINT, Problems, reason } from './rule-parts.js';
import { DEFAULTS, type LoadedConfig, type SyncDefaults, type SyncRule } from './types.js';
import { formatZodIssues } from './zod-issues.js';

export interface ImageSyncerOptions {
  authFile?: string;
  imagesFile: string;
  /** `os/arch[/variant]` built from --os/--arch. */
  platforms?: string[];
  /** --registry / --namespace, for empty destinations; over DEFAULT_REGISTRY / DEFAULT_NAMESPACE. */
  registry?: string;
  namespace?: string;
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
  try {
    rules = collectRules(await readStructuredFile(opts.imagesFile, duplicateSource), opts.imagesFile, p, emptyDestination(opts, env));
  } catch (err) {
    p.addError(err);
  }
  const files = opts.authFile !== undefined ? `${opts.authFile} and ${opts.imagesFile}` : opts.imagesFile;
  return finish(p, files, entries, rules, opts.platforms);
}

/**
 * Older image-syncer's single `--config` file: `{auth: {...}, images: {...}}` (REFERENCE.md
 * section 5). `raw` is the file already read (load.ts reads it to tell it from a native config).
 */
export function loadCombinedConfig(
  raw: { auth?: unknown; images?: unknown },
  file: string,
  opts: Omit<ImageSyncerOptions, 'authFile' | 'imagesFile'> & { requireRules?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  const p = new Problems(file);
  let entries: AuthEntry[] = [];
  try {
    entries = parseAuthEntries(raw.auth ?? {}, `${file}: auth`, env);
  } catch (err) {
    p.addError(err);
  }
  // Replay needs only the credentials, as with a native config whose rules went stale.
  const rules = opts.requireRules === false ? [] : collectRules(raw.images, `${file}: images`, p, emptyDestination(opts, env));
  return finish(p, file, entries, rules, opts.platforms);
}

/** Duplicates in a combined config: `images` keys are sources, `auth` keys registries. */
export const duplicateInCombined: DuplicateWording = (d) =>
  d.path.length === 1 && d.path[0] === 'images' ? duplicateSource(d) : d.path.length === 1 && d.path[0] === 'auth' ? duplicateRegistry(d) : `duplicate key "${d.key}"${d.path.length ? ` under ${d.path.join('.')}` : ''}`;

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
  const rules = collectRules(raw, file, p, empty);
  p.throwIfAny(`invalid images file ${file}`);
  return rules;
}

function collectRules(raw: unknown, file: string, p: Problems, empty: EmptyDestination): SyncRule[] {
  const parsed = imagesSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    p.add(...formatZodIssues(parsed.error, file));
    return [];
  }
  const keys = Object.keys(parsed.data);
  if (!keys.length) p.at([], 'no images listed');
  const rules: SyncRule[] = [];
  for (const key of keys) {
    const rule = parseEntry(key, parsed.data[key], file, p, empty);
    if (rule) rules.push(rule);
  }
  return rules;
}

function parseEntry(key: string, value: unknown, file: string, p: Problems, empty: EmptyDestination): SyncRule | undefined {
  const where = JSON.stringify(key);
  const before = p.lines.length;
  const rule: SyncRule = { origin: `${file}: ${where}`, source: { registry: '', repository: '' }, destinations: [] };
  let sourceOk = true;
  try {
    Object.assign(rule, parseSource(key));
  } catch (err) {
    p.at([where], reason(err));
    sourceOk = false;
  }
  const single = rule.digest !== undefined || (rule.tags?.length === 1 && rule.filter === undefined);

  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((d) => typeof d !== 'string')) {
    p.at([where], 'expected a destination repository or a non-empty list of them');
    return undefined;
  }
  list.forEach((given: string, j) => {
    const at = typeof value === 'string' ? [where] : [where, j];
    let d = given;
    if (d.trim() === '') {
      if (!empty.registry || !empty.namespace) {
        p.at(at, 'empty destination: give --registry and --namespace (or DEFAULT_REGISTRY and DEFAULT_NAMESPACE), or write the destination');
        return;
      }
      if (!sourceOk) return;
      // image-migrator: registry + namespace + the source repository's last component, tags kept.
      d = `${empty.registry.replace(/\/+$/, '')}/${empty.namespace.replace(/^\/+|\/+$/g, '')}/${rule.source.repository.split('/').pop()}`;
    }
    try {
      const ref = parseRepositoryReference(d);
      if (ref.digest !== undefined) {
        p.at(at, `destination "${d}" names a digest; a destination is a repository, optionally with a tag`);
      } else if (ref.tag !== undefined && !single && sourceOk) {
        p.at(at, `destination "${d}" names tag "${ref.tag}", which needs a source with exactly one tag or a digest; drop the tag to keep the source tags`);
      } else {
        rule.destinations.push({ registry: ref.registry, repository: ref.repository, ...(ref.tag !== undefined ? { tag: ref.tag } : {}) });
      }
    } catch (err) {
      p.at(at, reason(err));
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
