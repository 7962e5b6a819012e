// Every problem of a config load, collected so one run lists them all (issue 13: "config errors come
// in two passes"), each as `FILE:LINE:COL: path: what was expected` when the file's text is known
// (source-text.ts), else `FILE: path: what was expected` (a value built in code, a test).
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { Locate, Position } from './source-text.js';
import { formatPath } from './zod-issues.js';

/** `sync.yaml:12:5` when the place is known, else `sync.yaml`. */
export function fileAt(file: string, position: Position | undefined): string {
  return position ? `${file}:${position.line}:${position.col}` : file;
}

export interface AtOptions {
  /** Point at the mapping key itself (an unknown or duplicate key), not at its value. */
  key?: boolean;
  /** How the path is shown, when not as `a.b[0]` (image-syncer's quoted sources). */
  label?: string;
}

export class Problems {
  readonly lines: string[] = [];
  constructor(
    readonly file: string,
    private readonly locate: Locate = () => undefined,
  ) {}

  /** `FILE:LINE:COL: path` for a path in this file (also the `where` of later messages: secrets). */
  where(path: readonly PropertyKey[], opts: AtOptions = {}): string {
    return `${fileAt(this.file, this.locate(path, opts.key ? 'key' : 'value'))}: ${opts.label ?? formatPath(path)}`;
  }

  /** A problem at a structured path: `FILE:LINE:COL: rules[1].source: reason`. */
  at(path: readonly PropertyKey[], reason: string, opts: AtOptions = {}): void {
    this.lines.push(`${this.where(path, opts)}: ${reason}`);
  }

  /**
   * A zod validation's issues under `prefix`. An unknown key is one line per key, placed on the key
   * (zod groups them on the mapping that holds them).
   */
  zod(error: z.ZodError, prefix: readonly PropertyKey[] = []): void {
    for (const issue of error.issues) {
      const path = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) this.at([...path, key], `Unrecognized key: "${key}"`, { key: true, label: formatPath(path) });
      } else this.at(path, issue.message);
    }
  }

  /** A problem whose line is already formatted (a nested loader's, a flag's). */
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
