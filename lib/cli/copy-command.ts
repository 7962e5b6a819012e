// `swr-migrate copy SRC DST [--auth FILE]`: one image with all its platforms.
import type { Logger } from 'pino';
import { type AuthEntry, loadAuthFile, resolverFromEntries } from '../config/auth-file.js';
import { flagError, sourcedResolver } from '../config/load.js';
import { ConfigError, UsageError } from '../errors.js';
import { copyImage, type CopyResult } from '../copy/copy-image.js';
import { createCopyContext } from '../copy/context.js';
import { parseReference, parseRepositoryReference } from '../oci/reference.js';
import { resolveFormat } from '../copy/transforms.js';
import { checked, formatFlag } from './pipeline-commands.js';
import { ClientPool } from '../registry/pool.js';
import { formatBytes, formatDuration } from './format.js';

export interface CopyCommandOptions {
  source: string;
  destination: string;
  authFile?: string;
  /** --timeout SECONDS: longest one registry request may take (the pipeline's defaults.timeout). */
  timeout?: number;
  /** --format: `docker` converts OCI manifests to Docker media types (lib/copy/transform-docker.ts). */
  format?: string;
  logger: Logger;
  signal?: AbortSignal;
}

export async function copyCommand(opts: CopyCommandOptions): Promise<CopyResult> {
  const src = parseReference(opts.source);
  const dst = parseRepositoryReference(opts.destination);
  if (dst.digest) throw new UsageError(`the destination names a digest (${opts.destination}); give a tag or none (keeps the source's)`);
  // The flag and the auth file's problems in one error (issue 13).
  const problems: string[] = [];
  const format = checked(problems, () => formatFlag(opts.format));
  let entries: AuthEntry[] = [];
  try {
    entries = opts.authFile ? await loadAuthFile(opts.authFile) : [];
  } catch (err) {
    if (err instanceof ConfigError && problems.length) throw new ConfigError(err.summary, [...err.problems, ...problems]);
    throw err;
  }
  if (problems.length) throw flagError(problems);
  // A refused login names the auth file, or says how to give one.
  const given = opts.authFile ? { file: opts.authFile, flag: '--auth' } : { flag: '--auth FILE' };
  const pool = new ClientPool({ resolve: sourcedResolver(entries, resolverFromEntries(entries), given), logger: opts.logger, timeout: opts.timeout });
  try {
    const ctx = createCopyContext({ logger: opts.logger, signal: opts.signal });
    return await copyImage(
      ctx,
      { client: pool.client(src.registry, src.repository, 'source'), ref: src },
      { client: pool.client(dst.registry, dst.repository, 'destination'), ref: dst },
      // No --format: the destination decides (SWR Basic gets Docker media types).
      { format: resolveFormat(format, pool.access(dst.registry, dst.repository)) },
    );
  } finally {
    await pool.close();
  }
}

export function describeCopy(r: CopyResult, ms: number): string {
  if (r.status === 'skipped') return `up to date: ${r.destination} already has ${r.digest}`;
  const c = r.counters;
  return (
    `copied ${r.source} -> ${r.destination} (${r.digest}): ` +
    `${c.manifestsPut} manifest(s), blobs ${c.blobsUploaded} uploaded / ${c.blobsMounted} mounted / ${c.blobsPresent} present, ` +
    `${formatBytes(c.bytesUploaded)} in ${formatDuration(ms)}`
  );
}
