// Pieces both config formats need: problems (problems.ts), tag regexes, platform strings. Kept
// apart so the two loaders report the same mistake the same way.
export { Problems } from './problems.js';

/** Compile a user's tag regex, or say why it does not compile. */
export function compileRegex(source: string): RegExp | string {
  try {
    return new RegExp(source);
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`;
  }
}

/** `os/arch[/variant]` as in an image index's platform object: linux/amd64, linux/arm64/v8. */
export const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;
export const PLATFORM_HINT = 'expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8';

/** distribution's tag grammar (reference/regexp.go), 128 characters at most. */
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Message of an InvalidReferenceError or the like, without repeating what the path already says. */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
