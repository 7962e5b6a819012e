// From cluster container images to images-file entries and kubectl lines (lib/k8s/images-file.ts):
// docker's normalisation of short names, tags and digests kept, image-migrator's basename naming,
// collisions reported; and client-node staying out of every other command's import graph.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTarget, planImages, renderImagesFile, rewriteCommands } from '../../lib/k8s/images-file.js';
import type { ContainerImage } from '../../lib/k8s/workloads.js';
import { UsageError } from '../../lib/errors.js';

const T = parseTarget('swr.cn-north-4.myhuaweicloud.com/mirror');
const D = `sha256:${'0f'.repeat(32)}`;
const c = (image: string, extra: Partial<ContainerImage> = {}): ContainerImage => ({
  kind: 'deployment', namespace: 'ns', name: 'w', container: 'c', init: false, image, owned: false, ...extra,
});
const entries = (images: string[]) => Object.fromEntries([...planImages(images.map((i) => c(i)), T).images.values()].map((m) => [m.source, m.newImage]));

describe('images-from-cluster mapping', () => {
  test('short names normalise as docker pulls them; tags, digests and both are kept', () => {
    assert.deepEqual(entries(['nginx', 'bitnami/redis:7.2', 'localhost:5000/a/b/tool:1', `ghcr.io/x/y@${D}`, `postgres:16@${D}`]), {
      'docker.io/library/nginx:latest': 'swr.cn-north-4.myhuaweicloud.com/mirror/nginx:latest',
      'docker.io/bitnami/redis:7.2': 'swr.cn-north-4.myhuaweicloud.com/mirror/redis:7.2',
      'localhost:5000/a/b/tool:1': 'swr.cn-north-4.myhuaweicloud.com/mirror/tool:1',
      [`ghcr.io/x/y@${D}`]: `swr.cn-north-4.myhuaweicloud.com/mirror/y@${D}`,
      [`docker.io/library/postgres:16@${D}`]: `swr.cn-north-4.myhuaweicloud.com/mirror/postgres:16@${D}`,
    });
  });

  test('spellings of one image are one entry; images already in the target are left alone', () => {
    const plan = planImages([c('nginx'), c('docker.io/library/nginx:latest'), c('index.docker.io/library/nginx'), c('swr.cn-north-4.myhuaweicloud.com/mirror/app:1')], T);
    assert.deepEqual([...plan.images.keys()], ['docker.io/library/nginx:latest']);
    assert.equal(renderImagesFile(plan, 'yaml'), 'docker.io/library/nginx:latest: swr.cn-north-4.myhuaweicloud.com/mirror/nginx\n');
    assert.deepEqual(JSON.parse(renderImagesFile(plan, 'json')), { 'docker.io/library/nginx:latest': 'swr.cn-north-4.myhuaweicloud.com/mirror/nginx' });
    assert.deepEqual(plan.warnings, []);
  });

  test('two sources on one destination tag are reported; an unparsable image is skipped with its workload named', () => {
    const plan = planImages([c('quay.io/a/nginx:1'), c('nginx:1'), c('Bad//Name', { kind: 'pod', name: 'p', container: 'x' })], T);
    assert.equal(plan.images.size, 2);
    assert.equal(plan.warnings.length, 2);
    assert.match(plan.warnings.join('\n'), /docker\.io\/library\/nginx:1 and quay\.io\/a\/nginx:1 both map to swr\.cn-north-4\.myhuaweicloud\.com\/mirror\/nginx:1; edit the images file/);
    assert.match(plan.warnings.join('\n'), /skipped pod\/p \(namespace ns\) container x: image "Bad\/\/Name"/);
  });

  test('kubectl lines group a workload\'s containers and skip controller-owned Jobs', () => {
    const list = [c('nginx:1', { container: 'app' }), c('busybox', { container: 'init', init: true }), c('alpine', { kind: 'job', name: 'cj-1', owned: true })];
    const plan = planImages(list, T);
    assert.deepEqual(rewriteCommands(list, plan), [
      'kubectl set image -n ns deployment/w app=swr.cn-north-4.myhuaweicloud.com/mirror/nginx:1 init=swr.cn-north-4.myhuaweicloud.com/mirror/busybox:latest',
    ]);
    assert.ok(plan.images.has('docker.io/library/alpine:latest'), 'the owned Job\'s image is still listed');
  });

  test('--target must be a registry host and a path, without tag or digest', () => {
    assert.deepEqual(parseTarget('127.0.0.1:5000/mirror/'), { registry: '127.0.0.1:5000', repository: 'mirror' });
    for (const bad of [undefined, 'mirror', 'team/mirror', 'swr.example.com/mirror:latest', 'swr.example.com/Mirror']) {
      assert.throws(() => parseTarget(bad), UsageError, String(bad));
    }
  });

  test('client-node is not in the static import graph of the CLI entry point', () => {
    // Loading @kubernetes/client-node costs ~100 ms and pulls in its dependency tree; only
    // images-from-cluster needs it, and main.ts reaches that command by dynamic import.
    const here = dirname(fileURLToPath(import.meta.url));
    const seen = new Set<string>();
    const bare = new Set<string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)) {
        const spec = m[1] ?? m[2]!;
        if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
        else bare.add(spec);
      }
    };
    walk(resolve(here, '../../lib/cli/main.js'));
    assert.ok(seen.size > 5, 'the walk followed relative imports');
    assert.ok(!bare.has('@kubernetes/client-node'), [...seen].filter((f) => /k8s|cluster/.test(f)).join(', '));
    // And the walk does see it when a file imports it statically.
    seen.clear();
    bare.clear();
    walk(resolve(here, '../../lib/cli/images-from-cluster-command.js'));
    assert.ok(bare.has('@kubernetes/client-node'));
  });
});
