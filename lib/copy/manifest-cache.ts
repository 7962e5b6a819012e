// Source manifests fetched in this run (or this warm container), by digest. A manifest is named by
// its digest and verified against it when fetched (registry/client.ts), so the same digest is the
// same bytes wherever it came from. An image that failed part-way and is delivered again needs its
// index and children once more: from here, not from the registry. That is fewer requests to fail
// under a flaky registry (issue 13, chaos suite) and fewer GETs against Docker Hub's pull budget.
import type { ManifestData } from '../registry/types.js';

/** Bytes of manifests kept at most: a 4 MiB manifest is the spec's ceiling, most are a few KiB. */
export const MANIFEST_CACHE_BYTES = 32 * 1024 * 1024;

export class ManifestCache {
  /** Insertion order is recency order. */
  private readonly entries = new Map<string, ManifestData>();
  private bytes = 0;

  constructor(private readonly maxBytes = MANIFEST_CACHE_BYTES) {}

  get(digest: string): ManifestData | undefined {
    const m = this.entries.get(digest);
    if (m) {
      this.entries.delete(digest);
      this.entries.set(digest, m);
    }
    return m;
  }

  put(m: ManifestData): void {
    if (m.bytes.length > this.maxBytes || this.entries.has(m.digest)) return;
    this.entries.set(m.digest, m);
    this.bytes += m.bytes.length;
    for (const [digest, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(digest);
      this.bytes -= old.bytes.length;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
