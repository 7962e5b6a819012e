// Places in a text as an editor shows them: lines split at "\n" (so CRLF counts one line), columns
// in characters from 1, a leading byte-order mark not counted (editors do not show it).

export interface Position {
  line: number;
  col: number;
}

/** Line and column (both from 1) of a character offset. */
export function positionAt(text: string, offset: number): Position {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < start; i = text.indexOf('\n', i + 1)) line++;
  // Code points, not UTF-16 units: a CJK or emoji comment before the node counts as one column each.
  return { line, col: [...text.slice(start, offset)].length + 1 };
}

/** A syntax error: where, and the parser's reason without any of the file's text. */
export interface SyntaxProblem {
  position?: Position;
  reason: string;
}

/** The text without a leading byte-order mark. */
export const stripBom = (text: string) => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
