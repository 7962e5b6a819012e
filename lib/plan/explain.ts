// `plan --explain`: per rule, the repositories the listing gave and which the globs kept, then per
// repository what each tag filter dropped, in the order they apply. Bounded: a namespace can hold
// thousands of repositories, so each list shows a few names and "and K more".
import type { ExplainSink, TagsExplained } from './planner.js';
import type { RepositoriesExplained } from './namespaces.js';

const SHOWN = 10;

/** `a, b, c and 7 more` (at most `max` names). */
export function bounded(names: readonly string[], max = SHOWN): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** Collects what the planner reports; `lines()` gives the text, rule by rule, in the order first seen. */
export class ExplainCollector implements ExplainSink {
  private readonly rules = new Map<string, { repositories?: RepositoriesExplained; tags: TagsExplained[] }>();

  private entry(origin: string) {
    let e = this.rules.get(origin);
    if (!e) this.rules.set(origin, (e = { tags: [] }));
    return e;
  }

  repositories(e: RepositoriesExplained): void {
    this.entry(e.origin).repositories = e;
  }

  tags(e: TagsExplained): void {
    this.entry(e.origin).tags.push(e);
  }

  lines(max = SHOWN): string[] {
    const out: string[] = [];
    for (const [origin, e] of this.rules) {
      const r = e.repositories;
      out.push(`explain ${origin}${r ? `: ${r.source}` : ''}`);
      if (r) {
        const dropped = new Set(r.dropped.map((d) => d.repository));
        const kept = r.listed.filter((n) => !dropped.has(n));
        out.push(`  repositories: ${r.listed.length} listed, ${kept.length} kept${kept.length ? `: ${bounded(kept, max)}` : ''}`);
        if (r.dropped.length) out.push(`  repositories dropped ${r.dropped.length}: ${bounded(r.dropped.map((d) => `${d.repository} (${d.reason})`), max)}`);
      }
      const tags = [...e.tags].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
      for (const t of tags.slice(0, max * 5)) {
        out.push(`  ${t.source}: ${t.listed} tag(s) listed`);
        for (const s of t.steps) {
          const what = s.dropped.length ? `dropped ${s.dropped.length}: ${bounded(s.dropped, max)}` : 'dropped none';
          out.push(`    ${s.filter} ${s.detail}: ${what}${s.note ? ` (${s.note})` : ''}`);
        }
        out.push(`    kept ${t.kept.length}${t.kept.length ? `: ${bounded(t.kept, max)}` : ''}`);
      }
      if (tags.length > max * 5) out.push(`  and ${tags.length - max * 5} more repositories`);
    }
    return out;
  }
}
