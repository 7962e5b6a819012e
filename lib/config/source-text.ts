// A config file's text parsed with the place of every value kept, so a problem names the exact line
// and column of the node at fault (issue 13). YAML and JSON alike: JSON is read by JSON.parse (its
// values), and also by the yaml parser for the positions only (YAML 1.2 is a superset of JSON).
// Positions are counted as editors count them (text-position.ts); syntax errors: syntax-errors.ts.
import { isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { findJsonDuplicate } from './duplicate-keys.js';
import { jsonSyntaxProblem, yamlSyntaxProblems } from './syntax-errors.js';
import { type Position, positionAt, stripBom, type SyntaxProblem } from './text-position.js';

export { type Position, positionAt, type SyntaxProblem } from './text-position.js';

/**
 * Where the node at a path sits. `key`: the mapping key itself (an unknown or duplicate key);
 * otherwise a scalar's own place, or the key of a collection (its first line of content may be far
 * below). A path that stops existing part way gives the deepest node it reached.
 */
export type Locate = (path: readonly PropertyKey[], at?: 'key' | 'value') => Position | undefined;

export interface DuplicateKey {
  /** Keys (and array indexes) from the top down to the mapping that holds the duplicate. */
  path: (string | number)[];
  key: string;
  /** The second occurrence, and the first. */
  position?: Position;
  first?: Position;
}

export interface ParsedText {
  value: unknown;
  locate: Locate;
  duplicates: DuplicateKey[];
}

/** Thrown when the text does not parse at all; every error the parser found, in order. */
export class TextSyntaxError extends Error {
  constructor(readonly problems: SyntaxProblem[]) {
    super(problems.map((p) => `${p.position ? `line ${p.position.line}, column ${p.position.col}: ` : ''}${p.reason}`).join('; '));
  }
}

const noPosition: Locate = () => undefined;

/** YAML text: its value, where each value sits, and every duplicate key (YAML 1.2 forbids them). */
export function parseYamlText(given: string): ParsedText {
  const text = stripBom(given);
  // uniqueKeys off: the parser's own DUPLICATE_KEY error names neither the key nor the first one.
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length) throw new TextSyntaxError(yamlSyntaxProblems(text, doc));
  return { value: doc.toJS() as unknown, locate: locator(text, doc), duplicates: duplicatesOf(text, doc) };
}

/** JSON text (JSON.parse's value); positions and duplicates through the yaml parser when it reads it cleanly. */
export function parseJsonText(given: string): ParsedText {
  const text = stripBom(given);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TextSyntaxError([jsonSyntaxProblem(text, err)]);
  }
  const doc = parseDocument(text, { uniqueKeys: false });
  // A JSON text the yaml parser refuses (rare) keeps its value and duplicate check, without places.
  if (doc.errors.length) {
    const duplicate = findJsonDuplicate(text);
    return { value, locate: noPosition, duplicates: duplicate ? [duplicate] : [] };
  }
  return { value, locate: locator(text, doc), duplicates: duplicatesOf(text, doc) };
}

type AnyNode = Node | null | undefined;

function offsetOf(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] | null } | null | undefined)?.range;
  return range ? range[0] : undefined;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function locator(text: string, doc: Document): Locate {
  const deref = (node: AnyNode): AnyNode => (isAlias(node) ? (node.resolve(doc) as AnyNode) : node);
  return (path, at = 'value') => {
    let node = deref(doc.contents as AnyNode);
    let best = offsetOf(node);
    for (let i = 0; i < path.length; i++) {
      const last = i === path.length - 1;
      const seg = path[i]!;
      if (isMap(node)) {
        // The last of equal keys: the one whose value the parsed object holds.
        const pair = node.items.findLast((p) => keyText(p.key) === String(seg));
        if (!pair) break;
        const keyAt = offsetOf(pair.key) ?? best;
        const value = deref(pair.value as AnyNode);
        if (last) {
          if (at === 'value' && isScalar(value) && offsetOf(value) !== undefined) best = offsetOf(value);
          else best = keyAt;
          break;
        }
        best = keyAt;
        node = value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as AnyNode;
        if (item === undefined) break;
        const value = deref(item);
        best = (isScalar(value) ? offsetOf(value) : undefined) ?? offsetOf(item) ?? best;
        node = value;
      } else break;
    }
    return best === undefined ? undefined : positionAt(text, best);
  };
}

function duplicatesOf(text: string, doc: Document): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  const walk = (node: AnyNode, path: (string | number)[]) => {
    if (isMap(node)) {
      const seen = new Map<string, unknown>();
      for (const pair of node.items) {
        const key = keyText(pair.key);
        const first = seen.get(key);
        if (first !== undefined) {
          const at = offsetOf(pair.key);
          const was = offsetOf(first);
          found.push({ path, key, ...(at !== undefined ? { position: positionAt(text, at) } : {}), ...(was !== undefined ? { first: positionAt(text, was) } : {}) });
        } else seen.set(key, pair.key);
        walk(pair.value as AnyNode, [...path, key]);
      }
    } else if (isSeq(node)) node.items.forEach((item, i) => walk(item as AnyNode, [...path, i]));
  };
  walk(doc.contents as AnyNode, []);
  return found;
}
