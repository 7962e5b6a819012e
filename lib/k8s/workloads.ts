// The images a cluster runs, read from the workload objects rather than from running pods alone:
// a Deployment scaled to zero or a CronJob between runs still needs its image in the new registry.
// Pods are read too, but only bare ones (no ownerReferences); a controller's pods repeat its template.
import { AppsV1Api, BatchV1Api, CoreV1Api, type KubeConfig, type V1ObjectMeta, type V1PodSpec } from '@kubernetes/client-node';
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

async function listAll<T>(lister: Lister<T>, what: string, server: string, namespaces: string[] | undefined): Promise<T[]> {
  const out: T[] = [];
  for (const ns of namespaces ?? [undefined]) {
    let token: string | undefined;
    do {
      const page: Page = { limit: PAGE, ...(token ? { _continue: token } : {}) };
      let res: ListResult<T>;
      try {
        res = ns === undefined ? await lister.all(page) : await lister.namespaced(ns, page);
      } catch (err) {
        throw describeApiFailure(err, server, ns === undefined ? what : `${what} in namespace ${ns}`);
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
export async function listContainerImages(kc: KubeConfig, server: string, namespaces?: string[]): Promise<ContainerImage[]> {
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  // Sequential: a handful of list calls, and the first refusal (401, unreachable) stops the rest.
  const deployments = await listAll({ all: (p) => apps.listDeploymentForAllNamespaces(p), namespaced: (namespace, p) => apps.listNamespacedDeployment({ namespace, ...p }) }, 'deployments', server, namespaces);
  const statefulsets = await listAll({ all: (p) => apps.listStatefulSetForAllNamespaces(p), namespaced: (namespace, p) => apps.listNamespacedStatefulSet({ namespace, ...p }) }, 'statefulsets', server, namespaces);
  const daemonsets = await listAll({ all: (p) => apps.listDaemonSetForAllNamespaces(p), namespaced: (namespace, p) => apps.listNamespacedDaemonSet({ namespace, ...p }) }, 'daemonsets', server, namespaces);
  const jobs = await listAll({ all: (p) => batch.listJobForAllNamespaces(p), namespaced: (namespace, p) => batch.listNamespacedJob({ namespace, ...p }) }, 'jobs', server, namespaces);
  const cronjobs = await listAll({ all: (p) => batch.listCronJobForAllNamespaces(p), namespaced: (namespace, p) => batch.listNamespacedCronJob({ namespace, ...p }) }, 'cronjobs', server, namespaces);
  const pods = await listAll({ all: (p) => core.listPodForAllNamespaces(p), namespaced: (namespace, p) => core.listNamespacedPod({ namespace, ...p }) }, 'pods', server, namespaces);
  return [
    ...deployments.flatMap((o) => fromPodSpec('deployment', o.metadata, o.spec?.template.spec, hasOwner(o.metadata))),
    ...statefulsets.flatMap((o) => fromPodSpec('statefulset', o.metadata, o.spec?.template.spec, hasOwner(o.metadata))),
    ...daemonsets.flatMap((o) => fromPodSpec('daemonset', o.metadata, o.spec?.template.spec, hasOwner(o.metadata))),
    ...jobs.flatMap((o) => fromPodSpec('job', o.metadata, o.spec?.template.spec, hasOwner(o.metadata))),
    ...cronjobs.flatMap((o) => fromPodSpec('cronjob', o.metadata, o.spec?.jobTemplate.spec?.template.spec, hasOwner(o.metadata))),
    ...pods.filter((o) => !hasOwner(o.metadata)).flatMap((o) => fromPodSpec('pod', o.metadata, o.spec, false)),
  ];
}
