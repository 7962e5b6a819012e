// Issue 13: config problems name the exact line and column of the node at fault, for syntax errors
// and schema problems alike, whatever the shape of the file (block mappings, flow sequences,
// multi-line strings, comments above, anchors and aliases, CRLF line endings, JSON).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../lib/config/load.js';
import { parseJsonText, parseYamlText, positionAt, TextSyntaxError } from '../../lib/config/source-text.js';
import { ConfigError } from '../../lib/errors.js';
import { tempDir, writeFile } from '../helpers/files.js';

const dir = tempDir('swrm-positions-');
let n = 0;

/** The problem lines of loading `text` as a native config file named `name`. */
async function problems(text: string, ext = 'yaml', env: NodeJS.ProcessEnv = {}): Promise<{ file: string; lines: string[] }> {
  const file = writeFile(dir, `c${n++}.${ext}`, text);
  try {
    await loadConfig({ config: file }, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return { file, lines: err.problems.length ? err.problems : [err.message] };
  }
  return assert.fail('expected a ConfigError');
}

const syntax = (text: string) => {
  try {
    parseYamlText(text);
  } catch (err) {
    assert.ok(err instanceof TextSyntaxError);
    return err.problems;
  }
  return assert.fail('expected a syntax error');
};

describe('YAML syntax errors: the line of the construct at fault', () => {
  test('an unclosed double quote is named where it opens, not where the file runs out (it was 4 lines off)', () => {
    const text = 'version: 1\n# the rules\n# below\nrules:\n  - source: "quay.io/a\n    destination: r.io/m\n  - source: b\n\n';
    // The yaml parser notices it at line 9; the quote opens on line 5, column 13.
    assert.deepEqual(syntax(text), [{ position: { line: 5, col: 13 }, reason: 'this double-quoted string has no closing "' }]);
  });

  test('single quotes, flow sequences and flow mappings left open', () => {
    assert.deepEqual(syntax("version: 1\nrules:\n  - source: 'a\n    destination: b\n"), [{ position: { line: 3, col: 13 }, reason: "this single-quoted string has no closing '" }]);
    assert.deepEqual(syntax('version: 1\nrules:\n  - source: a\n    tags: [v1, v2\n    destination: b\n\n\nx: 1\n'), [
      { position: { line: 4, col: 11 }, reason: 'this flow sequence "[" has no closing "]"' },
    ]);
    assert.deepEqual(syntax('version: 1\ndefaults: { concurrency: 2,\n  retries: 3\nrules: []\n'), [{ position: { line: 2, col: 11 }, reason: 'this flow mapping "{" has no closing "}"' }]);
  });

  test('CRLF line endings and a byte-order mark count as editors count them', () => {
    assert.deepEqual(syntax('\ufeffversion: 1\r\n# comment\r\nrules:\r\n  - source: "a\r\n    destination: b\r\n\r\n'), [
      { position: { line: 4, col: 13 }, reason: 'this double-quoted string has no closing "' },
    ]);
  });

  test('every error of the file is listed, without the text around it', () => {
    const found = syntax('version: 1\nrules:\n  - source: a\n   destination: b\nx:\n\t- y\npassword: "se\\qcret"\n');
    assert.deepEqual(found.map((p) => p.position?.line), [4, 6, 7]);
    assert.equal(found[2]!.reason, 'invalid escape sequence in a double-quoted string');
    assert.ok(found.every((p) => !p.reason.includes('cret')));
  });

  test('through the loader: FILE:LINE:COL: syntax error: ...', async () => {
    const { file, lines } = await problems('version: 1\nrules:\n  - source: "quay.io/a\n    destination: r.io/m\n');
    assert.deepEqual(lines, [`${file}:3:13: syntax error: this double-quoted string has no closing "`]);
  });
});

describe('JSON syntax errors', () => {
  test('line and column of the character at fault, also where V8 names no position', async () => {
    const bad = (text: string) => {
      try {
        parseJsonText(text);
      } catch (err) {
        return (err as TextSyntaxError).problems[0];
      }
      return undefined;
    };
    assert.deepEqual(bad('{\n  "a": [1,\n2\n}'), { position: { line: 4, col: 1 }, reason: "Expected ',' or ']' after array element" });
    // V8: `Unexpected token 's', "{..."p": secret..." is not valid JSON`: no position, and the text quoted.
    assert.deepEqual(bad('{\n  "user": "u",\n  "p": s3cret\n}'), { position: { line: 3, col: 8 }, reason: 'unexpected character' });
    const { file, lines } = await problems('{\n  "version": 1,\n  "rules": [\n    {"source": "a", "destination": "b",}\n  ]\n}\n', 'json');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, new RegExp(`^${file.replace(/[.]/g, '\\.')}:4:40: syntax error: `));
  });
});

