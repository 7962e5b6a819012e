// The Dockerfile at the repository root (issue 16 item 7), checked statically: there is no Docker
// engine where the tests run. What matters for the image to build and run as documented
// (docs/deploy-kubernetes.md): Node 22 in both stages, a numeric non-root user, an ENTRYPOINT at the
// file `npm run build` writes (the bundle that test/e2e/bundle.test.ts runs without node_modules),
// every COPY source present in the repository and not dropped by .dockerignore, the state directory
// a volume the user owns, and the port serve listens on exposed. Each check is also shown failing on
// a Dockerfile broken in its way, so a check that can never fail would be noticed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyOf, execForm, parseDockerfile, type Stage } from '../helpers/dockerfile.js';

const root = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const dockerfile = readFileSync(resolve(root, 'Dockerfile'), 'utf8');
const ENTRY = ['node', '/app/dist/cli/swr-migrate.mjs'];
const STATE_DIR = '/var/lib/swr-migrate';

/** .dockerignore's patterns as tests on a context-relative path (exact, prefix, or `*` glob). */
function ignoredBy(text: string): (path: string) => string | undefined {
  const patterns = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return (path) =>
    patterns.find((p) => {
      const re = new RegExp(`^${p.replace(/\/$/, '').replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(?:/|$)`);
      return re.test(path);
    });
}

const last = (stage: Stage, op: string) => stage.instructions.filter((i) => i.op === op).at(-1);

/** Every way the Dockerfile text falls short; empty when it is right. */
function problems(text: string): string[] {
  const out: string[] = [];
  const stages = parseDockerfile(text);
  if (stages.length < 2) return ['expected a build stage and a runtime stage'];
  const runtime = stages.at(-1)!;
  const byName = new Map(stages.filter((s) => s.name).map((s) => [s.name!, s]));
  const ignored = ignoredBy(readFileSync(resolve(root, '.dockerignore'), 'utf8'));
  const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };

  for (const s of stages) {
    // node:22, node:22-slim, node:22.11-alpine, node:22-slim@sha256:...
    if (!/^node:22(?:\.[0-9.]+)?(?:-[a-z0-9.]+)?(?:@sha256:[0-9a-f]{64})?$/.test(s.from)) out.push(`FROM ${s.from}: expected a node:22 image`);
  }

  const user = last(runtime, 'USER')?.args;
  const uid = user && /^(\d+)(?::(\d+))?$/.exec(user);
  if (!uid) out.push(`runtime USER ${user ?? '(none)'}: expected a numeric UID[:GID] (Kubernetes runAsNonRoot can check only a number)`);
  else if (Number(uid[1]) === 0) out.push('runtime USER is root (UID 0)');

  // ENTRYPOINT -> the runtime COPY --from=<build stage> that brings it -> the path in the build
  // stage's WORKDIR -> package.json's bin, which `npm run build` writes (scripts/build-cli.mjs).
  const entry = execForm(last(runtime, 'ENTRYPOINT')?.args ?? '');
  if (JSON.stringify(entry) !== JSON.stringify(ENTRY)) out.push(`ENTRYPOINT ${JSON.stringify(entry)}: expected ${JSON.stringify(ENTRY)} (exec form)`);
  else {
    const file = entry![1]!;
    const copies = runtime.instructions.filter((i) => i.op === 'COPY' || i.op === 'ADD').map(copyOf);
    const bringing = copies.find((c) => c.sources.length === 1 && (file === c.destination || file.startsWith(`${c.destination.replace(/\/$/, '')}/`)));
    const build = bringing?.from !== undefined ? byName.get(bringing.from) : undefined;
    if (!bringing || !build) out.push(`nothing copies ${file} from a build stage into the runtime stage`);
    else {
      const workdir = last(build, 'WORKDIR')?.args ?? '/';
      const built = posix.relative(workdir, posix.join(bringing.sources[0]!, posix.relative(bringing.destination, file)));
      if (built !== pkg.bin['swr-migrate']) out.push(`ENTRYPOINT runs ${built} of the build, but package.json's bin is ${pkg.bin['swr-migrate']}`);
      if (!build.instructions.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args))) out.push('the build stage does not run npm ci');
      if (!build.instructions.some((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args))) out.push('the build stage does not run npm run build');
    }
    // Only the bundle: it leaves nothing external but Node's built-ins.
    for (const c of copies) {
      if (c.from === undefined) out.push(`line ${c.line}: the runtime stage copies ${c.sources.join(' ')} from the build context; it needs only the bundle`);
      if (c.sources.some((s) => s.includes('node_modules'))) out.push(`line ${c.line}: the runtime stage copies node_modules; the bundle needs none`);
    }
  }
  if (!/node scripts\/build-cli\.mjs/.test(pkg.scripts.build ?? '')) out.push('package.json scripts.build does not run scripts/build-cli.mjs');

  // Every COPY from the build context names a path the repository has, which .dockerignore keeps.
  for (const s of stages) {
    for (const c of s.instructions.filter((i) => i.op === 'COPY' || i.op === 'ADD').map(copyOf)) {
      if (c.from !== undefined) continue;
      for (const src of c.sources) {
        const path = posix.normalize(src).replace(/^\.?\//, '').replace(/\/$/, '');
        if (!existsSync(resolve(root, path))) out.push(`line ${c.line}: COPY ${src}: no such path in the repository`);
        const rule = ignored(path);
        if (rule) out.push(`line ${c.line}: COPY ${src}: .dockerignore drops it (${rule})`);
      }
    }
  }

  const cmd = execForm(last(runtime, 'CMD')?.args ?? '') ?? [];
  const listen = cmd[cmd.indexOf('--listen') + 1] ?? '';
  const port = /:(\d+)$/.exec(listen)?.[1];
  if (cmd[0] !== 'serve' || cmd.indexOf('--config') < 0 || !port) out.push(`CMD ${JSON.stringify(cmd)}: expected serve --config FILE --listen HOST:PORT`);
  const exposed = runtime.instructions.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => p.replace(/\/tcp$/, ''));
  if (port && !exposed.includes(port)) out.push(`EXPOSE ${exposed.join(' ') || '(none)'}: serve listens on ${port}`);

  // The state directory: the working directory (the CLI's .swr-migrate/ is relative to it), a
  // volume, and owned by the user, or the first write fails.
  if (last(runtime, 'WORKDIR')?.args !== STATE_DIR) out.push(`runtime WORKDIR ${last(runtime, 'WORKDIR')?.args}: expected ${STATE_DIR}`);
  const volumes = runtime.instructions.filter((i) => i.op === 'VOLUME').flatMap((i) => execForm(i.args) ?? i.args.split(/\s+/));
  if (!volumes.includes(STATE_DIR)) out.push(`VOLUME ${volumes.join(' ') || '(none)'}: expected ${STATE_DIR}`);
  if (uid && !runtime.instructions.some((i) => i.op === 'RUN' && i.args.includes(STATE_DIR) && new RegExp(`\\bchown\\s+${uid[1]}\\b`).test(i.args))) {
    out.push(`no RUN gives ${STATE_DIR} to UID ${uid[1]}`);
  }
  return out;
}

