// The images a cluster runs, read from the workload objects rather than from running pods alone:
// a Deployment scaled to zero or a CronJob between runs still needs its image in the new registry.
// Pods are read too, but only bare ones (no ownerReferences); a controller's pods repeat its template.
import { AppsV1Api, BatchV1Api, CoreV1Api, type KubeConfig, type V1ObjectMeta, type V1PodSpec } from '@kubernetes/client-node';
import { KubernetesError } from '../errors.js';
import { describeApiFailure } from './api-errors.js';

/** `kubectl set image` resource names, which are also the API's plural resource names minus the s. */
export type WorkloadKind = 'deployment' | 'statefulset' | 'daemonset' | 'job' | 'cronjob' | 'pod';

export interface ContainerImage {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  container: string;
  init: boolean;
  image: string;
  /** A Job created by a CronJob (or another controller): its images are listed, it is not rewritten. */
  owned: boolean;
}

interface ListResult<T> { items: T[]; metadata?: { _continue?: string } }
interface Page { limit: number; _continue?: string }
type Lister<T> = { all: (p: Page) => Promise<ListResult<T>>; namespaced: (ns: string, p: Page) => Promise<ListResult<T>> };

// Large clusters hold thousands of pods; pages keep each response (and the apiserver's work) bounded.
const PAGE = 500;
// client-node sets no deadline: a server behind a dropping firewall would hold the command for the
// kernel's connect timeout (about 2 minutes on Linux) per call, or for ever once connected.
const DEFAULT_TIMEOUT_MS = 60_000;

export interface ListOptions {
  namespaces?: string[];
  /** Per list call. */
  timeoutMs?: number;
  /** Ctrl-C: stop waiting (the process exits; nothing was written). */
  signal?: AbortSignal;
}

/** The call, or a KubernetesError when it outlives the deadline, or the signal's reason on abort. */
function bounded<T>(call: () => Promise<T>, ms: number, server: string, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal!.reason);
    const timer = setTimeout(() => reject(new KubernetesError(`Kubernetes API server ${server} did not answer listing ${what} within ${ms / 1000} s; check that it is reachable from here`)), ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) onAbort();
    call().then((v) => { done(); resolve(v); }, (err: unknown) => { done(); reject(err); });
  });
}

async function listAll<T>(lister: Lister<T>, what: string, server: string, opts: ListOptions): Promise<T[]> {
  const namespaces = opts.namespaces;
  const out: T[] = [];
  for (const ns of namespaces ?? [undefined]) {
    let token: string | undefined;
    do {
      const page: Page = { limit: PAGE, ...(token ? { _continue: token } : {}) };
      let res: ListResult<T>;
      const scoped = ns === undefined ? what : `${what} in namespace ${ns}`;
      try {
        res = await bounded(() => (ns === undefined ? lister.all(page) : lister.namespaced(ns, page)), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, server, scoped, opts.signal);
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        throw describeApiFailure(err, server, scoped);
      }
      out.push(...res.items);
      token = res.metadata?._continue || undefined;
    } while (token);
  }
  return out;
}

function fromPodSpec(kind: WorkloadKind, meta: V1ObjectMeta | undefined, spec: V1PodSpec | undefined, owned: boolean): ContainerImage[] {
  const base = { kind, namespace: meta?.namespace ?? '', name: meta?.name ?? '', owned };
  const out: ContainerImage[] = [];
  // Init containers need their images as much as the main ones; ephemeral (debug) containers are
  // added by hand with `kubectl debug` and are not part of what the workload runs.
  for (const c of spec?.initContainers ?? []) if (c.image) out.push({ ...base, container: c.name, init: true, image: c.image });
  for (const c of spec?.containers ?? []) if (c.image) out.push({ ...base, container: c.name, init: false, image: c.image });
  return out;
}

const hasOwner = (meta: V1ObjectMeta | undefined): boolean => (meta?.ownerReferences?.length ?? 0) > 0;

/** Every container image of the listed kinds, in the given namespaces or in all of them. */
export async function listContainerImages(kc: KubeConfig, server: string, opts: ListOptions = {}): Promise<ContainerImage[]> {
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  // Sequential: a handful of list calls, and the first refusal (401, unreachable) stops the rest.
  const deployments = await listAll({ all: (p) => apps.listDeploymentForAllNamespaces(p), namespaced: (namespace, p) => apps.listNamespacedDeployment({ namespace, ...p }) }, 'deployments', server, opts);
  const statefulsets = await listAll({ all: (p) => apps.listStatefulSetForAllNamespaces(p), namespaced: (namespace, p) => apps.listNamespacedStatefulSet({ namespace, ...p }) }, 'statefulsets', server, opts);
  const daemonsets = await listAll({ all: (p) => apps.listDaemonSetForAllNamespaces(p), namespaced: (namespace, p) => apps.listNamespacedDaemonSet({ namespace, ...p }) }, 'daemonsets', server, opts);
  const jobs = await listAll({ all: (p) => batch.listJobForAllNamespaces(p), namespaced: (namespace, p) => batch.listNamespacedJob({ namespace, ...p }) }, 'jobs', server, opts);
  const cronjobs = await listAll({ all: (p) => batch.listCronJobForAllNamespaces(p), namespaced: (namespace, p) => batch.listNamespacedCronJob({ namespace, ...p }) }, 'cronjobs', server, opts);
  const pods = await listAll({ all: (p) => core.listPodForAllNamespaces(p), namespaced: (namespace, p) => core.listNamespacedPod({ namespace, ...p }) }, 'pods', server, opts);
  return [
    ...deployments.flatMap((o) => fromPodSpec('deployment', o.metadata, o.spec?.template.spec, hasOwner(o.metadata))),
    ...statefulsets.flatMap((o) => fromPodSpec('statefulset', o.metadata, o.spec?.template.spec, hasOwner(o.metadata))),
    ...daemonsets.flatMap((o) => fromPodSpec('daemonset', o.metadata, o.spec?.template.spec, hasOwner(o.metadata))),
    ...jobs.flatMap((o) => fromPodSpec('job', o.metadata, o.spec?.template.spec, hasOwner(o.metadata))),
    ...cronjobs.flatMap((o) => fromPodSpec('cronjob', o.metadata, o.spec?.jobTemplate.spec?.template.spec, hasOwner(o.metadata))),
    ...pods.filter((o) => !hasOwner(o.metadata)).flatMap((o) => fromPodSpec('pod', o.metadata, o.spec, false)),
  ];
}