describe('schema problems: the line and column of the node', () => {
  test('block mappings, flow sequences, comments above, a multi-line string before the node', async () => {
    const { file, lines } = await problems(
      [
        '# swr-migrate config', //                         1
        '# (comments above count as lines)', //             2
        'version: 1', //                                    3
        'defaults:', //                                     4
        '  concurrency: lots', //                           5: the value, column 16
        '  concurency: 4', //                               6: the unknown key itself, column 3
        'registries:', //                                   7
        '  quay.io:', //                                    8
        '    username: robot', //                           9
        '    password: |', //                              10
        '      multi', //                                  11
        '      line', //                                   12
        '    insecur: true', //                            13: after the block scalar
        'rules:', //                                       14
        "  - source: quay.io/a/b", //                      15
        "    tags: { include: ['^v1', '((('] }", //        16: the second item of a flow sequence, column 30
        '    destination: [r.io/ok, r.io/Bad]', //         17: the second destination, column 28
      ].join('\n'),
    );
    assert.deepEqual(lines, [
      `${file}:5:16: defaults.concurrency: expected a whole number from 1 to 256`,
      `${file}:6:3: defaults: Unrecognized key: "concurency"`,
      `${file}:13:5: registries.quay.io: Unrecognized key: "insecur"`,
      `${file}:16:30: rules[0].tags.include[1]: invalid regular expression: Invalid regular expression: /(((/: Unterminated group`,
      `${file}:17:28: rules[0].destination[1]: invalid image reference "r.io/Bad/b": repository names must be lowercase`,
    ]);
  });

  test('anchors and aliases: the problem is placed on the anchored value it comes from', async () => {
    const { file, lines } = await problems(
      [
        'version: 1', //                                   1
        'rules:', //                                       2
        '  - source: quay.io/a/b', //                      3
        '    destination: r.io/m', //                      4
        '    tags: &filters', //                           5
        '      include: ["[z-a]"]', //                     6: the regex, column 17
        '  - source: quay.io/a/c', //                      7
        '    destination: r.io/m', //                      8
        '    tags: *filters', //                           9
      ].join('\n'),
    );
    assert.deepEqual(lines, [
      `${file}:6:17: rules[0].tags.include[0]: invalid regular expression: Invalid regular expression: /[z-a]/: Range out of order in character class`,
      `${file}:6:17: rules[1].tags.include[0]: invalid regular expression: Invalid regular expression: /[z-a]/: Range out of order in character class`,
    ]);
  });

  test('CRLF line endings and a missing key (placed on the mapping that lacks it)', async () => {
    const { file, lines } = await problems('version: 1\r\nrules:\r\n  # one rule\r\n  - source: quay.io/a/b\r\n    tags: [v1, "bad tag"]\r\n');
    assert.deepEqual(lines, [
      `${file}:4:5: rules[0].destination: expected registry/namespace or a non-empty list of them`,
      `${file}:5:16: rules[0].tags[1]: not a valid tag (letters, digits, "_", "." and "-", at most 128)`,
    ]);
  });

  test('JSON files: the same places', async () => {
    const { file, lines } = await problems(
      JSON.stringify({ version: 1, defaults: { retries: -1 }, rules: [{ source: 'quay.io/a/b', destination: 'r.io/m', mapping: 'flat' }] }, null, 2),
      'json',
    );
    assert.deepEqual(lines, [
      `${file}:4:16: defaults.retries: expected a whole number from 0 to 20`,
      `${file}:10:18: rules[0].mapping: expected basename (the last path component) or path (the whole source path)`,
    ]);
  });

  test('positionAt counts lines at "\\n" and columns in characters', () => {
    assert.deepEqual(positionAt('a\r\nbc', 4), { line: 2, col: 2 });
    assert.deepEqual(positionAt('# 注释\nx: 1', 8), { line: 2, col: 4 });
    assert.deepEqual(positionAt('😀: 1', 2), { line: 1, col: 2 }, 'an emoji is one column, not two UTF-16 units');
    assert.deepEqual(positionAt('x', 0), { line: 1, col: 1 });
  });
});
