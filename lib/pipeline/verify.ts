// `verify`: for every planned image, compare the source's digest with the destination's, by HEAD
// on both sides (cheap, and not counted against Docker Hub's pull limit). With a transform (platform
// filter, Docker format) the expected digest is that of the converted manifest: the digest memo
// knows it when a sync pushed it; only without a memo entry is the source manifest fetched and
// converted again (deterministic: the same bytes), and the answer remembered.
import type { LoadedConfig } from '../config/types.js';
import { mapLimit } from '../copy/limiter.js';
import { errorMessage } from '../errors.js';
import { parseManifest } from '../oci/manifest.js';
import { parseReference } from '../oci/reference.js';
import { listerFor } from '../listing/index.js';
import { poolTagLister, runPlanner } from '../plan/planner.js';
import { invalidTagsWarning } from '../plan/warnings.js';
import { type CopyImageMessage, ruleDestinationText } from '../queue/messages.js';
import { ClientPool } from '../registry/pool.js';
import type { BlobEndpoint } from '../copy/blob-copy.js';
import { deepCheck } from '../copy/deep-check.js';
import { type TransformStep, applyTransforms, resolveFormat, transformKey, transformsFor } from '../copy/transforms.js';
import type { DigestMemo } from '../state/digest-memo.js';
import type { Logger } from 'pino';

export interface VerifyLine {
  source: string;
  destination: string;
  /**
   * `filtered`: the platform filter wants none of the image (`message` says why), so none is expected.
   * `incomplete` (--deep): the top manifest is there, but a child manifest or a blob it names is not.
   */
  status: 'ok' | 'missing' | 'different' | 'source-missing' | 'error' | 'filtered' | 'incomplete';
  sourceDigest?: string;
  destinationDigest?: string;
  message?: string;
}

export async function runVerify(
  config: LoadedConfig,
  proc: number,
  logger?: Logger,
  signal?: AbortSignal,
  memo?: DigestMemo,
  /** Warnings for the user (lib/plan/warnings.ts); default: logged. */
  onWarning: (message: string) => void = (message) => logger?.warn(message),
  /** --deep: every child manifest and blob of a matching image is HEADed too (copy/deep-check.ts). */
  opts: { deep?: boolean } = {},
): Promise<VerifyLine[]> {
  const pool = new ClientPool({ resolve: config.resolve, logger, timeout: config.defaults.timeout, connections: config.defaults.connections });
  const tasks: CopyImageMessage[] = [];
  const lines: VerifyLine[] = [];
  try {
    await runPlanner(
      config.rules,
      poolTagLister(pool),
      {
        tasks: async (ms) => void tasks.push(...ms),
        ruleFailed: async (m, err) =>
          void lines.push({ source: m.source, destination: ruleDestinationText(m), status: 'source-missing', message: errorMessage(err) }),
        conflict: async (m, err) => void lines.push({ source: m.source, destination: m.destination, status: 'error', message: err.message }),
      },
      { platforms: config.defaults.platforms, signal, repositories: (registry) => listerFor(pool, registry), onWarning, onInvalidTags: (s, tags, origin) => onWarning(invalidTagsWarning(s, tags, origin)) },
    );
    lines.push(...(await mapLimit(tasks, Math.max(proc, 8), (t) => verifyOne(pool, t, signal, memo, opts.deep === true))));
  } finally {
    await pool.close();
  }
  return lines;
}

async function verifyOne(pool: ClientPool, t: CopyImageMessage, signal: AbortSignal | undefined, memo: DigestMemo | undefined, deep: boolean): Promise<VerifyLine> {
  const line: VerifyLine = { source: t.source, destination: t.destination, status: 'ok' };
  try {
    const s = parseReference(t.source);
    const d = parseReference(t.destination);
    const src = pool.client(s.registry, s.repository, 'source');
    const dst = pool.client(d.registry, d.repository, 'source');
    // The same chain a copy applies (platform filter, Docker format for SWR Basic or --format docker).
    const steps = transformsFor({ platforms: t.platforms, format: resolveFormat(t.format, pool.access(d.registry, d.repository)) });
    // Every reference form (issue 13, item 3): a tag destination is HEADed by its tag at once; a
    // digest destination holds what a copy pushed, named by its digest (the source's, or the
    // converted one), so it is HEADed by that digest once it is known.
    const [si, tagged] = await Promise.all([
      s.digest ? Promise.resolve({ digest: s.digest }) : src.manifestHead(s.repository, s.tag!, signal),
      d.digest ? Promise.resolve(undefined) : dst.manifestHead(d.repository, d.tag!, signal),
    ]);
    if (!si) return { ...line, status: 'source-missing' };
    let expected = si.digest;
    let di = tagged;
    let filtered: string | undefined;
    if (steps.length && !(tagged && tagged.digest === expected)) {
      const look = async (trustMemo: boolean) => {
        const found = await transformedDigest({ client: src, repository: s.repository }, t.source, si.digest, steps, memo, trustMemo, signal);
        expected = found.digest;
        filtered = found.filtered;
        if (d.digest && !filtered) di = await dst.manifestHead(d.repository, expected, signal);
        return found.fromMemo;
      };
      // A mismatch is only reported from a recomputed digest, never from a memo entry alone.
      if ((await look(true)) && !filtered && di?.digest !== expected) await look(false);
    } else if (d.digest) {
      // No transform: the copy pushed the source's own bytes, under their digest.
      di = await dst.manifestHead(d.repository, expected, signal);
    }
    if (filtered) return { ...line, status: 'filtered', message: filtered };
    line.sourceDigest = expected;
    if (!di) return { ...line, status: 'missing' };
    line.destinationDigest = di.digest;
    if (di.digest !== expected) return { ...line, status: 'different' };
    if (!deep) return line;
    const report = await deepCheck(dst, d.repository, expected, signal);
    if (!report.problems.length) return line;
    const more = report.problems.length > 3 ? `, and ${report.problems.length - 3} more` : '';
    return { ...line, status: 'incomplete', message: `${report.problems.slice(0, 3).join('; ')}${more}` };
  } catch (err) {
    return { ...line, status: 'error', message: errorMessage(err) };
  }
}

/** What the transforms make of this source digest: from the memo, else by GET (then remembered). */
async function transformedDigest(
  from: BlobEndpoint,
  image: string,
  digest: string,
  steps: readonly TransformStep[],
  memo: DigestMemo | undefined,
  trustMemo: boolean,
  signal?: AbortSignal,
): Promise<{ digest: string; fromMemo: boolean; filtered?: string }> {
  const key = transformKey(steps)!;
  const known = trustMemo ? await memo?.get(digest, key) : undefined;
  if (known) return { digest: known.digest, fromMemo: true, ...(known.filtered ? { filtered: known.detail ?? key } : {}) };
  const data = await from.client.manifestGet(from.repository, digest, signal);
  const out = await applyTransforms(steps, from, { data, manifest: parseManifest(data.bytes, data.mediaType) }, image, signal);
  if (out.filtered) {
    await memo?.put(digest, key, { digest, detail: out.filtered, filtered: true });
    return { digest, fromMemo: false, filtered: out.filtered };
  }
  await memo?.put(digest, key, { digest: out.data.digest, ...(out.conversion ? { detail: out.conversion } : {}) });
  return { digest: out.data.digest, fromMemo: false };
}
