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
  /** GETs in flight, by digest: copies of one image to several destinations start at once (source-share.ts). */
  private readonly pending = new Map<string, Promise<ManifestData>>();

  constructor(private readonly maxBytes = MANIFEST_CACHE_BYTES) {}

  get(digest: string): ManifestData | undefined {
    const m = this.entries.get(digest);
    if (m) {
      this.entries.delete(digest);
      this.entries.set(digest, m);
    }
    return m;
  }

  /**
   * The manifest from here, else from a GET in flight for it, else from `get`. A joined GET that
   * fails (the other copy was aborted, say) is no verdict on this copy: it makes its own.
   */
  async fetch(digest: string, get: () => Promise<ManifestData>): Promise<ManifestData> {
    const known = this.get(digest);
    if (known) return known;
    const inFlight = this.pending.get(digest);
    if (inFlight) {
      const joined = await inFlight.catch(() => undefined);
      if (joined) return joined;
    }
    const p = get().then((m) => (this.put(m), m));
    this.pending.set(digest, p);
    try {
      return await p;
    } finally {
      if (this.pending.get(digest) === p) this.pending.delete(digest);
    }
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