describe('Dockerfile', () => {
  test('builds the CLI on Node 22 and runs serve as a non-root user from the bundle alone', () => {
    assert.deepEqual(problems(dockerfile), []);
  });

  test('each check fails on a Dockerfile broken in its way', () => {
    const broken = (from: RegExp, to: string, expected: RegExp) => {
      const text = dockerfile.replace(from, to);
      assert.notEqual(text, dockerfile, `${from} matches the Dockerfile`);
      const found = problems(text);
      assert.ok(found.some((p) => expected.test(p)), `${from} -> ${to}: expected a problem matching ${expected}, got ${JSON.stringify(found)}`);
    };
    broken(/^USER .*$/m, 'USER root', /numeric UID/);
    broken(/^USER .*$/m, 'USER 0:0', /root \(UID 0\)/);
    broken(/^USER .*\n/m, '', /USER \(none\)/);
    broken(/^FROM node:22-slim$/m, 'FROM node:20-slim', /FROM node:20-slim/);
    broken(/^FROM node:22-bookworm AS build$/m, 'FROM node:lts AS build', /FROM node:lts/);
    broken(/^ENTRYPOINT .*$/m, 'ENTRYPOINT ["node", "/app/dist/cli/other.mjs"]', /ENTRYPOINT/);
    broken(/^COPY --from=build \/src\/dist\/cli \/app\/dist\/cli$/m, 'COPY --from=build /src/dist /app/dist/cli', /bin is dist\/cli\/swr-migrate\.mjs/);
    broken(/^COPY --from=build .*$/m, 'COPY dist/cli /app/dist/cli', /nothing copies|build context/);
    broken(/^RUN npm run build$/m, 'RUN npx tsc', /npm run build/);
    broken(/^COPY lib \.\/lib$/m, 'COPY library ./lib', /COPY library: no such path/);
    broken(/^COPY lib \.\/lib$/m, 'COPY docs ./docs', /\.dockerignore drops it \(docs\)/);
    broken(/^FROM node:22-slim$/m, 'FROM node:22-slim\nCOPY --from=build /src/node_modules /app/node_modules', /copies node_modules/);
    broken(/^EXPOSE 8080$/m, 'EXPOSE 9090', /serve listens on 8080/);
    broken(/^VOLUME .*$/m, '', /VOLUME \(none\)/);
    broken(/^RUN mkdir -p \/var\/lib\/swr-migrate.*$/m, 'RUN mkdir -p /var/lib/swr-migrate', /no RUN gives/);
  });

  test('the line reader joins continuations and drops comments, as Docker does', () => {
    const [stage] = parseDockerfile('# c\nfrom node:22 as b\nRUN a \\\n  # inside\n  b\n\ncopy --chown=1:1 ["x y", "/z"]\n');
    assert.equal(stage!.from, 'node:22');
    assert.equal(stage!.name, 'b');
    assert.deepEqual(stage!.instructions.map((i) => [i.op, i.args]), [['RUN', 'a b'], ['COPY', '--chown=1:1 ["x y", "/z"]']]);
    assert.deepEqual(copyOf(stage!.instructions[1]!), { sources: ['x y'], destination: '/z', line: 7 });
  });
});
