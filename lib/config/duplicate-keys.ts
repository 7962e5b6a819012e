// Duplicate mapping keys in config files. Both parsers hide them: JSON.parse keeps the last value
// (ECMA-404 allows duplicates and says nothing about which wins), and a reviver cannot see them, as
// it runs on the already merged object. The `yaml` package refuses them (YAML 1.2 requires unique
// keys) but names only the line. In an images file a duplicate is a source whose first destination
// would be silently dropped, so both are found here, with the key and where it sits.
import { isMap, isScalar, parseDocument, visit } from 'yaml';

export interface DuplicateKey {
  /** Keys (and array indexes) from the top down to the mapping that holds the duplicate. */
  path: string[];
  key: string;
}

interface Frame {
  object: boolean;
  path: string[];
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
    const path = parent ? [...parent.path, parent.object ? parent.lastKey : String(parent.index)] : [];
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

/**
 * Parse YAML, refusing duplicate keys with their name. Other syntax errors are thrown as the
 * parser's own error (the caller reduces it to a line number).
 */
export function parseYamlUnique(text: string): { value: unknown; duplicate?: DuplicateKey } {
  // uniqueKeys off: the parser's DUPLICATE_KEY error would not say which key.
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length) throw doc.errors[0];
  let duplicate: DuplicateKey | undefined;
  visit(doc, {
    Map(_, map, ancestors) {
      const seen = new Set<string>();
      for (const item of map.items) {
        const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
        if (seen.has(key)) {
          duplicate = { path: pathOf(ancestors), key };
          return visit.BREAK;
        }
        seen.add(key);
      }
      return undefined;
    },
  });
  return duplicate ? { value: undefined, duplicate } : { value: doc.toJS() as unknown };
}

/** The keys above a node: each Pair's key on the way down from the document. */
function pathOf(ancestors: readonly unknown[]): string[] {
  const path: string[] = [];
  for (const a of ancestors) {
    if (a && typeof a === 'object' && 'key' in a && 'value' in a && !isMap(a)) {
      const k = (a as { key: unknown }).key;
      path.push(isScalar(k) ? String(k.value) : String(k));
    }
  }
  return path;
}
