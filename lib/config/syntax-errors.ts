// Syntax errors of a config file, at the line and column of the construct at fault and without
// the text around it (in an auth file that text is a password). The yaml parser notices an unclosed
// quote or bracket where the text runs out, often many lines below where it opens (issue 13: "a
// YAML error was reported 4 lines off"); V8's JSON.parse gives an offset for most errors, none for
// an unexpected token (its message quotes the text instead), and Node 20 never a line.
import { CST, Parser, type Document } from 'yaml';
import type { ErrorCode as YamlErrorCode } from 'yaml';
import { positionAt, stripBom, type SyntaxProblem } from './text-position.js';

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

export function yamlSyntaxProblems(text: string, doc: Document): SyntaxProblem[] {
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

export function jsonSyntaxProblem(text: string, err: unknown): SyntaxProblem {
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
