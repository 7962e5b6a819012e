// Tag globs (prune.protect): picomatch over tag names, which hold no `/`, so `*` is enough for most.
import picomatch from 'picomatch';

/** Why `glob` is not a usable tag glob, or undefined. */
export function globProblem(glob: string): string | undefined {
  if (glob.includes('/')) return `"${glob}" has a "/": tags have none; write a tag glob such as "v1.*" or "latest"`;
  try {
    picomatch.makeRe(glob);
    return undefined;
  } catch (err) {
    return `"${glob}" is not a glob (${(err as Error).message})`;
  }
}

/** A matcher for any of `globs` over tag names. */
export function tagMatcher(globs: readonly string[]): (tag: string) => boolean {
  if (!globs.length) return () => false;
  const m = picomatch(globs as string[], { dot: true });
  return (tag) => m(tag);
}
