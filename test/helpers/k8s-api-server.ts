// A stand-in Kubernetes API server: the documented list endpoints of the workload kinds that
// `images-from-cluster` reads (core/v1 pods, apps/v1 deployments/statefulsets/daemonsets, batch/v1
// jobs/cronjobs), cluster-wide and namespaced, with `limit`/`continue` pagination and an optional
// bearer-token check. List bodies follow the API's shape: {kind: 'DeploymentList', apiVersion,
// metadata: {continue}, items}. HTTPS on 127.0.0.1 with a test certificate, or plain HTTP (which
// client-node only speaks with `insecure-skip-tls-verify: true` on the cluster).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { track } from './cleanup.js';

export type K8sResource = 'pods' | 'deployments' | 'statefulsets' | 'daemonsets' | 'jobs' | 'cronjobs';

const GROUPS: Record<K8sResource, { prefix: string; kind: string; apiVersion: string }> = {
  pods: { prefix: '/api/v1', kind: 'Pod', apiVersion: 'v1' },
  deployments: { prefix: '/apis/apps/v1', kind: 'Deployment', apiVersion: 'apps/v1' },
  statefulsets: { prefix: '/apis/apps/v1', kind: 'StatefulSet', apiVersion: 'apps/v1' },
  daemonsets: { prefix: '/apis/apps/v1', kind: 'DaemonSet', apiVersion: 'apps/v1' },
  jobs: { prefix: '/apis/batch/v1', kind: 'Job', apiVersion: 'batch/v1' },
  cronjobs: { prefix: '/apis/batch/v1', kind: 'CronJob', apiVersion: 'batch/v1' },
};

export interface K8sObject {
  metadata: { name: string; namespace: string; ownerReferences?: { kind: string; name: string; apiVersion: string; uid: string }[] };
  spec: Record<string, unknown>;
}

export interface K8sRequest { method: string; path: string; query: Record<string, string>; authorization?: string }

export interface K8sApiServerHandle {
  url: string;
  /** Every request received, in order. */
  requests: K8sRequest[];
  stop(): Promise<void>;
}

export interface K8sApiServerOptions {
  objects: Partial<Record<K8sResource, K8sObject[]>>;
  /** When set, requests without `Authorization: Bearer <token>` get the API's 401 Status. */
  token?: string;
  /** Resources whose list calls get the API's 403 Status (RBAC denies them). */
  forbidden?: K8sResource[];
  /** Serve HTTPS with this certificate (PEM file paths, e.g. from testPki()). */
  tls?: { cert: string; key: string };
}

export interface ContainerSpec { name: string; image: string }

/** A pod spec with the given containers and init containers. */
export function podSpec(containers: ContainerSpec[], initContainers: ContainerSpec[] = []): Record<string, unknown> {
  return { containers, ...(initContainers.length ? { initContainers } : {}) };
}

/** A Deployment/StatefulSet/DaemonSet/Job: the pod spec sits at spec.template.spec. */
export function workload(namespace: string, name: string, spec: Record<string, unknown>, owner?: string): K8sObject {
  return {
    metadata: { name, namespace, ...(owner ? { ownerReferences: [{ kind: owner, name: `${name}-owner`, apiVersion: 'v1', uid: 'u1' }] } : {}) },
    spec: { template: { metadata: {}, spec } },
  };
}

/** A CronJob: spec.jobTemplate.spec.template.spec. */
export function cronJob(namespace: string, name: string, spec: Record<string, unknown>): K8sObject {
  return { metadata: { name, namespace }, spec: { schedule: '0 * * * *', jobTemplate: { spec: { template: { metadata: {}, spec } } } } };
}

