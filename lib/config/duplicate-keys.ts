// Duplicate mapping keys in JSON text the yaml parser cannot read (source-text.ts finds them, with
// their places, in everything it can). JSON.parse keeps the last value (ECMA-404 allows duplicates
// and says nothing about which wins), and a reviver cannot see them, as it runs on the already
// merged object; in an images file a duplicate is a source whose first destination would be
// silently dropped.
import type { DuplicateKey } from './source-text.js';

interface Frame {
  object: boolean;
  path: (string | number)[];
  keys: Set<string>;
  expectKey: boolean;
  lastKey: string;
  index: number;
}

/** The first duplicate key of a text that JSON.parse accepted; undefined when there is none. */
export function findJsonDuplicate(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  const open = (object: boolean) => {
    const parent = stack[stack.length - 1];
    const path = parent ? [...parent.path, parent.object ? parent.lastKey : parent.index] : [];
    stack.push({ object, path, keys: new Set(), expectKey: object, lastKey: '', index: 0 });
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const top = stack[stack.length - 1];
    if (ch === '{' || ch === '[') open(ch === '{');
    else if (ch === '}' || ch === ']') stack.pop();
    else if (ch === ',' && top) {
      if (top.object) top.expectKey = true;
      else top.index++;
    } else if (ch === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (top?.object && top.expectKey) {
        // The text is valid JSON, so the token is a valid string literal; JSON.parse undoes escapes
        // (`"a"` and `"\u0061"` are the same key).
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) return { path: top.path, key };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = end;
    }
    // Anything else (':', whitespace, numbers, true/false/null) carries no key.
  }
  return undefined;
}
