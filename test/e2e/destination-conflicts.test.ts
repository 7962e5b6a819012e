// Issue 6, item 1: two sources that map to one destination tag never race. team-a/app and
// team-b/app both land in mirror/app under the default basename mapping. Listed tags: both
// colliding images go to the DLQ (SWRM_DESTINATION_CONFLICT, naming both sources and rules) and
// the rest is copied; replay holds them too. Exact tags: exit 2 before anything is copied.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { listTags, pushImage, randomLayer } from '../helpers/push.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir, writeFile, readLetters } from '../helpers/files.js';

const letters = readLetters;

describe('destination conflicts', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  before(async () => {
    [src, dst] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'none' })]);
    dir = tempDir();
    for (const [repo, tag] of [['team-a/app', '1.0'], ['team-a/app', 'a-only'], ['team-b/app', '1.0'], ['team-b/app', 'b-only'], ['team-c/tool', 't']]) {
      await pushImage(src, repo!, tag, { format: 'oci', layers: [randomLayer(4_000)] });
    }
  });
  after(stopAll);

  const config = (name: string, extra: string) =>
    writeFile(
      dir,
      `${name}.yaml`,
      `version: 1
defaults: { concurrency: 2, retries: 0 }
registries:
  "${src.host}": { insecure: true }
  "${dst.host}": { insecure: true }
rules:
  - source: ${src.host}/team-a/app${extra}
    destination: ${dst.host}/${name}
  - source: ${src.host}/team-b/app${extra}
    destination: ${dst.host}/${name}
  - source: ${src.host}/team-c/tool:t
    destination: ${dst.host}/${name}
`,
    );

  test('listed tags: both colliding images go to the DLQ, the rest is copied, and replay does not race them', async () => {
    const file = config('listed', '');
    const dlq = join(dir, 'listed-dlq.jsonl');
    const r = await runCli(['sync', '--config', file, '--dlq', dlq]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /5 image\(s\): 3 copied, 0 already present, 2 failed/);
    assert.deepEqual((await listTags(dst, 'listed/app')).sort(), ['a-only', 'b-only'], 'the contested tag was not pushed');
    assert.deepEqual(await listTags(dst, 'listed/tool'), ['t']);
    const dead = letters(dlq);
    assert.deepEqual(dead.map((l) => (JSON.parse(l.body) as { source: string }).source).sort(), [`${src.host}/team-a/app:1.0`, `${src.host}/team-b/app:1.0`]);
    for (const l of dead) {
      assert.equal(l.reason.code, 'SWRM_DESTINATION_CONFLICT');
      assert.ok(l.reason.message.includes(`destination ${dst.host}/listed/app:1.0`), l.reason.message);
      assert.match(l.reason.message, /team-a\/app:1\.0 \(.*listed\.yaml: rules\[0\]\) and .*team-b\/app:1\.0 \(.*listed\.yaml: rules\[1\]\)/);
    }
    assert.match(r.stdout, /SWRM_DESTINATION_CONFLICT x 2/);
    assert.match(r.stdout, /team-.\/app:1\.0 -> .*listed\/app:1\.0: destination .* is claimed by 2 different sources/);

    const plan = await runCli(['plan', '--config', file]);
    assert.equal(plan.code, 1);
    assert.match(plan.stderr, /conflict: .*team-b\/app:1\.0 -> .*listed\/app:1\.0/);
    assert.match(plan.stdout, /plan: 3 image\(s\), 2 held back by destination conflicts/);

    const replay = await runCli(['replay', '--config', file, '--dlq', dlq]);
    assert.equal(replay.code, 1, replay.stderr);
    assert.match(replay.stdout, /2 message\(s\) .*: 0 recovered, 2 still in the DLQ/);
    assert.deepEqual(letters(dlq).map((l) => l.reason.code), ['SWRM_DESTINATION_CONFLICT', 'SWRM_DESTINATION_CONFLICT']);
    assert.deepEqual((await listTags(dst, 'listed/app')).sort(), ['a-only', 'b-only']);
  });

  test('exact tags: exit 2 listing the conflict, before anything is copied', async () => {
    const file = config('exact', ':1.0');
    const dlq = join(dir, 'exact-dlq.jsonl');
    await dst.settle();
    const mark = dst.mark();
    const r = await runCli(['sync', '--config', file, '--dlq', dlq]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /destination .*\/exact\/app:1\.0 is claimed by 2 different sources: .*team-a\/app:1\.0 \(.*exact\.yaml: rules\[0\]\) and .*team-b\/app:1\.0 \(.*exact\.yaml: rules\[1\]\)/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    await dst.settle();
    assert.deepEqual(dst.requestsSince(mark), [], 'not even the unrelated image was copied');
    assert.equal(existsSync(dlq), false);
    const plan = await runCli(['plan', '--config', file]);
    assert.equal(plan.code, 2);
    assert.match(plan.stderr, /claimed by 2 different sources/);
  });
});