/** A Pod: spec is the pod spec itself; `owner` marks it as created by a controller. */
export function pod(namespace: string, name: string, spec: Record<string, unknown>, owner?: string): K8sObject {
  const o = workload(namespace, name, {}, owner);
  return { metadata: o.metadata, spec };
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

export async function startK8sApiServer(opts: K8sApiServerOptions): Promise<K8sApiServerHandle> {
  const requests: K8sRequest[] = [];
  // /api/v1/pods, /api/v1/namespaces/{ns}/pods, /apis/apps/v1/deployments, ... (the list endpoints only)
  const route = /^(\/api\/v1|\/apis\/apps\/v1|\/apis\/batch\/v1)(?:\/namespaces\/([a-z0-9-]+))?\/([a-z]+)$/;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const query = Object.fromEntries(url.searchParams);
    requests.push({ method: req.method ?? '', path: url.pathname, query, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (opts.token !== undefined && req.headers.authorization !== `Bearer ${opts.token}`) {
      status(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    const m = route.exec(url.pathname);
    const resource = m?.[3] as K8sResource | undefined;
    const group = resource ? GROUPS[resource] : undefined;
    if (req.method !== 'GET' || !m || !group || group.prefix !== m[1]) {
      status(res, 404, 'NotFound', 'the server could not find the requested resource');
      return;
    }
    const ns = m[2];
    if (opts.forbidden?.includes(resource!)) {
      const scope = ns === undefined ? 'at the cluster scope' : `in the namespace "${ns}"`;
      status(res, 403, 'Forbidden', `${resource} is forbidden: User "system:serviceaccount:ci:lister" cannot list resource "${resource}" in API group "${group.apiVersion.split('/').slice(0, -1).join('')}" ${scope}`);
      return;
    }
    const all = (opts.objects[resource!] ?? []).filter((o) => ns === undefined || o.metadata.namespace === ns);
    // The continue token is opaque to clients; here it is the offset of the next page.
    const offset = query.continue ? Number(Buffer.from(query.continue, 'base64url').toString()) : 0;
    const limit = query.limit ? Number(query.limit) : all.length;
    const page = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString('base64url') : undefined;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      kind: `${group.kind}List`,
      apiVersion: group.apiVersion,
      metadata: { resourceVersion: '1', ...(next ? { continue: next } : {}) },
      items: page.map((o) => ({ kind: group.kind, apiVersion: group.apiVersion, ...o })),
    }));
  };
  const server = opts.tls
    ? createHttpsServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, handle)
    : createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    untrack();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const untrack = track({ stop, stopSync: () => server.close() });
  return { url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`, requests, stop };
}

/** A kubeconfig with one cluster/user/context per entry; the first is the current context. */
export interface KubeContext {
  name: string;
  server: string;
  token?: string;
  /** certificate-authority: the CA file that signed the server's certificate. */
  caFile?: string;
  /** insecure-skip-tls-verify: true (needed by client-node for http:// servers). */
  insecure?: boolean;
  /** A user with an exec credential plugin instead of a token: this command prints an ExecCredential. */
  exec?: { command: string; args: string[] };
}

export function kubeconfigYaml(contexts: KubeContext[]): string {
  const lines = ['apiVersion: v1', 'kind: Config', `current-context: ${contexts[0]?.name ?? ''}`, 'clusters:'];
  for (const c of contexts) {
    lines.push(`- name: ${c.name}-cluster`, '  cluster:', `    server: ${c.server}`);
    if (c.caFile) lines.push(`    certificate-authority: ${c.caFile}`);
    if (c.insecure) lines.push('    insecure-skip-tls-verify: true');
  }
  lines.push('users:');
  for (const c of contexts) {
    lines.push(`- name: ${c.name}-user`, '  user:');
    if (c.token) lines.push(`    token: ${c.token}`);
    else if (c.exec) {
      lines.push('    exec:', '      apiVersion: client.authentication.k8s.io/v1', `      command: ${JSON.stringify(c.exec.command)}`, '      interactiveMode: Never', '      args:');
      for (const a of c.exec.args) lines.push(`      - ${JSON.stringify(a)}`);
    } else lines.push('    {}');
  }
  lines.push('contexts:');
  for (const c of contexts) {
    lines.push(`- name: ${c.name}`, '  context:', `    cluster: ${c.name}-cluster`, `    user: ${c.name}-user`);
  }
  return `${lines.join('\n')}\n`;
}
