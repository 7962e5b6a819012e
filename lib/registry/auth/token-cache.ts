// Bearer tokens by scope set, least recently used first out (issue 13, item 7). A run asks for one
// scope set per repository, and one per mount source too: a warm Lambda container or a long `work`
// process would otherwise keep every token it ever got, expired ones included, for its whole life.
// Expiry is honoured on every read; the cap bounds what is left.

interface Entry {
  value: string;
  /** Clock ms after which the token is not used any more (its lifetime less a margin). */
  expiresAt: number;
}

/** Scope sets remembered per registry host: far more than one copy has in flight. */
export const TOKEN_CACHE_MAX = 256;

export class TokenCache {
  /** Insertion order is recency order: a read moves its entry to the end. */
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly max = TOKEN_CACHE_MAX,
  ) {}

  /** The token for `key` while it is valid; an expired one is dropped. */
  get(key: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.expiresAt <= this.now()) return undefined;
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: string, expiresAt: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    if (this.entries.size <= this.max) return;
    // Expired entries go first, then the least recently used.
    const now = this.now();
    for (const [k, v] of this.entries) if (v.expiresAt <= now) this.entries.delete(k);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
