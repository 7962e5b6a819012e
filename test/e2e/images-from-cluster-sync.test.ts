// The end-to-end check for item 6: `images-from-cluster` against the stand-in API server
// writes the images file, and `sync` with that file copies the cluster's images between two real
// distribution registries; the `kubectl set image` references then resolve on the destination.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type RegistryHandle, startRegistry, stopAll } from '../helpers/registry.js';
import { type PushedManifest, getManifest, listTags, pushImage, randomLayer } from '../helpers/push.js';
import { runCli, writeAuthFile } from '../helpers/run-cli.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { cronJob, kubeconfigYaml, pod, podSpec, startK8sApiServer, workload } from '../helpers/k8s-api-server.js';

describe('images-from-cluster, then sync with its file', () => {
  let src: RegistryHandle;
  let dst: RegistryHandle;
  let dir: string;
  let kubeconfig: string;
  const pushed: Record<string, PushedManifest> = {};

  before(async () => {
    [src, dst] = await Promise.all([startRegistry(), startRegistry()]);
    const base = randomLayer(100_000);
    const img = (repo: string, tag: string) => pushImage(src, repo, tag, { format: 'docker', layers: [base, randomLayer(10_000)] });
    pushed.app = await img('team/app', 'v1');
    pushed.init = await img('tools/deep/migrate', '2.0');
    pushed.job = await img('team/report', 'nightly');
    pushed.pinned = await img('team/cache', 'old');
    pushed.unused = await img('team/app', 'v0');
    const s = src.host;
    const api = await startK8sApiServer({
      token: 't0ken',
      objects: {
        deployments: [workload('prod', 'app', podSpec([{ name: 'app', image: `${s}/team/app:v1` }], [{ name: 'migrate', image: `${s}/tools/deep/migrate:2.0` }]))],
        cronjobs: [cronJob('prod', 'report', podSpec([{ name: 'report', image: `${s}/team/report:nightly` }]))],
        pods: [
          pod('prod', 'cache', podSpec([{ name: 'cache', image: `${s}/team/cache@${pushed.pinned.digest}` }])),
          pod('prod', 'app-7d9f-x1', podSpec([{ name: 'app', image: `${s}/team/app:v1` }]), 'ReplicaSet'),
        ],
      },
    });
    dir = tempDir('swrm-k8s-e2e-');
    kubeconfig = writeFile(dir, 'kubeconfig', kubeconfigYaml([{ name: 'kind', server: api.url, token: 't0ken', insecure: true }]));
  });
  after(stopAll);

  test('the written file drives sync: every cluster image lands at <target>/<basename>, digests identical', async () => {
    const images = join(dir, 'images.yaml');
    const target = `${dst.host}/mirror`;
    const listed = await runCli(['images-from-cluster', '--kubeconfig', kubeconfig, '--target', target, '--out', images, '--rewrite']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(parse(readFileSync(images, 'utf8')), {
      [`${src.host}/team/app:v1`]: `${target}/app`,
      [`${src.host}/tools/deep/migrate:2.0`]: `${target}/migrate`,
      [`${src.host}/team/report:nightly`]: `${target}/report`,
      [`${src.host}/team/cache@${pushed.pinned!.digest}`]: `${target}/cache`,
    });

    const auth = writeAuthFile([{ host: src.host }, { host: dst.host }]);
    const r = await runCli(['sync', '--auth', auth, '--images', images, '--dlq', join(dir, 'dlq.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sync: 4 image\(s\): 4 copied, 0 already present, 0 failed/);
    for (const [repo, tag, p] of [['mirror/app', 'v1', pushed.app], ['mirror/migrate', '2.0', pushed.init], ['mirror/report', 'nightly', pushed.job]] as const) {
      assert.equal((await getManifest(dst, repo, tag))?.digest, p!.digest, `${repo}:${tag}`);
    }
    assert.deepEqual(await listTags(dst, 'mirror/app'), ['v1'], 'only the tag the cluster runs, not every tag of the repository');

    // What --rewrite points the workloads at exists on the destination now.
    const refs = listed.stdout.trim().split('\n').flatMap((line) => line.split(' ').slice(6).map((s) => s.slice(s.indexOf('=') + 1)));
    assert.equal(refs.length, 4, listed.stdout);
    for (const ref of refs) {
      const path = ref.slice(dst.host.length + 1);
      const at = path.includes('@') ? path.indexOf('@') : path.lastIndexOf(':');
      assert.ok((await getManifest(dst, path.slice(0, at), path.slice(at + 1))) !== undefined, ref);
    }
  });
});
