// zod issues as lines a user can act on: `file: path.to.field: what was expected`.
import type { z } from 'zod';

/** `['rules', 1, 'tags', 'include', 0]` -> `rules[1].tags.include[0]`; `[]` -> `(top level)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (!path.length) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/** `prefix` is where the validated value sits in the file, when a part is validated on its own. */
export function formatZodIssues(error: z.ZodError, file: string, prefix: readonly PropertyKey[] = []): string[] {
  return error.issues.map((issue) => `${file}: ${formatPath([...prefix, ...issue.path])}: ${issue.message}`);
}
