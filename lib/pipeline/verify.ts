// `verify`: for every planned image, compare the source's digest with the destination's, by HEAD
// on both sides (cheap, and not counted against Docker Hub's pull limit). With a platform filter
// the expected digest is that of the filtered index: the digest memo knows it when a sync pushed
// it; only without a memo entry is the source manifest fetched (and the answer remembered).
import type { LoadedConfig } from '../config/types.js';
import { mapLimit } from '../copy/limiter.js';
import { errorMessage } from '../errors.js';
import { parseManifest } from '../oci/manifest.js';
import { filterDetail, filterIndex, platformTransform } from '../oci/platform-filter.js';
import { parseReference } from '../oci/reference.js';
import { poolTagLister, runPlanner } from '../plan/planner.js';
import type { CopyImageMessage } from '../queue/messages.js';
import { ClientPool } from '../registry/pool.js';
import type { RegistryClient } from '../registry/types.js';
import type { DigestMemo } from '../state/digest-memo.js';
import type { Logger } from 'pino';

export interface VerifyLine {
  source: string;
  destination: string;
  status: 'ok' | 'missing' | 'different' | 'source-missing' | 'error';
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
          void lines.push({ source: m.source, destination: m.destinations.join(', '), status: 'source-missing', message: errorMessage(err) }),
        conflict: async (m, err) => void lines.push({ source: m.source, destination: m.destination, status: 'error', message: err.message }),
      },
      { platforms: config.defaults.platforms, signal },
    );
    lines.push(...(await mapLimit(tasks, Math.max(proc, 8), (t) => verifyOne(pool, t, signal, memo))));
  } finally {
    await pool.close();
  }
  return lines;
}

async function verifyOne(pool: ClientPool, t: CopyImageMessage, signal?: AbortSignal, memo?: DigestMemo): Promise<VerifyLine> {
  const line: VerifyLine = { source: t.source, destination: t.destination, status: 'ok' };
  try {
    const s = parseReference(t.source);
    const d = parseReference(t.destination);
    const src = pool.client(s.registry, s.repository, 'source');
    const dst = pool.client(d.registry, d.repository, 'source');
    // A digest destination was pushed under the digest it ended up with (the filtered one), so it
    // can only be looked up once that is known.
    const [si, tagged] = await Promise.all([
      s.digest ? Promise.resolve({ digest: s.digest }) : src.manifestHead(s.repository, s.tag!, signal),
      d.digest ? Promise.resolve(undefined) : dst.manifestHead(d.repository, d.tag!, signal),
    ]);
    if (!si) return { ...line, status: 'source-missing' };
    let expected = si.digest;
    let di = tagged;
    if (t.platforms?.length && !(tagged && tagged.digest === expected)) {
      const look = async (trustMemo: boolean) => {
        const found = await filteredDigest(src, s.repository, si.digest, t.platforms!, memo, trustMemo, signal);
        expected = found.digest;
        if (d.digest) di = await dst.manifestHead(d.repository, expected, signal);
        return found.fromMemo;
      };
      // A mismatch is only reported from a recomputed digest, never from a memo entry alone.
      if ((await look(true)) && di?.digest !== expected) await look(false);
    }
    line.sourceDigest = expected;
    if (!di) return { ...line, status: 'missing' };
    line.destinationDigest = di.digest;
    return { ...line, status: di.digest === expected ? 'ok' : 'different' };
  } catch (err) {
    return { ...line, status: 'error', message: errorMessage(err) };
  }
}

/** What the platform filter makes of this source digest: from the memo, else by GET (then remembered). */
async function filteredDigest(
  src: RegistryClient,
  repository: string,
  digest: string,
  platforms: readonly string[],
  memo: DigestMemo | undefined,
  trustMemo: boolean,
  signal?: AbortSignal,
): Promise<{ digest: string; fromMemo: boolean }> {
  const transform = platformTransform(platforms);
  const known = trustMemo ? await memo?.get(digest, transform) : undefined;
  if (known) return { digest: known.digest, fromMemo: true };
  const data = await src.manifestGet(repository, digest, signal);
  const m = parseManifest(data.bytes, data.mediaType);
  const filtered = m.kind === 'index' ? filterIndex(data.bytes, m.manifests, platforms) : undefined;
  await memo?.put(digest, transform, filtered ? { digest: filtered.digest, detail: filterDetail(filtered) } : { digest });
  return { digest: filtered?.digest ?? digest, fromMemo: false };
}
