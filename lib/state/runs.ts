// Runs: one record per scheduled planner invocation (group `runs`, id = the run id, which starts
// with its time so the last runs come first in a descending query), holding the messages it
// enqueued and how many settled, by outcome. Every message the planner sends carries the run id
// (queue/messages.ts `run`); an expansion's copies inherit it and are added to `enqueued` before
// they are sent, so `settled < enqueued` while anything of the run is still to do.
//
// A message is counted once however often it is delivered: its first settlement writes a marker
// (group `run#ID`, id `settled#<sha256 of the body>`) only if absent, then adds to the counter. The
// body, not the SQS message id, names it: a message moved back from the DLQ gets a new id, and
// the same body is the same image. A message settled again after a replay from the DLQ (failed
// or deferred before) moves its count to the new outcome, under the marker's version. A marker is
// written before its count, so a crash between them can only leave the run looking unfinished; the
// planner then looks at the queue before it believes that (lambda/planner-runs.ts).
import { createHash, randomBytes } from 'node:crypto';
import type { StateRecord, StateStore } from './store.js';

/**
 * What a settled message counts as. `expanded`: a rule message fanned out (its images count on their
 * own). `kept`: `overwrite: false` left a destination tag holding another image as it was.
 */
export const RUN_OUTCOMES = ['copied', 'skipped', 'filtered', 'kept', 'failed', 'deferred', 'expanded'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/**
 * What a run's prunes did (pipeline/prune.ts), counted beside the settled messages and never in
 * them (a deleted tag is no message): `pruned` tags deleted, `pruneHeld` rules whose prune stopped
 * above their max, `pruneKept` tags prune left (a shared digest, a registry refusing DELETE).
 */
export const RUN_PRUNE_COUNTS = ['pruned', 'pruneHeld', 'pruneKept'] as const;
export type RunPruneCount = (typeof RUN_PRUNE_COUNTS)[number];

/** Outcomes a replay from the DLQ can still change. */
const REPLAYABLE: ReadonlySet<string> = new Set(['failed', 'deferred']);

export const RUNS_GROUP = 'runs';
/** Run records are kept 90 days; markers 30 (longer than a message can wait: SQS keeps one 14 days, then the DLQ 14). */
export const RUN_TTL_S = 90 * 86_400;
export const MARKER_TTL_S = 30 * 86_400;
/** No message outlives SQS's longest retention: a run older than this cannot still be running. */
export const RUN_MAX_AGE_MS = 14 * 86_400_000;

export interface RunRecord {
  id: string;
  /** ISO time the planner started it. */
  started?: string;
  enqueued: number;
  settled: Record<RunOutcome, number>;
  /** Prune's counts (absent fields: 0). */
  prune?: Record<RunPruneCount, number>;
  /** Images and repository listings the planner itself sent (expansions add to `enqueued` only). */
  images?: number;
  repositories?: number;
  /** The planner failed to send (the counts may then be short). */
  error?: string;
}

/** Sortable by time: `20250102T030405678Z-1a2b3c`. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
}

/** The run's start time from its id, when it has one (ms since the epoch). */
export function runTime(id: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!) : undefined;
}

export function settledTotal(r: RunRecord): number {
  return RUN_OUTCOMES.reduce((n, o) => n + r.settled[o], 0);
}

/** Still running: something enqueued is unsettled, and the run is young enough for that to be true. */
export function runInProgress(r: RunRecord, nowMs = Date.now()): boolean {
  const started = (r.started ? Date.parse(r.started) : NaN) || runTime(r.id) || nowMs;
  return settledTotal(r) < r.enqueued && nowMs - started < RUN_MAX_AGE_MS;
}

export function runFrom(rec: StateRecord): RunRecord {
  const n = (k: string) => (typeof rec.data[k] === 'number' ? (rec.data[k] as number) : 0);
  const s = (k: string) => (typeof rec.data[k] === 'string' ? (rec.data[k] as string) : undefined);
  const settled = Object.fromEntries(RUN_OUTCOMES.map((o) => [o, n(o)])) as Record<RunOutcome, number>;
  const started = s('started');
  const error = s('error');
  return {
    id: rec.id,
    ...(started ? { started } : {}),
    enqueued: n('enqueued'),
    settled,
    prune: Object.fromEntries(RUN_PRUNE_COUNTS.map((o) => [o, n(o)])) as Record<RunPruneCount, number>,
    ...(typeof rec.data.images === 'number' ? { images: rec.data.images } : {}),
    ...(typeof rec.data.repositories === 'number' ? { repositories: rec.data.repositories } : {}),
    ...(error ? { error } : {}),
  };
}

