// The words of the planning warnings a user sees, one line each, shared by the planner (plan, sync,
// verify) and the copier's expand step (replay, work, the Lambda copier), so every command says the
// same thing the same way (issue 13). Where they go is the caller's: the CLI prints each as a
// `warning:` line (lib/cli/warnings.ts), the Lambda functions log them.

/** Listed tags outside the tag grammar (e.g. `x@sha256:...`): skipped, never copied. */
export function invalidTagsWarning(source: string, tags: readonly string[], origin: string): string {
  return `${origin}: skipped invalid tag(s) of ${source}: ${tags.map((t) => JSON.stringify(t)).join(', ')}`;
}

/** pushedWithinDays on a source that gives no push times: every tag is kept. */
export function noPushTimesWarning(origin: string, registry: string, kind: string, days: number): string {
  return `${origin}: ${registry} gives no push times (${kind}), so pushedWithinDays ${days} keeps every tag; filter with latest or semver instead`;
}

/** `prune: true` without `max`: the default cap applies. */
export function pruneDefaultMaxWarning(origin: string, max: number): string {
  return `${origin}: prune deletes at most ${max} tags per run; set prune.max`;
}

/** A protect glob that matches no tag at the rule's destinations (a typo protects nothing). */
export function protectMatchesNothingWarning(origin: string, glob: string, destinations: readonly string[]): string {
  return `${origin}: prune.protect "${glob}" matches no tag at ${destinations.join(', ')}`;
}

/** More tags to prune than the rule's max: none is deleted. */
export function pruneAboveMaxWarning(origin: string, count: number, max: number, destinations: readonly string[]): string {
  return `${origin}: prune held: ${count} tag(s) at ${destinations.join(', ')} are gone at the source, more than prune.max ${max}; nothing deleted (raise prune.max, or delete them by hand)`;
}

/** Why a rule's prune did nothing at all (an empty source listing, unreadable records). */
export function pruneSkippedWarning(origin: string, why: string): string {
  return `${origin}: prune skipped: ${why}`;
}
