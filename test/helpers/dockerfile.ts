// A Dockerfile read line by line, enough to check the repository's own (test/unit/dockerfile.test.ts):
// no Dockerfile parser is a dependency, and the file uses only plain instructions. Handles what the
// Dockerfile reference allows around them: `#` comment lines, `\` line continuations, any case for
// the instruction, and JSON (exec) form. A parser directive or heredoc would be read as text, so the
// test would fail on one rather than misread it.

export interface Instruction {
  /** Upper-cased: FROM, COPY, RUN ... */
  op: string;
  /** Everything after the instruction word, continuation lines joined with a space. */
  args: string;
  /** 1-based line the instruction starts on, for messages. */
  line: number;
}

export interface Stage {
  /** The image of `FROM IMAGE [AS NAME]`. */
  from: string;
  name?: string;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comment lines are dropped even inside a continued instruction, as Docker does.
    if (trimmed.startsWith('#')) return;
    if (!pending && trimmed === '') return;
    const continued = trimmed.endsWith('\\');
    const part = continued ? trimmed.slice(0, -1).trim() : trimmed;
    pending = pending ? { text: `${pending.text} ${part}`.trim(), line: pending.line } : { text: part, line: i + 1 };
    if (continued) return;
    const m = /^(\S+)\s*(.*)$/.exec(pending.text);
    if (m) instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!, line: pending.line });
    pending = undefined;
  });
  if (pending) throw new Error(`line ${pending.line}: the last instruction ends with a continuation`);

  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+as\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      stages.push({ from: m[1]!, ...(m[2] ? { name: m[2] } : {}), instructions: [] });
    } else {
      const stage = stages.at(-1);
      // ARG may precede the first FROM; nothing else may.
      if (!stage) {
        if (ins.op !== 'ARG') throw new Error(`line ${ins.line}: ${ins.op} before the first FROM`);
        continue;
      }
      stage.instructions.push(ins);
    }
  }
  return stages;
}

/** The exec (JSON array) form of ENTRYPOINT, CMD, VOLUME ...; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const value = JSON.parse(args) as unknown;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`not a JSON array of strings: ${args}`);
  return value;
}

export interface Copy {
  /** The stage it copies from (`--from=`), or undefined for the build context. */
  from?: string;
  sources: string[];
  destination: string;
  line: number;
}

/** A COPY or ADD, with its flags (--from, --chown, --chmod, --link) read off; paths in either form. */
export function copyOf(ins: Instruction): Copy {
  let rest = ins.args;
  let from: string | undefined;
  for (let m = /^--(\S+)\s*/.exec(rest); m; m = /^--(\S+)\s*/.exec(rest)) {
    if (m[1]!.startsWith('from=')) from = m[1]!.slice('from='.length);
    rest = rest.slice(m[0].length);
  }
  const paths = execForm(rest) ?? rest.split(/\s+/).filter(Boolean);
  if (paths.length < 2) throw new Error(`line ${ins.line}: ${ins.op} needs a source and a destination`);
  return { ...(from !== undefined ? { from } : {}), sources: paths.slice(0, -1), destination: paths.at(-1)!, line: ins.line };
}
