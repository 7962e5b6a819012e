// `swr-migrate copy SRC DST [--auth FILE]`: one image with all its platforms.
import type { Logger } from 'pino';
import { loadAuthFile, resolverFromEntries } from '../config/auth-file.js';
import { UsageError } from '../errors.js';
import { copyImage, type CopyResult } from '../copy/copy-image.js';
import { createCopyContext } from '../copy/context.js';
import { parseReference, parseRepositoryReference } from '../oci/reference.js';
import { resolveFormat } from '../copy/transforms.js';
import { formatFlag } from './pipeline-commands.js';
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
  const format = formatFlag(opts.format);
  const entries = opts.authFile ? await loadAuthFile(opts.authFile) : [];
  const pool = new ClientPool({ resolve: resolverFromEntries(entries), logger: opts.logger, timeout: opts.timeout });
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
