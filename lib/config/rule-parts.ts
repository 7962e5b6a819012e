// Pieces both config formats need: problems collected as `FILE: path: reason` lines, tag regexes,
// platform strings. Kept apart so the two loaders report the same mistake the same way.
import { ConfigError } from '../errors.js';
import { formatPath } from './zod-issues.js';

/** Collects every problem of a load, so one run lists them all instead of one per attempt. */
export class Problems {
  readonly lines: string[] = [];
  constructor(private readonly file: string) {}
  /** A problem at a structured path: `FILE: rules[1].source: reason`. */
  at(path: readonly PropertyKey[], reason: string): void {
    this.lines.push(`${this.file}: ${formatPath(path)}: ${reason}`);
  }
  /** A problem whose line is already formatted (zod issues, env expansion, a nested loader). */
  add(...lines: string[]): void {
    this.lines.push(...lines);
  }
  /** Record a thrown ConfigError's problems (or its message); anything else is a bug and rethrown. */
  addError(err: unknown): void {
    if (!(err instanceof ConfigError)) throw err;
    this.lines.push(...(err.problems.length ? err.problems : [err.message]));
  }
  throwIfAny(message: string): void {
    if (this.lines.length) throw new ConfigError(message, this.lines);
  }
}

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
