// image-syncer's --output-success-images FILE [--output-images-format yaml|json]: after a sync, the
// images that are now at their destination (copied, or already present), written as an images
// file (source -> destination, or a list of destinations) so it can be fed back with --images.
// An image the platform filter wants none of (`filtered`) is not there, so it is left out, as
// image-syncer leaves out the images its filter skips (it lists only the manifests it pushed).
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { UsageError } from '../errors.js';
import type { ImageOutcome } from '../pipeline/copier.js';

export type ImagesFormat = 'yaml' | 'json';

/** Checked before anything is copied: a typo must not cost a whole sync's output. */
export function successImagesFormat(flags: { 'output-images-format'?: string; 'output-success-images'?: string }): ImagesFormat {
  const f = flags['output-images-format'];
  if (f === undefined) return 'yaml';
  if (f !== 'yaml' && f !== 'json') throw new UsageError(`--output-images-format must be yaml or json, not "${f}"`);
  if (!flags['output-success-images']) throw new UsageError('--output-images-format needs --output-success-images FILE');
  return f;
}

/** Source -> destination(s) of every image that reached its destination, sorted by source. */
export function successImages(outcomes: readonly ImageOutcome[]): Record<string, string | string[]> {
  const bySource = new Map<string, Set<string>>();
  for (const o of outcomes) {
    if (o.kind !== 'copy-image' || (o.status !== 'copied' && o.status !== 'skipped')) continue;
    const set = bySource.get(o.source) ?? new Set<string>();
    // A digest-pinned copy lands as `repo@digest`; an images file names a destination repository
    // (a digest there is refused), and the pinned source already says which digest.
    const at = o.destination.indexOf('@');
    set.add(at < 0 ? o.destination : o.destination.slice(0, at));
    bySource.set(o.source, set);
  }
  const out: Record<string, string | string[]> = {};
  for (const source of [...bySource.keys()].sort()) {
    const dests = [...bySource.get(source)!].sort();
    out[source] = dests.length === 1 ? dests[0]! : dests;
  }
  return out;
}

export async function writeSuccessImages(file: string, format: ImagesFormat, outcomes: readonly ImageOutcome[]): Promise<void> {
  const images = successImages(outcomes);
  await writeFile(file, format === 'json' ? `${JSON.stringify(images, null, 2)}\n` : stringify(images));
}
