// Reading a config, auth or images file: its value, where each value sits (source-text.ts), and its
// duplicate keys as problems. A duplicate is a problem like any other, listed with the rest in one
// run, not an error that hides them; only text that does not parse at all stops the file here.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ConfigError } from '../errors.js';
import { fileAt } from './problems.js';
import { formatPath } from './zod-issues.js';
import { type DuplicateKey, type Locate, type ParsedText, parseJsonText, parseYamlText, TextSyntaxError } from './source-text.js';

/** How a duplicate key is named in the error; default `duplicate key "k"` (with where it is). */
export type DuplicateWording = (d: DuplicateKey) => string;

const defaultWording: DuplicateWording = (d) => `duplicate key "${d.key}"${d.path.length ? ` under ${formatPath(d.path)}` : ''}`;

export interface ConfigText {
  value: unknown;
  locate: Locate;
  /** One line per duplicate key, with its place and the first one's line. */
  duplicates: string[];
}

/**
 * Read and parse a file by extension: .yaml/.yml as YAML, .json as JSON, anything else as JSON and
 * then YAML. Throws a ConfigError when it cannot be read or does not parse, listing every syntax
 * error at the line and column of the construct at fault, never the text around it (in an auth
 * file that text is a password).
 */
export async function readConfigFile(file: string, wording: DuplicateWording = defaultWording): Promise<ConfigText> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const ext = extname(file).toLowerCase();
  const kind = ext === '.yaml' || ext === '.yml' ? 'YAML' : ext === '.json' ? 'JSON' : 'YAML or JSON';
  let parsed: ParsedText;
  try {
    if (kind === 'YAML') parsed = parseYamlText(text);
    else if (kind === 'JSON') parsed = parseJsonText(text);
    else {
      try {
        parsed = parseJsonText(text);
      } catch {
        parsed = parseYamlText(text);
      }
    }
  } catch (err) {
    if (!(err instanceof TextSyntaxError)) throw err;
    throw new ConfigError(`${file} is not valid ${kind}`, err.problems.map((p) => `${fileAt(file, p.position)}: syntax error: ${p.reason}`));
  }
  const duplicates = parsed.duplicates.map(
    (d) => `${fileAt(file, d.position)}: ${wording(d)}${d.first ? ` (first at line ${d.first.line})` : ''}; each key may appear once, merge the two entries`,
  );
  return { value: parsed.value, locate: parsed.locate, duplicates };
}
