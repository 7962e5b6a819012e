// Destination names from source names (issue 8 item 4; Harbor's and image-syncer's mappings). Pure.
// A template fits many source namespaces into few destination organizations, which SWR needs: an
// account has 5 organizations by default, and each can hold nested repository paths.
import type { DestinationMapping } from '../config/types.js';

/** Placeholders a destination template may use. */
export const TEMPLATE_FIELDS = ['registry', 'namespace', 'repository', 'name', 'path'] as const;

/**
 * Fill a template for a source repository: `{registry}` the source host without its port,
 * `{repository}` (alias `{path}`) the whole
 * path, `{namespace}` everything before the last `/` (empty for one component), `{name}` the last
 * component. An empty `{namespace}` takes one separator next to it along (`{namespace}-{name}` on
 * `nginx` gives `nginx`), and the result is lowercased: registries only accept lowercase paths.
 */
export function applyTemplate(template: string, registry: string, repository: string): string {
  const cut = repository.lastIndexOf('/');
  const namespace = cut < 0 ? '' : repository.slice(0, cut);
  const name = repository.slice(cut + 1);
  const t = namespace === '' ? template.replace(/\{namespace\}[._/-]?|[._/-]?\{namespace\}/, '') : template;
  const host = registry.replace(/:\d+$/, '');
  const values: Record<(typeof TEMPLATE_FIELDS)[number], string> = { registry: host, namespace, repository, name, path: repository };
  return t.replace(/\{(\w+)\}/g, (whole, field: string) => (field in values ? values[field as keyof typeof values] : whole)).toLowerCase();
}

/** Placeholders in a template that are not fields, e.g. `{org}`; empty when it is valid. */
export function unknownTemplateFields(template: string): string[] {
  return [...template.matchAll(/\{(\w*)\}/g)].map((m) => m[1]!).filter((f) => !(TEMPLATE_FIELDS as readonly string[]).includes(f));
}

/**
 * The destination repository path for a source repository path under a mapping, or a reason why
 * there is none (stripLevels as deep as the path). Both config formats and the namespace planner use
 * this, so a rule maps the same whether its repository was named or listed.
 */
export function mapRepository(registry: string, repository: string, m: DestinationMapping): { path: string } | { error: string } {
  const parts = repository.split('/');
  const strip = m.stripLevels ?? 0;
  if (strip >= parts.length) {
    return { error: `stripLevels ${strip} removes all of "${repository}" (${parts.length} level${parts.length > 1 ? 's' : ''}); use at most ${parts.length - 1}` };
  }
  const kept = parts.slice(strip).join('/');
  const name = m.template !== undefined ? applyTemplate(m.template, registry, kept) : m.mode === 'path' ? kept : parts[parts.length - 1]!;
  return { path: m.prefix ? `${m.prefix}/${name}` : name };
}
