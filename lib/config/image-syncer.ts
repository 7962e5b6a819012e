// image-syncer / Huawei image-migrator `--auth` + `--images` files, read unchanged (REFERENCE.md
// section 5), so a migration already scripted for those tools runs here as it is.
// `--images` maps a source to a destination or a list of them. Source forms:
//   repo              all tags            repo:t1,t2        exactly these tags
//   repo:/regex/      tags matching       repo@sha256:...   one digest
// A destination is a full repository path (no name mapping); without a tag it keeps the source tags.
import { z } from 'zod';
import { parseRepositoryReference } from '../oci/reference.js';
import { loadAuthFile, readStructuredFile, resolverFromEntries, type AuthEntry } from './auth-file.js';
import { compileRegex, PLATFORM, PLATFORM_HINT, Problems, reason } from './rule-parts.js';
import { DEFAULTS, type LoadedConfig, type SyncDefaults, type SyncRule } from './types.js';
import { formatZodIssues } from './zod-issues.js';

export interface ImageSyncerOptions {
  authFile?: string;
  imagesFile: string;
  /** `os/arch[/variant]` built from --os/--arch. */
  platforms?: string[];
}

const imagesSchema = z.record(z.string().min(1), z.unknown(), {
  error: 'expected a mapping of source image to a destination or a list of destinations',
});

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
    rules = collectRules(await readStructuredFile(opts.imagesFile), opts.imagesFile, p);
  } catch (err) {
    p.addError(err);
  }
  const defaults: SyncDefaults = { ...DEFAULTS };
  if (opts.platforms?.length) {
    for (const platform of opts.platforms) {
      if (!PLATFORM.test(platform)) p.add(`--os/--arch: "${platform}": ${PLATFORM_HINT}`);
    }
    defaults.platforms = [...new Set(opts.platforms)];
  }
  const files = opts.authFile !== undefined ? `${opts.authFile} and ${opts.imagesFile}` : opts.imagesFile;
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
export function parseImagesFile(raw: unknown, file: string): SyncRule[] {
  const p = new Problems(file);
  const rules = collectRules(raw, file, p);
  p.throwIfAny(`invalid images file ${file}`);
  return rules;
}

function collectRules(raw: unknown, file: string, p: Problems): SyncRule[] {
  const parsed = imagesSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    p.add(...formatZodIssues(parsed.error, file));
    return [];
  }
  const keys = Object.keys(parsed.data);
  if (!keys.length) p.at([], 'no images listed');
  const rules: SyncRule[] = [];
  for (const key of keys) {
    const rule = parseEntry(key, parsed.data[key], file, p);
    if (rule) rules.push(rule);
  }
  return rules;
}

function parseEntry(key: string, value: unknown, file: string, p: Problems): SyncRule | undefined {
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
  if (!Array.isArray(list) || list.length === 0 || list.some((d) => typeof d !== 'string' || d === '')) {
    p.at([where], 'expected a destination repository or a non-empty list of them');
    return undefined;
  }
  list.forEach((d: string, j) => {
    const at = typeof value === 'string' ? [where] : [where, j];
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
function parseSource(key: string): Pick<SyncRule, 'source' | 'tags' | 'digest' | 'filter'> {
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
