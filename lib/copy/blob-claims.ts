// One upload per blob across workers (issue 15, item 5). The in-run ledger (ledger.ts) keeps one
// process from uploading a blob twice; copiers in separate processes (Lambda containers, `work`
// on several machines) share nothing but the state table. Before uploading a blob the destination
// lacks, a copier claims it there: a conditional put of {group `claim#<registry>`, id `<digest>`}
// with a lease (the state port's put if absent with a TTL: an expired item reads as absent).
//   - won: this copier uploads, then marks the claim done with the repository that now holds it;
//     a failed upload lets the lease lapse at once, so nobody waits for nothing;
//   - done: another copier uploaded it: mount from its repository (cross-repo mount);
//   - held: another copier is uploading it: wait (polling, with backoff) until it is done, or its
//     lease lapses (then claim it), or this copier's bounded wait runs out (then upload anyway).
// A claim is a hint, never the truth: a mount must still be answered 201 (blob-copy.ts), and a
// state store that fails leaves the copier uploading as if there were no claims.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { errorMessage, failureCode } from '../errors.js';
import type { StateKey, StateRecord, StateStore } from '../state/store.js';

/** What the winner does once the upload has ended. */
export interface ClaimTicket {
  /** The blob is in `repository`: waiters mount from there. */
  done(repository: string): Promise<void>;
  /** The upload failed: the lease lapses now, so a waiter claims the blob instead of waiting it out. */
  release(): Promise<void>;
}

export interface ClaimRequest {
  registry: string;
  /** The destination repository (a done claim naming it is stale: its HEAD said absent). */
  repository: string;
  digest: string;
  size: number;
}

/** How the claim ended for this copier: it mounted, it uploads holding a ticket, or it uploads unclaimed. */
export type ClaimResult = { mounted: string } | { ticket: ClaimTicket } | { unclaimed: 'small' | 'timeout' | 'store' | 'contended' };

/** Figures for tests and logs: blobs claimed, waited for, mounted from a claim, uploaded unclaimed after trying. */
export interface ClaimStats {
  won: number;
  waited: number;
  mounted: number;
  fellBack: number;
}

export interface BlobClaimsOptions {
  logger?: Logger;
  /** Blobs smaller than this are uploaded unclaimed: a wait costs more than sending them twice. */
  minBytes?: number;
  /** The longest a copier waits for another's upload before uploading itself (ms), by blob size. */
  maxWaitMs?: (size: number) => number;
  /** The lease of a claim (s), by blob size: an upload taking longer lets a waiter take over. */
  leaseSeconds?: (size: number) => number;
  /** How long a done claim stays (s): later copies in other repositories mount from it. */
  doneSeconds?: number;
  /** The first poll interval (ms); it doubles up to 2 s. */
  pollMs?: number;
}

const MIB = 1024 * 1024;
/** A duplicate upload of a config or a tiny layer is two short requests; a poll interval is longer. */
export const CLAIM_MIN_BYTES = 64 * 1024;
/** Assume at least 4 MiB/s for a lease, and let a waiter wait as long as 8 MiB/s would take. */
export const claimLeaseSeconds = (size: number): number => Math.min(900, 60 + Math.ceil(size / (4 * MIB)));
export const claimMaxWaitMs = (size: number): number => Math.min(300_000, 30_000 + Math.ceil(size / (8 * MIB)) * 1000);
const DONE_SECONDS = 24 * 3600;
/** A done claim whose mount fails is taken over; another copier may take it first: bounded. */
const MAX_ROUNDS = 8;

export function claimKey(registry: string, digest: string): StateKey {
  // The state port's group: [A-Za-z0-9#:._-] ([::1]:5000 has brackets).
  return { group: `claim#${registry.replace(/[^A-Za-z0-9:._-]/g, '_')}`.slice(0, 200), id: digest };
}

export class BlobClaims {
  readonly stats: ClaimStats = { won: 0, waited: 0, mounted: 0, fellBack: 0 };
  private readonly minBytes: number;
  private readonly maxWaitMs: (size: number) => number;
  private readonly leaseSeconds: (size: number) => number;
  private readonly doneSeconds: number;
  private readonly pollMs: number;
  private readonly logger: Logger | undefined;
  /** One warning per container for a store that fails, not one per blob. */
  private warned = false;

