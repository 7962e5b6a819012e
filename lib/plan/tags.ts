// Tag selection for rules that list a repository: include / exclude regexes, then "latest N".
// Registries return tags with no date, so "latest" means last in version order: tags are compared
// piecewise, digits as numbers (so 1.10 > 1.9 and v2 > v1), the rest as text.
import { isValidTag } from '../oci/reference.js';
import type { TagFilter } from '../config/types.js';

const PIECES = /(\d+)|(\D+)/g;

export function compareVersions(a: string, b: string): number {
  const pa = a.match(PIECES) ?? [];
  const pb = b.match(PIECES) ?? [];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    } else if (x !== y) {
      // A number sorts after text at the same position: "1.0" > "1.0-rc" is not decidable here,
      // but "v1" vs "latest" should not put a word above every version.
      if (nx !== ny) return nx ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

// A tag list is the registry's word, not ours: tags outside the grammar are dropped before
// anything else sees them, whichever lister produced them (isValidTag, oci/reference.ts).
/** Listed tags that are not tags (reported once, then skipped). */
export function invalidTags(tags: readonly string[]): string[] {
  return [...new Set(tags.filter((t) => !isValidTag(t)))];
}

export function selectTags(tags: readonly string[], filter: TagFilter | undefined): string[] {
  let kept = [...new Set(tags)].filter(isValidTag);
  if (filter?.include?.length) kept = kept.filter((t) => filter.include!.some((r) => r.test(t)));
  if (filter?.exclude?.length) kept = kept.filter((t) => !filter.exclude!.some((r) => r.test(t)));
  if (filter?.latest !== undefined) kept = kept.sort(compareVersions).slice(-filter.latest);
  return kept;
}
