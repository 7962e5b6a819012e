// What this run knows about blobs on each destination registry: which repositories hold a digest
// (so a copy can skip the HEAD, or mount from a sibling repo), and which digests are being moved
// right now (so concurrent copies never upload the same blob twice to one registry). Only a finished
// transfer adds an entry, and a manifest push that finds a blob missing removes its entries, so the
// next attempt checks again (ocync's lazily healing state).

export class BlobLedger {
  private readonly holders = new Map<string, Set<string>>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Manifests (children of an index) this run pushed or saw at a destination repository. */
  private readonly manifests = new Set<string>();

  private static key(registry: string, digest: string): string {
    return `${registry}\u0000${digest}`;
  }

  has(registry: string, repository: string, digest: string): boolean {
    return this.holders.get(BlobLedger.key(registry, digest))?.has(repository) ?? false;
  }

  /** A repository on `registry` other than `except` known to hold the digest, for a mount. */
  mountSource(registry: string, digest: string, except: string): string | undefined {
    for (const repo of this.holders.get(BlobLedger.key(registry, digest)) ?? []) if (repo !== except) return repo;
    return undefined;
  }

  add(registry: string, repository: string, digest: string): void {
    const key = BlobLedger.key(registry, digest);
    let set = this.holders.get(key);
    if (!set) this.holders.set(key, (set = new Set()));
    set.add(repository);
  }

  forget(registry: string, repository: string, digest: string): void {
    this.holders.get(BlobLedger.key(registry, digest))?.delete(repository);
  }

  /** A child manifest known to be in `repository` (pushed or seen by this run): no HEAD needed. */
  hasManifest(registry: string, repository: string, digest: string): boolean {
    return this.manifests.has(`${registry}\u0000${repository}\u0000${digest}`);
  }

  addManifest(registry: string, repository: string, digest: string): void {
    this.manifests.add(`${registry}\u0000${repository}\u0000${digest}`);
  }

  forgetManifest(registry: string, repository: string, digest: string): void {
    this.manifests.delete(`${registry}\u0000${repository}\u0000${digest}`);
  }

  /**
   * Run `fn` as the only operation on this digest on this registry. Callers that arrive while one
   * runs wait for it (whatever its outcome) and then get `undefined`, to look at the ledger again.
   */
  async exclusive<T>(registry: string, digest: string, fn: () => Promise<T>): Promise<T | undefined> {
    const key = BlobLedger.key(registry, digest);
    const running = this.inflight.get(key);
    if (running) {
      await running.catch(() => undefined);
      return undefined;
    }
    const p = fn();
    this.inflight.set(key, p);
    try {
      return await p;
    } finally {
      this.inflight.delete(key);
    }
  }
}
