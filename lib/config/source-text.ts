// A config file's text parsed with the place of every value kept, so a problem names the exact line
// and column of the node at fault (issue 13). YAML and JSON alike: JSON is read by JSON.parse (its
// values), and also by the yaml parser for the positions only (YAML 1.2 is a superset of JSON).
// Positions are counted on the text itself: lines split at "\n" (so CRLF counts one line), columns
// in characters from 1, a leading byte-order mark not counted (editors do not show it).
import { CST, isAlias, isMap, isScalar, isSeq, parseDocument, Parser, type Document, type Node } from 'yaml';
import type { ErrorCode as YamlErrorCode } from 'yaml';
import { findJsonDuplicate } from './duplicate-keys.js';

export interface Position {
  line: number;
  col: number;
}

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

/** A syntax error: where, and the parser's reason without any of the file's text. */
export interface SyntaxProblem {
  position?: Position;
  reason: string;
}

/** Thrown when the text does not parse at all; every error the parser found, in order. */
export class TextSyntaxError extends Error {
  constructor(readonly problems: SyntaxProblem[]) {
    super(problems.map((p) => `${p.position ? `line ${p.position.line}, column ${p.position.col}: ` : ''}${p.reason}`).join('; '));
  }
}

const noPosition: Locate = () => undefined;

/** Line and column (both from 1) of a character offset. */
export function positionAt(text: string, offset: number): Position {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < start; i = text.indexOf('\n', i + 1)) line++;
  // Code points, not UTF-16 units: a CJK or emoji comment before the node counts as one column each.
  return { line, col: [...text.slice(start, offset)].length + 1 };
}

const stripBom = (text: string) => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);

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

// Codes whose yaml message quotes the file's text (an escape, a tag, a block scalar header): a
// password may sit there, so these get a fixed wording.
const QUOTES_TEXT: Partial<Record<YamlErrorCode, string>> = {
  BAD_DQ_ESCAPE: 'invalid escape sequence in a double-quoted string',
  TAG_RESOLVE_FAILED: 'unresolved tag',
  BAD_COLLECTION_TYPE: 'a tag used on the wrong kind of collection',
};