  constructor(
    private readonly store: StateStore,
    opts: BlobClaimsOptions = {},
  ) {
    this.minBytes = opts.minBytes ?? CLAIM_MIN_BYTES;
    this.maxWaitMs = opts.maxWaitMs ?? claimMaxWaitMs;
    this.leaseSeconds = opts.leaseSeconds ?? claimLeaseSeconds;
    this.doneSeconds = opts.doneSeconds ?? DONE_SECONDS;
    this.pollMs = opts.pollMs ?? 250;
    this.logger = opts.logger;
  }

  /**
   * Claim the blob, or wait for whoever holds it. `mount(from)` tries a cross-repo mount and says
   * whether the registry answered 201; the wait ends early when `signal` aborts (it throws then).
   */
  async acquire(req: ClaimRequest, mount: (from: string) => Promise<boolean>, signal?: AbortSignal): Promise<ClaimResult> {
    if (req.size < this.minBytes) return { unclaimed: 'small' };
    const key = claimKey(req.registry, req.digest);
    const waitUntil = Date.now() + this.maxWaitMs(req.size);
    let delay = this.pollMs;
    let waited = false;
    const fallBack = (why: 'timeout' | 'store' | 'contended'): ClaimResult => {
      this.stats.fellBack++;
      return { unclaimed: why };
    };
    try {
      for (let round = 0; round < MAX_ROUNDS; ) {
        const owner = randomBytes(9).toString('base64url');
        const lease = this.leaseSeconds(req.size);
        if (await this.store.put(key, { state: 'uploading', owner }, { ifAbsent: true, ttlSeconds: lease })) return this.won(key, owner, req);
        const held = await this.store.get(key);
        if (!held) {
          round++; // lapsed or released between the two calls: claim again
          continue;
        }
        const from = held.data.repository;
        if (held.data.state === 'done' && typeof from === 'string') {
          round++;
          if (from !== req.repository && (await mount(from))) {
            this.stats.mounted++;
            this.logger?.info({ digest: req.digest, from, to: req.repository, waited }, 'blob mounted from a claim');
            return { mounted: from };
          }
          // The claim names a repository that no longer has the blob (deleted, or garbage-collected):
          // take it over, unless another copier did so first.
          if (await this.store.put(key, { state: 'uploading', owner }, { ifVersion: held.version, ttlSeconds: lease })) return this.won(key, owner, req);
          continue;
        }
        if (Date.now() >= waitUntil) {
          this.logger?.warn({ digest: req.digest, repository: req.repository }, 'another copier is still uploading this blob; uploading it too');
          return fallBack('timeout');
        }
        if (!waited) this.stats.waited++;
        waited = true;
        // Until the next poll, the lease's end or the wait's, whichever is first.
        await sleep(Math.max(10, Math.min(delay, leaseLeftMs(held), waitUntil - Date.now())), undefined, signal ? { signal } : undefined);
        delay = Math.min(delay * 2, 2000);
      }
      return fallBack('contended');
    } catch (err) {
      if (signal?.aborted) throw signal.reason ?? err;
      this.storeFailed(err);
      return fallBack('store');
    }
  }

  private won(key: StateKey, owner: string, req: ClaimRequest): ClaimResult {
    this.stats.won++;
    this.logger?.debug({ digest: req.digest, repository: req.repository }, 'blob claimed');
    const ticket: ClaimTicket = {
      // Unconditional: if this lease lapsed and another copier took over, "the blob is in this
      // repository" is still true, and its own done will say the same of its repository.
      done: (repository) =>
        this.store.put(key, { state: 'done', repository }, { ttlSeconds: this.doneSeconds }).then(
          () => undefined,
          (err: unknown) => this.storeFailed(err),
        ),
      // Only our own lease: read it, and expire it only if it is still ours.
      release: async () => {
        try {
          const held: StateRecord | undefined = await this.store.get(key);
          if (held?.data.owner === owner) await this.store.put(key, { state: 'released' }, { ifVersion: held.version, ttlSeconds: 0 });
        } catch (err) {
          this.storeFailed(err);
        }
      },
    };
    return { ticket };
  }

  private storeFailed(err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.logger?.warn({ code: failureCode(err) }, `blob claims unavailable, uploading unclaimed: ${errorMessage(err)}`);
  }
}

function leaseLeftMs(held: StateRecord): number {
  return held.expiresAt === undefined ? Infinity : held.expiresAt * 1000 - Date.now() + 1000;
}
