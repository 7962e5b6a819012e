// `images-from-cluster` through the CLI against the stand-in Kubernetes API server (HTTPS, a test
// CA, a bearer token): what the images file says, the kubectl lines, the namespace filter, and the
// one-line errors for a missing context, an unreachable server, a bad CA and refused credentials.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { stopAllTracked as stopAll } from '../helpers/cleanup.js';
import { testPki, type TestPki } from '../helpers/certs.js';
import { tempDir, writeFile } from '../helpers/files.js';
import { freePort } from '../helpers/registry.js';
import { runCli } from '../helpers/run-cli.js';
import { KubernetesError } from '../../lib/errors.js';
import { loadKubeConfig } from '../../lib/k8s/kubeconfig.js';
import { listContainerImages } from '../../lib/k8s/workloads.js';
import { cronJob, kubeconfigYaml, pod, podSpec, startK8sApiServer, workload, type K8sApiServerHandle } from '../helpers/k8s-api-server.js';

const T = 'swr.cn-north-4.myhuaweicloud.com/mirror';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('images-from-cluster', () => {
  let pki: TestPki;
  let api: K8sApiServerHandle;
  let dir: string;
  let kubeconfig: string;

  before(async () => {
    pki = await testPki();
    // 510 controller-owned pods first, so the one bare pod after them is on the second page (500 a page).
    const owned = Array.from({ length: 510 }, (_, i) => pod('bulk', `web-abc-${i}`, podSpec([{ name: 'app', image: 'nginx:1.27' }]), 'ReplicaSet'));
    api = await startK8sApiServer({
      token: 'sekrit-token',
      tls: { cert: pki.serverCert, key: pki.serverKey },
      objects: {
        deployments: [
          workload('shop', 'web', podSpec([{ name: 'app', image: 'nginx:1.27' }, { name: 'sidecar', image: 'docker.io/library/nginx:1.27' }], [{ name: 'migrate', image: 'busybox' }])),
          workload('ops', 'agent', podSpec([{ name: 'agent', image: 'quay.io/prometheus/node-exporter:v1.8.0' }])),
        ],
        statefulsets: [workload('shop', 'db', podSpec([{ name: 'pg', image: `postgres:16@${DIGEST}` }]))],
        daemonsets: [workload('ops', 'logs', podSpec([{ name: 'fluent', image: `ghcr.io/fluent/fluent-bit@${DIGEST}` }]))],
        jobs: [
          workload('shop', 'seed', podSpec([{ name: 'seed', image: 'registry.example.com:5000/tools/seed:3' }])),
          workload('shop', 'nightly-28000000', podSpec([{ name: 'report', image: 'alpine:3.20' }]), 'CronJob'),
        ],
        cronjobs: [cronJob('shop', 'nightly', podSpec([{ name: 'report', image: 'alpine:3.20' }]))],
        pods: [...owned, pod('bulk', 'debug', podSpec([{ name: 'shell', image: 'registry.k8s.io/e2e-test-images/agnhost:2.39' }]))],
      },
    });
    dir = tempDir('swrm-k8s-');
    kubeconfig = writeFile(dir, 'kubeconfig.yaml', kubeconfigYaml([
      { name: 'prod', server: api.url, token: 'sekrit-token', caFile: pki.caFile },
      { name: 'wrong-ca', server: api.url, token: 'sekrit-token', caFile: pki.otherCaFile },
      { name: 'no-token', server: api.url, caFile: pki.caFile },
      { name: 'plugin', server: api.url, caFile: pki.caFile, exec: { command: process.execPath, args: ['-e', 'console.log(JSON.stringify({apiVersion:"client.authentication.k8s.io/v1",kind:"ExecCredential",status:{token:"sekrit-token"}}))'] } },
    ]));
  });
  after(stopAll);

  test('writes the images file: every kind, init containers, deduplicated, bare pods only, all pages read', async () => {
    const out = join(dir, 'images.yaml');
    const mark = api.requests.length;
    const r = await runCli(['images-from-cluster', '--kubeconfig', kubeconfig, '--target', T, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(parse(readFileSync(out, 'utf8')), {
      'docker.io/library/nginx:1.27': `${T}/nginx`,
      'docker.io/library/busybox:latest': `${T}/busybox`,
      'quay.io/prometheus/node-exporter:v1.8.0': `${T}/node-exporter`,
      [`docker.io/library/postgres:16@${DIGEST}`]: `${T}/postgres`,
      [`ghcr.io/fluent/fluent-bit@${DIGEST}`]: `${T}/fluent-bit`,
      'registry.example.com:5000/tools/seed:3': `${T}/seed`,
      'docker.io/library/alpine:3.20': `${T}/alpine`,
      'registry.k8s.io/e2e-test-images/agnhost:2.39': `${T}/agnhost`,
    });
    assert.match(r.stderr, /^images-from-cluster: 8 image\(s\) from \d+ workload\(s\) in all namespaces \(context prod\) written to /m);
    const seen = api.requests.slice(mark);
    assert.deepEqual([...new Set(seen.map((q) => q.path))].sort(), [
      '/api/v1/pods', '/apis/apps/v1/daemonsets', '/apis/apps/v1/deployments', '/apis/apps/v1/statefulsets', '/apis/batch/v1/cronjobs', '/apis/batch/v1/jobs',
    ]);
    const podPages = seen.filter((q) => q.path === '/api/v1/pods');
    assert.equal(podPages.length, 2, 'two pages of pods');
    assert.ok(podPages[1]!.query.continue, 'the second page asks with the continue token');
    assert.ok(seen.every((q) => q.authorization === 'Bearer sekrit-token'));
  });

  test('--rewrite prints one kubectl set image line per workload, never for CronJob-owned Jobs; .json writes JSON', async () => {
    const out = join(dir, 'images.json');
    const r = await runCli(['images-from-cluster', '--kubeconfig', kubeconfig, '--target', T, '--out', out, '--rewrite']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(readFileSync(out, 'utf8'))['docker.io/library/busybox:latest'], `${T}/busybox`);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `kubectl set image -n bulk pod/debug shell=${T}/agnhost:2.39`,
      `kubectl set image -n ops daemonset/logs fluent=${T}/fluent-bit@${DIGEST}`,
      `kubectl set image -n ops deployment/agent agent=${T}/node-exporter:v1.8.0`,
      `kubectl set image -n shop cronjob/nightly report=${T}/alpine:3.20`,
      `kubectl set image -n shop deployment/web migrate=${T}/busybox:latest app=${T}/nginx:1.27 sidecar=${T}/nginx:1.27`,
      `kubectl set image -n shop job/seed seed=${T}/seed:3`,
      `kubectl set image -n shop statefulset/db pg=${T}/postgres:16@${DIGEST}`,
    ]);
  });

  test('-n lists only the given namespaces, with namespaced calls; no --out prints the file', async () => {
    const mark = api.requests.length;
    const r = await runCli(['images-from-cluster', '--kubeconfig', kubeconfig, '--context', 'plugin', '--target', T, '-n', 'ops,bulk']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parse(r.stdout), {
      'quay.io/prometheus/node-exporter:v1.8.0': `${T}/node-exporter`,
      [`ghcr.io/fluent/fluent-bit@${DIGEST}`]: `${T}/fluent-bit`,
      'registry.k8s.io/e2e-test-images/agnhost:2.39': `${T}/agnhost`,
    });
    const paths = api.requests.slice(mark).map((q) => q.path);
    assert.ok(paths.includes('/apis/apps/v1/namespaces/ops/deployments') && paths.includes('/api/v1/namespaces/bulk/pods'), paths.join(' '));
    assert.ok(paths.every((p) => /\/namespaces\/(ops|bulk)\//.test(p)), paths.join(' '));
    // The exec credential plugin's token was the one sent.
    assert.ok(api.requests.slice(mark).every((q) => q.authorization === 'Bearer sekrit-token'));
  });

  const oneLineError = (r: { code: number; stdout: string; stderr: string }, re: RegExp): void => {
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trimEnd(), re);
    assert.doesNotMatch(r.stderr, /sekrit-token/);
  };

  test('a context that does not exist: one line listing the contexts', async () => {
    const r = await runCli(['images-from-cluster', '--kubeconfig', kubeconfig, '--context', 'staging', '--target', T]);
    oneLineError(r, /^swr-migrate: context "staging" is not in the kubeconfig; use one of: prod, wrong-ca, no-token, plugin \[SWRM_KUBERNETES\]$/);
  });

  test('a cluster that cannot be reached: one line naming the server and the reason', async () => {
    const server = `https://127.0.0.1:${await freePort()}`;
    const kc = writeFile(dir, 'down.yaml', kubeconfigYaml([{ name: 'down', server, token: 'sekrit-token', caFile: pki.caFile }]));
    const r = await runCli(['images-from-cluster', '--kubeconfig', kc, '--target', T]);
    oneLineError(r, new RegExp(`^swr-migrate: cannot reach Kubernetes API server ${server.replace(/\./g, '\\.')}: connection refused; .*\\[SWRM_KUBERNETES\\]$`));
  });

  test('a certificate the kubeconfig CA did not sign: one TLS line', async () => {
    const r = await runCli(['images-from-cluster', '--kubeconfig', kubeconfig, '--context', 'wrong-ca', '--target', T]);
    oneLineError(r, /^swr-migrate: cannot reach Kubernetes API server https:\/\/127\.0\.0\.1:\d+: TLS failed \(\w+\); check the cluster's certificate-authority/);
  });

  test('credentials the server refuses: one line saying to refresh them', async () => {
    const r = await runCli(['images-from-cluster', '--kubeconfig', kubeconfig, '--context', 'no-token', '--target', T]);
    oneLineError(r, /^swr-migrate: Kubernetes API server https:\/\/127\.0\.0\.1:\d+ did not accept the credentials listing deployments \(401\); refresh the kubeconfig user's token/);
  });

  test('RBAC that forbids a kind: one line quoting the API and naming the permission', async () => {
    const denying = await startK8sApiServer({ objects: {}, forbidden: ['statefulsets'] });
    const kc = writeFile(dir, 'rbac.yaml', kubeconfigYaml([{ name: 'ci', server: denying.url, insecure: true }]));
    const r = await runCli(['images-from-cluster', '--kubeconfig', kc, '--target', T, '-n', 'shop']);
    oneLineError(r, /^swr-migrate: Kubernetes API server http:\/\/127\.0\.0\.1:\d+ forbids listing statefulsets in namespace shop \(403\): statefulsets is forbidden: User "system:serviceaccount:ci:lister" cannot list .*; the kubeconfig user needs list permission on statefulsets \[SWRM_KUBERNETES\]$/);
    const cluster = await runCli(['images-from-cluster', '--kubeconfig', kc, '--target', T]);
    oneLineError(cluster, /forbids listing statefulsets \(403\): .* at the cluster scope; the kubeconfig user needs list permission on statefulsets in all namespaces, or pass -n with the namespaces it may read \[SWRM_KUBERNETES\]$/);
    await denying.stop();
  });

  test('exec credential plugins that fail or do not exist: one line, with the plugin\'s own words', async () => {
    const kc = writeFile(dir, 'plugins.yaml', kubeconfigYaml([
      { name: 'expired', server: api.url, caFile: pki.caFile, exec: { command: '/bin/sh', args: ['-c', 'echo "error: SSO session expired; run aws sso login" >&2; exit 1'] } },
      { name: 'absent', server: api.url, caFile: pki.caFile, exec: { command: join(dir, 'no-such-plugin'), args: [] } },
    ]));
    oneLineError(await runCli(['images-from-cluster', '--kubeconfig', kc, '--target', T]),
      /^swr-migrate: cannot list deployments on Kubernetes API server https:\/\/127\.0\.0\.1:\d+: error: SSO session expired; run aws sso login \[SWRM_KUBERNETES\]$/);
    oneLineError(await runCli(['images-from-cluster', '--kubeconfig', kc, '--context', 'absent', '--target', T]),
      /^swr-migrate: the kubeconfig user's exec credential plugin .*no-such-plugin was not found; install it/);
  });

  test('a namespace with nothing in it: no file on stdout, a warning saying what to check', async () => {
    const r = await runCli(['images-from-cluster', '--kubeconfig', kubeconfig, '--target', T, '-n', 'empty']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /warning: no images to copy found; check --context and -n/);
  });

  test('an API server that accepts connections but never answers: a deadline, and Ctrl-C stops the wait', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const server = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
      const { kc } = loadKubeConfig({ file: writeFile(dir, 'silent.yaml', kubeconfigYaml([{ name: 's', server, insecure: true }])) });
      await assert.rejects(listContainerImages(kc, server, { timeoutMs: 300 }), (err: unknown) =>
        err instanceof KubernetesError && err.message === `Kubernetes API server ${server} did not answer listing deployments within 0.3 s; check that it is reachable from here`);
      const abort = new AbortController();
      setTimeout(() => abort.abort(new Error('interrupted')), 100);
      await assert.rejects(listContainerImages(kc, server, { timeoutMs: 60_000, signal: abort.signal }), /^Error: interrupted$/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  test('a missing kubeconfig, a missing --target and --rewrite without --out are refused before any request', async () => {
    const mark = api.requests.length;
    const missing = await runCli(['images-from-cluster', '--kubeconfig', join(dir, 'nope.yaml'), '--target', T]);
    oneLineError(missing, /kubeconfig .*nope\.yaml does not exist; check --kubeconfig/);
    const noTarget = await runCli(['images-from-cluster', '--kubeconfig', kubeconfig]);
    assert.equal(noTarget.code, 2);
    assert.match(noTarget.stderr, /needs --target REGISTRY\/ORG/);
    const rewrite = await runCli(['images-from-cluster', '--kubeconfig', kubeconfig, '--target', T, '--rewrite']);
    assert.equal(rewrite.code, 2);
    assert.match(rewrite.stderr, /--rewrite prints kubectl commands on stdout; give --out FILE/);
    assert.equal(api.requests.length, mark);
  });
});