/** What the copier needs of run accounting (pipeline/copier.ts), so it depends on no store. */
export interface RunAccounting {
  /** Before an expansion sends `bodies` for run `run`: they join its enqueued count (once per expand message). */
  expanding(run: string, body: string, bodies: readonly string[]): Promise<void>;
  /** A message of run `run` settled with `outcome`: counted once per body. */
  settled(run: string, body: string, outcome: RunOutcome): Promise<void>;
  /** What an expansion's prune did (each tag deleted once: a second delivery finds it gone and counts nothing). */
  pruned?(run: string, counts: Partial<Record<RunPruneCount, number>>): Promise<void>;
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex');
const markers = (run: string) => `run#${run}`;

export class RunTracker implements RunAccounting {
  constructor(readonly store: StateStore) {}

  /** The planner, before it sends: the run's record with the messages it is about to send. */
  async start(run: string, enqueued: number, info: { images: number; repositories: number; started?: Date }): Promise<void> {
    const zero = Object.fromEntries(RUN_OUTCOMES.map((o) => [o, 0]));
    await this.store.add(
      { group: RUNS_GROUP, id: run },
      { ...zero, enqueued },
      { set: { started: (info.started ?? new Date()).toISOString(), images: info.images, repositories: info.repositories }, ttlSeconds: RUN_TTL_S },
    );
  }

  /** The planner could not send everything: said on the record (its counts may be short). */
  async failed(run: string, message: string): Promise<void> {
    await this.store.add({ group: RUNS_GROUP, id: run }, {}, { set: { error: message.slice(0, 500) }, ttlSeconds: RUN_TTL_S });
  }

  async expanding(run: string, body: string, bodies: readonly string[]): Promise<void> {
    const count = new Set(bodies).size;
    const key = { group: markers(run), id: `fanout#${digest(body)}` };
    // A retried expansion (its send failed, or a second delivery) adds only what it adds anew.
    for (let tries = 0; tries < 5; tries++) {
      const prev = await this.store.get(key);
      const before = typeof prev?.data.count === 'number' ? prev.data.count : 0;
      if (count <= before) return;
      const written = prev
        ? await this.store.put(key, { count }, { ifVersion: prev.version, ttlSeconds: MARKER_TTL_S })
        : await this.store.put(key, { count }, { ifAbsent: true, ttlSeconds: MARKER_TTL_S });
      if (written) {
        await this.store.add({ group: RUNS_GROUP, id: run }, { enqueued: count - before }, { ttlSeconds: RUN_TTL_S });
        return;
      }
    }
  }

  async settled(run: string, body: string, outcome: RunOutcome): Promise<void> {
    const key = { group: markers(run), id: `settled#${digest(body)}` };
    const runKey = { group: RUNS_GROUP, id: run };
    for (let tries = 0; tries < 5; tries++) {
      if (await this.store.put(key, { outcome }, { ifAbsent: true, ttlSeconds: MARKER_TTL_S })) {
        await this.store.add(runKey, { [outcome]: 1 }, { ttlSeconds: RUN_TTL_S });
        return;
      }
      const prev = await this.store.get(key);
      if (!prev) continue; // expired between the two calls: try again
      const was = String(prev.data.outcome);
      // Counted already; only a replayed failure or deferral that now ends otherwise moves.
      if (was === outcome || !REPLAYABLE.has(was)) return;
      if (await this.store.put(key, { outcome }, { ifVersion: prev.version, ttlSeconds: MARKER_TTL_S })) {
        await this.store.add(runKey, { [was]: -1, [outcome]: 1 }, { ttlSeconds: RUN_TTL_S });
        return;
      }
    }
  }

  async pruned(run: string, counts: Partial<Record<RunPruneCount, number>>): Promise<void> {
    const deltas = Object.fromEntries(Object.entries(counts).filter(([, n]) => n));
    if (Object.keys(deltas).length) await this.store.add({ group: RUNS_GROUP, id: run }, deltas, { ttlSeconds: RUN_TTL_S });
  }

  /** The last `limit` runs, newest first. */
  async last(limit: number): Promise<RunRecord[]> {
    return (await this.store.query(RUNS_GROUP, { descending: true, limit })).map(runFrom);
  }
}

/** One line for a run: `RUN started T: 12 enqueued, 10 settled (8 copied, 1 skipped, 1 failed); in progress`. */
export function runLine(r: RunRecord, nowMs = Date.now()): string {
  const parts = RUN_OUTCOMES.filter((o) => r.settled[o] > 0).map((o) => `${r.settled[o]} ${o}`);
  const state = runInProgress(r, nowMs) ? 'in progress' : settledTotal(r) < r.enqueued ? 'unfinished (too old to be running)' : 'done';
  const p = r.prune;
  const pruned = p && (p.pruned || p.pruneHeld || p.pruneKept)
    ? `; ${p.pruned} pruned${p.pruneKept ? `, ${p.pruneKept} kept by prune` : ''}${p.pruneHeld ? `, ${p.pruneHeld} rule(s) above prune.max` : ''}`
    : '';
  return (
    `run ${r.id}${r.started ? ` started ${r.started}` : ''}: ${r.enqueued} enqueued, ${settledTotal(r)} settled` +
    `${parts.length ? ` (${parts.join(', ')})` : ''}${pruned}; ${state}${r.error ? `; planner error: ${r.error}` : ''}`
  );
}