/** The parser's wording, first line only, without the " at line N, column M" it adds or any quoted text. */
function yamlReason(code: YamlErrorCode, message: string): string {
  const fixed = QUOTES_TEXT[code];
  if (fixed) return fixed;
  const first = (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  // "Not a valid tag: !x", "Block scalar header includes extra characters: x": cut what follows.
  const cut = first.indexOf(': ');
  const reason = cut < 0 ? first : first.slice(0, cut);
  return /^Unresolved plain scalar|^Unresolved alias/.test(reason) ? reason.replace(/ ".*$|:.*$/, '') : reason;
}

function yamlSyntaxProblems(text: string, doc: Document): SyntaxProblem[] {
  const unclosed = unclosedConstructs(text);
  const seen = new Set<string>();
  const out: SyntaxProblem[] = [];
  for (const e of doc.errors) {
    let offset = e.pos[0];
    let reason = yamlReason(e.code, e.message);
    // A missing closing quote or bracket is noticed where the text runs out, often many lines below
    // (issue 13: "4 lines off"): name the place it was opened instead.
    if (/closing|end with/.test(e.message)) {
      const opened = unclosed.findLast((u) => u.offset <= offset);
      if (opened) {
        offset = opened.offset;
        reason = opened.reason;
      }
    }
    const position = positionAt(text, offset);
    const key = `${position.line}:${position.col}:${reason}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ position, reason });
  }
  return out;
}

interface Unclosed {
  offset: number;
  reason: string;
}

const CLOSED_DOUBLE = /^"(?:[^"\\]|\\[\s\S])*"$/;
const CLOSED_SINGLE = /^'(?:[^']|'')*'$/;
const FLOW_NAMES: Record<string, [string, string]> = { '[': [']', 'flow sequence'], '{': ['}', 'flow mapping'] };

/** Quoted strings and flow collections that never end, in the order they open. */
function unclosedConstructs(text: string): Unclosed[] {
  const out: Unclosed[] = [];
  const check = (token: CST.Token | undefined) => {
    if (!token) return;
    if (token.type === 'double-quoted-scalar' && !CLOSED_DOUBLE.test(token.source)) {
      out.push({ offset: token.offset, reason: 'this double-quoted string has no closing "' });
    } else if (token.type === 'single-quoted-scalar' && !CLOSED_SINGLE.test(token.source)) {
      out.push({ offset: token.offset, reason: "this single-quoted string has no closing '" });
    } else if (token.type === 'flow-collection') {
      const [close, name] = FLOW_NAMES[token.start.source] ?? [']', 'flow collection'];
      if (!token.end.some((t) => t.source === close)) out.push({ offset: token.offset, reason: `this ${name} "${token.start.source}" has no closing "${close}"` });
    }
  };
  for (const token of new Parser().parse(text)) {
    if (token.type !== 'document') continue;
    check(token.value);
    CST.visit(token, (item) => {
      check(item.key ?? undefined);
      check(item.value);
    });
  }
  return out.sort((a, b) => a.offset - b.offset);
}

// V8's JSON.parse messages, without the excerpt of the text some of them quote.
const JSON_REASONS = [
  /^(Expected [^"]*?)(?= in JSON|$)/,
  /^(Bad control character in string literal)/,
  /^(Bad escaped character)/,
  /^(Unterminated string in JSON)/,
  /^(Unexpected end of JSON input)/,
  /^(Exponent part is missing a number)/,
  /^(Unterminated fractional number)/,
  /^(No number after minus sign)/,
];

/** `syntax error at line L, column C: reason` for a JSON.parse failure, quoting none of the text. */
export function describeJsonError(text: string, err: unknown): string {
  const { position, reason } = jsonSyntaxProblem(stripBom(text), err);
  return `syntax error${position ? ` at line ${position.line}, column ${position.col}` : ''}: ${reason}`;
}

function jsonSyntaxProblem(text: string, err: unknown): SyntaxProblem {
  const message = (err as Error).message ?? '';
  let reason = 'syntax error';
  for (const re of JSON_REASONS) {
    const m = re.exec(message);
    if (m) {
      reason = m[1]!.replace(/ in JSON$/, '').trim();
      break;
    }
  }
  if (reason === 'syntax error' && /^Unexpected (token|non-whitespace)/.test(message)) reason = 'unexpected character';
  // V8 gives "at position N" for most errors, but not for an unexpected token (its message quotes
  // the text instead): there the scan below finds the offset.
  const position = /at position (\d+)/.exec(message)?.[1];
  const offset = position !== undefined ? Number(position) : /end of JSON input/.test(message) ? text.length : jsonErrorOffset(text);
  return offset === undefined ? { reason } : { position: positionAt(text, offset), reason };
}

/** The offset where a JSON text stops being JSON (RFC 8259 grammar), or undefined if it is JSON. */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => (text.startsWith(word, i) ? (i += word.length) : fail());
  const string = () => {
    i++; // the opening quote
    for (;;) {
      const ch = text[i];
      if (ch === undefined || ch < ' ') fail();
      if (ch === '"') return void i++;
      if (ch === '\\') {
        const e = text[i + 1];
        if (e === 'u' ? !/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6)) : !e || !'"\\/bfnrt'.includes(e)) {
          i++;
          fail();
        }
        i += e === 'u' ? 6 : 2;
      } else i++;
    }
  };
  const value = (depth = 0): void => {
    if (depth > 512) throw new RangeError('too deep'); // no position then, rather than a stack overflow
    ws();
    const ch = text[i];
    if (ch === '{' || ch === '[') {
      const close = ch === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) return void i++;
      for (;;) {
        if (ch === '{') {
          ws();
          if (text[i] !== '"') fail();
          string();
          ws();
          if (text[i] !== ':') fail();
          i++;
        }
        value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === close) return void i++;
        else fail();
      }
    }
    if (ch === '"') return string();
    if (ch === 't') return void literal('true');
    if (ch === 'f') return void literal('false');
    if (ch === 'n') return void literal('null');
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m![0].length;
  };
  try {
    value();
    ws();
    return i < text.length ? i : undefined;
  } catch (at) {
    return typeof at === 'number' ? at : undefined;
  }
}
