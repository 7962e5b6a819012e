// `verify`: for every planned image, compare the source's digest with the destination's, by HEAD
// on both sides (cheap, and not counted against Docker Hub's pull limit). With a platform filter
// the expected digest is that of the filtered index, which needs the source manifest.
import type { LoadedConfig } from '../config/types.js';
import { mapLimit } from '../copy/limiter.js';
import { errorMessage } from '../errors.js';
import { parseManifest } from '../oci/manifest.js';
import { filterIndex } from '../oci/platform-filter.js';
import { parseReference } from '../oci/reference.js';
import { poolTagLister, runPlanner } from '../plan/planner.js';
import type { CopyImageMessage } from '../queue/messages.js';
import { ClientPool } from '../registry/pool.js';
import type { Logger } from 'pino';

export interface VerifyLine {
  source: string;
  destination: string;
  status: 'ok' | 'missing' | 'different' | 'source-missing' | 'error';
  sourceDigest?: string;
  destinationDigest?: string;
  message?: string;
}

export async function runVerify(config: LoadedConfig, proc: number, logger?: Logger, signal?: AbortSignal): Promise<VerifyLine[]> {
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
      },
      { platforms: config.defaults.platforms, signal },
    );
    lines.push(...(await mapLimit(tasks, Math.max(proc, 8), (t) => verifyOne(pool, t, signal))));
  } finally {
    await pool.close();
  }
  return lines;
}

async function verifyOne(pool: ClientPool, t: CopyImageMessage, signal?: AbortSignal): Promise<VerifyLine> {
  const line: VerifyLine = { source: t.source, destination: t.destination, status: 'ok' };
  try {
    const s = parseReference(t.source);
    const d = parseReference(t.destination);
    const src = pool.client(s.registry, s.repository, 'source');
    const dst = pool.client(d.registry, d.repository, 'source');
    const [si, di] = await Promise.all([
      s.digest ? Promise.resolve({ digest: s.digest }) : src.manifestHead(s.repository, s.tag!, signal),
      dst.manifestHead(d.repository, d.digest ?? d.tag!, signal),
    ]);
    if (!si) return { ...line, status: 'source-missing' };
    let expected = si.digest;
    if (t.platforms?.length && di && di.digest !== expected) {
      const data = await src.manifestGet(s.repository, si.digest, signal);
      const m = parseManifest(data.bytes, data.mediaType);
      if (m.kind === 'index') expected = filterIndex(data.bytes, m.manifests, t.platforms)?.digest ?? expected;
    }
    line.sourceDigest = expected;
    if (!di) return { ...line, status: 'missing' };
    line.destinationDigest = di.digest;
    return { ...line, status: di.digest === expected ? 'ok' : 'different' };
  } catch (err) {
    return { ...line, status: 'error', message: errorMessage(err) };
  }
}
