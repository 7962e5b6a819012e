// zod issues as lines a user can act on: `file: path.to.field: what was expected`.
import type { z } from 'zod';

export function formatZodIssues(error: z.ZodError, file: string): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.') : '(top level)';
    return `${file}: ${path.replace(/\.\[/g, '[')}: ${issue.message}`;
  });
}
