// From container images to an image-syncer `--images` file (source -> destination repository) and
// to the `kubectl set image` commands that would point the workloads at the copies.
// Naming follows Huawei image-migrator's `config` subcommand: the destination is
// `<target>/<last path component>`, so docker.io/library/nginx and quay.io/x/nginx both become
// <target>/nginx (SWR organizations hold one level of repository names well; deeper paths are
// allowed but image-migrator users expect the flat layout). Two sources landing on the same
// destination tag are reported, not silently merged.
import { stringify } from 'yaml';
import { formatReference, parseReference, parseRepositoryReference, type ImageReference } from '../oci/reference.js';
import { UsageError, errorMessage } from '../errors.js';
import type { ContainerImage } from './workloads.js';

export interface Target { registry: string; repository: string }

export interface MappedImage {
  /** The images-file key: the normalised source, tag and/or digest kept (`docker.io/library/nginx:1.27`). */
  source: string;
  /** The images-file value: a repository; the planner keeps the source's tag (or digest). */
  destination: string;
  /** What the workload should run after the copy. */
  newImage: string;
}

export interface ImagePlan {
  images: Map<string, MappedImage>;
  /** cluster image string -> mapped image, for the rewrite commands. */
  byClusterImage: Map<string, MappedImage>;
  warnings: string[];
}

export function parseTarget(target: string | undefined): Target {
  if (!target) throw new UsageError('images-from-cluster needs --target REGISTRY/ORG, e.g. --target swr.cn-north-4.myhuaweicloud.com/mirror');
  let ref: ImageReference;
  try {
    ref = parseRepositoryReference(target.replace(/\/+$/, ''));
  } catch (err) {
    throw new UsageError(`--target "${target}": ${errorMessage(err)}`);
  }
  if (ref.tag !== undefined || ref.digest !== undefined) throw new UsageError(`--target "${target}" names a tag or digest; give a registry and organization, e.g. swr.cn-north-4.myhuaweicloud.com/mirror`);
  // parseRepositoryReference defaults a one-word name to docker.io/library/<name>: a target must say its registry.
  const host = target.split('/')[0]!;
  if (!target.includes('/') || !(host.includes('.') || host.includes(':') || host === 'localhost')) {
    throw new UsageError(`--target "${target}" must start with a registry host, e.g. swr.cn-north-4.myhuaweicloud.com/mirror`);
  }
  return { registry: ref.registry, repository: ref.repository };
}

const basename = (repository: string): string => repository.slice(repository.lastIndexOf('/') + 1);

export function planImages(containers: ContainerImage[], target: Target): ImagePlan {
  const images = new Map<string, MappedImage>();
  const byClusterImage = new Map<string, MappedImage>();
  const warnings: string[] = [];
  const prefix = `${target.registry}/${target.repository}/`;
  // destination:tag -> source, to find two sources that would overwrite one another.
  const claimed = new Map<string, string>();
  for (const image of [...new Set(containers.map((c) => c.image))].sort()) {
    let ref: ImageReference;
    try {
      // The kubelet pulls a tagless image as :latest (docker's normalisation), so the copy does too.
      ref = parseReference(image);
    } catch (err) {
      const where = containers.find((c) => c.image === image)!;
      warnings.push(`skipped ${where.kind}/${where.name} (namespace ${where.namespace}) container ${where.container}: image "${image}": ${errorMessage(err)}`);
      continue;
    }
    const source = formatReference(ref);
    if (source.startsWith(prefix)) continue; // already served from the target
    const destination = `${prefix}${basename(ref.repository)}`;
    const newImage = `${destination}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
    const mapped = { source, destination, newImage };
    byClusterImage.set(image, mapped);
    if (images.has(source)) continue; // `nginx` and `docker.io/library/nginx:latest` are one image
    const slot = ref.tag !== undefined ? `${destination}:${ref.tag}` : `${destination}@${ref.digest}`;
    const other = claimed.get(slot);
    if (other !== undefined && ref.tag !== undefined) {
      warnings.push(`${other} and ${source} both map to ${slot}; edit the images file so they get different destinations`);
    }
    claimed.set(slot, source);
    images.set(source, mapped);
  }
  return { images, byClusterImage, warnings };
}

/** The images file: YAML (image-syncer's usual form), or JSON when the file name ends in .json. */
export function renderImagesFile(plan: ImagePlan, format: 'yaml' | 'json'): string {
  const doc: Record<string, string> = {};
  for (const key of [...plan.images.keys()].sort()) doc[key] = plan.images.get(key)!.destination;
  return format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc);
}

/**
 * One `kubectl set image` line per workload, every mapped container (init containers included,
 * which kubectl set image also matches by name). Jobs created by a CronJob are left out: the
 * CronJob's own line covers the next runs, and a Job's pod template cannot be changed anyway.
 */
export function rewriteCommands(containers: ContainerImage[], plan: ImagePlan): string[] {
  const byWorkload = new Map<string, string[]>();
  for (const c of containers) {
    if (c.owned) continue;
    const mapped = plan.byClusterImage.get(c.image);
    if (!mapped) continue;
    const key = `kubectl set image -n ${c.namespace} ${c.kind}/${c.name}`;
    const list = byWorkload.get(key) ?? [];
    list.push(`${c.container}=${mapped.newImage}`);
    byWorkload.set(key, list);
  }
  return [...byWorkload.entries()].map(([cmd, sets]) => `${cmd} ${sets.join(' ')}`).sort();
}
