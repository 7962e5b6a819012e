// Paths in a config file as a user reads them (problems.ts puts them in `FILE:LINE:COL: path: reason`).

/** `['rules', 1, 'tags', 'include', 0]` -> `rules[1].tags.include[0]`; `[]` -> `(top level)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (!path.length) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}
