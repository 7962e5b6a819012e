// Tag selection for rules that list a repository: include / exclude regexes, then "latest N".
// Registries return tags with no date, so "latest" means last in version order (compareTags).
// A semver range and "pushed within N days" narrow further (issue 9); each filter's drops are kept
// for `plan --explain`.
import semver from 'semver';
import { isValidTag } from '../oci/reference.js';
import type { TagFilter } from '../config/types.js';

const PIECES = /\d+|\D+/g;

/** Digit runs compared as numbers of any length (no Number overflow): `010` == `10`, `9` < `10`. */
function compareDigits(x: string, y: string): number {
  const a = x.replace(/^0+(?=\d)/, '');
  const b = y.replace(/^0+(?=\d)/, '');
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Plain UTF-16 code unit order: what makes every tie deterministic. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Natural order: runs of digits compare as numbers (t1204 > t0999, build-10 > build-9), other runs
 * and a digit run against a letter run by code unit; a tag that is a prefix of another sorts first.
 * Tags equal here (t01 and t1) are ordered by code unit, so this is a total order.
 */
export function naturalCompare(a: string, b: string): number {
  const pa = a.match(PIECES) ?? [];
  const pb = b.match(PIECES) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    const digits = /^\d/.test(x) && /^\d/.test(y);
    const c = digits ? compareDigits(x, y) : compareText(x, y);
    if (c !== 0) return c;
  }
  return pa.length - pb.length || compareText(a, b);
}

/**
 * The order `latest: N` keeps the last N of. Tags are read as versions the way the `semver` filter
 * reads them (tagVersion: `v1.2.3`, `1.25` = 1.25.0) and ordered by semver.compare (pre-releases
 * before their release; a tag cannot hold `+build`); every tag that is not a version ranks below
 * every version, in natural order among themselves (naturalCompare). Tags naming the same version
 * (`v1.2.0` and `1.2.0`, `1.25` and `1.25.0`) are ordered by naturalCompare, so `1.2.0` < `v1.2.0`
 * and `1.25` < `1.25.0`: the same input always keeps the same tags, in whatever order it was listed.
 */
export function compareTags(a: string, b: string): number {
  const va = tagVersion(a);
  const vb = tagVersion(b);
  if (va !== undefined && vb !== undefined) return semver.compare(va, vb) || naturalCompare(a, b);
  if (va !== undefined) return 1;
  if (vb !== undefined) return -1;
  return naturalCompare(a, b);
}

// A tag list is the registry's word, not ours: tags outside the grammar are dropped before
// anything else sees them, whichever lister produced them (isValidTag, oci/reference.ts).
/** Listed tags that are not tags (reported once, then skipped). */
export function invalidTags(tags: readonly string[]): string[] {
  return [...new Set(tags.filter((t) => !isValidTag(t)))];
}

/** One filter's effect on a repository's tags, for `plan --explain`. */
export interface FilterStep {
  filter: 'include' | 'exclude' | 'semver' | 'pushedWithinDays' | 'latest';
  /** The filter as written: the regexes, the range, the days. */
  detail: string;
  dropped: string[];
  /** Why a kept tag was kept anyway (no push time known). */
  note?: string;
}

export interface TagSelection {
  kept: string[];
  steps: FilterStep[];
}

/**
 * The version a tag names, or undefined. A leading `v` is allowed (v1.2.3), and `1.25` counts as
 * 1.25.0: image tags often leave the patch out (nginx:1.25), and a range over them should see them.
 */
export function tagVersion(tag: string): string | undefined {
  const t = tag.replace(/^v/i, '');
  // `1.05` is not `1.05.0`: semver forbids leading zeros, so it is no version either way.
  return semver.valid(t) ?? ((/^\d+\.\d+$/.test(t) && semver.valid(`${t}.0`)) || undefined);
}

/** A range semver accepts, or undefined. */
export function validRange(range: string): boolean {
  return semver.validRange(range) !== null;
}

export interface SelectOptions {
  /** Push times per tag (ISO 8601), for pushedWithinDays; undefined: the source gave none. */
  pushedAt?: ReadonlyMap<string, string>;
  now?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Every filter in order (include, exclude, semver, pushedWithinDays, latest), and what each dropped. */
export function explainTags(tags: readonly string[], filter: TagFilter | undefined, opts: SelectOptions = {}): TagSelection {
  let kept = [...new Set(tags)].filter(isValidTag);
  const steps: FilterStep[] = [];
  const step = (name: FilterStep['filter'], detail: string, keep: (t: string) => boolean, note?: string) => {
    const dropped = kept.filter((t) => !keep(t));
    kept = kept.filter(keep);
    steps.push({ filter: name, detail, dropped, ...(note ? { note } : {}) });
  };
  if (filter?.include?.length) step('include', filter.include.map(String).join(' '), (t) => filter.include!.some((r) => r.test(t)));
  if (filter?.exclude?.length) step('exclude', filter.exclude.map(String).join(' '), (t) => !filter.exclude!.some((r) => r.test(t)));
  if (filter?.semver !== undefined) {
    const range = filter.semver;
    step('semver', range, (t) => {
      const v = tagVersion(t);
      return v !== undefined && semver.satisfies(v, range);
    });
  }
  if (filter?.pushedWithinDays !== undefined) {
    const days = filter.pushedWithinDays;
    const times = opts.pushedAt;
    const since = (opts.now ?? Date.now()) - days * DAY_MS;
    if (!times) step('pushedWithinDays', String(days), () => true, 'the source gives no push times: every tag kept');
    else {
      // A tag the source gave no time for is kept: dropping it would lose an image for lack of data.
      const unknown = kept.filter((t) => !times.has(t));
      step('pushedWithinDays', String(days), (t) => {
        const at = times.get(t);
        return at === undefined || !(Date.parse(at) < since);
      }, unknown.length ? `${unknown.length} tag(s) without a push time kept` : undefined);
    }
  }
  if (filter?.latest !== undefined) {
    const sorted = [...kept].sort(compareTags);
    const last = new Set(sorted.slice(-filter.latest));
    step('latest', String(filter.latest), (t) => last.has(t));
    kept = sorted.filter((t) => last.has(t));
  }
  return { kept, steps };
}

export function selectTags(tags: readonly string[], filter: TagFilter | undefined, opts: SelectOptions = {}): string[] {
  return explainTags(tags, filter, opts).kept;
}
