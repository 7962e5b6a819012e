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
//
// For the run's summary (lib/notify/run-end.ts) a settle also adds the image's bytes to the record,
// and a failure is kept by code: a counter per code (`failcode#CODE`) and its first few examples
// (`failex#CODE#<sha256 of the body>`: source, destination, the masked message). A replayed failure
// that now ends otherwise takes its count (and its example) back. The run's end is the settle after
// which every enqueued message is settled; `claimNotice` lets exactly one writer act on it.
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
  /** Bytes the run's copies uploaded. */
  bytes?: number;
  /** Rules the planner could not list and sent to the DLQ (not among the enqueued messages). */
  rulesFailed?: number;
}

/** What a settled message adds to its run's summary (copier.ts passes its outcome). */
export interface SettleDetail {
  bytes?: number;
  source?: string;
  destination?: string;
  /** A failure's code and (masked) message. */
  error?: { code: string; message: string };
}

/** Failures of a run by code, with up to FAILURE_EXAMPLES examples each (the summary's groups). */
export interface RunFailureGroup {
  code: string;
  count: number;
  examples: { source: string; destination: string; message: string }[];
}

/** Examples kept per failure code: the summary shows a few, the DLQ has them all. */
export const FAILURE_EXAMPLES = 3;

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
    ...(typeof rec.data.bytes === 'number' ? { bytes: rec.data.bytes } : {}),
    ...(typeof rec.data.rulesFailed === 'number' ? { rulesFailed: rec.data.rulesFailed } : {}),
  };
}

/** What the copier needs of run accounting (pipeline/copier.ts), so it depends on no store. */
export interface RunAccounting {
  /** Before an expansion sends `bodies` for run `run`: they join its enqueued count (once per expand message). */
  expanding(run: string, body: string, bodies: readonly string[]): Promise<void>;
  /**
   * A message of run `run` settled with `outcome`: counted once per body. Returns the run's record
   * as this count left it, or nothing when it counted nothing (a second delivery).
   */
  settled(run: string, body: string, outcome: RunOutcome, detail?: SettleDetail): Promise<RunRecord | void>;
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

  async settled(run: string, body: string, outcome: RunOutcome, detail: SettleDetail = {}): Promise<RunRecord | undefined> {
    const id = digest(body);
    const key = { group: markers(run), id: `settled#${id}` };
    const runKey = { group: RUNS_GROUP, id: run };
    const bytes: Record<string, number> = detail.bytes ? { bytes: detail.bytes } : {};
    const code = outcome === 'failed' ? (detail.error?.code ?? 'SWRM_INTERNAL') : undefined;
    const marker = { outcome, ...(code ? { code } : {}) };
    for (let tries = 0; tries < 5; tries++) {
      if (await this.store.put(key, marker, { ifAbsent: true, ttlSeconds: MARKER_TTL_S })) {
        // The failure is written before the count, so whoever sees the run end sees it too.
        if (code) await this.addFailure(run, code, id, detail);
        return runFrom(await this.store.add(runKey, { [outcome]: 1, ...bytes }, { ttlSeconds: RUN_TTL_S }));
      }
      const prev = await this.store.get(key);
      if (!prev) continue; // expired between the two calls: try again
      const was = String(prev.data.outcome);
      // Counted already; only a replayed failure or deferral that now ends otherwise moves.
      if (was === outcome || !REPLAYABLE.has(was)) return undefined;
      if (await this.store.put(key, marker, { ifVersion: prev.version, ttlSeconds: MARKER_TTL_S })) {
        if (was === 'failed') await this.dropFailure(run, String(prev.data.code ?? 'SWRM_INTERNAL'), id);
        if (code) await this.addFailure(run, code, id, detail);
        return runFrom(await this.store.add(runKey, { [was]: -1, [outcome]: 1, ...bytes }, { ttlSeconds: RUN_TTL_S }));
      }
    }
    return undefined;
  }

  /** The planner's rules it could not list (sent to the DLQ): on the run's record and in its failures. */
  async rulesFailed(run: string, failures: readonly (SettleDetail & { error: { code: string; message: string } })[]): Promise<void> {
    if (!failures.length) return;
    for (const f of failures) await this.addFailure(run, f.error.code, digest(`${f.source}\n${f.destination}`), f);
    await this.store.add({ group: RUNS_GROUP, id: run }, { rulesFailed: failures.length }, { ttlSeconds: RUN_TTL_S });
  }

  private async addFailure(run: string, code: string, id: string, detail: SettleDetail): Promise<void> {
    const counter = await this.store.add({ group: markers(run), id: `failcode#${code}` }, { count: 1 }, { ttlSeconds: MARKER_TTL_S });
    if (Number(counter.data.count) > FAILURE_EXAMPLES) return;
    const example = { source: detail.source ?? '', destination: detail.destination ?? '', message: (detail.error?.message ?? '').slice(0, 500), withdrawn: false };
    // An update, not a put: the planner's role has UpdateItem on the table, not PutItem.
    await this.store.add({ group: markers(run), id: `failex#${code}#${id}` }, {}, { set: example, ttlSeconds: MARKER_TTL_S });
  }

  /** A replayed failure that now ends otherwise: its count goes, its example is withdrawn (the copier may not DeleteItem). */
  private async dropFailure(run: string, code: string, id: string): Promise<void> {
    await this.store.add({ group: markers(run), id: `failcode#${code}` }, { count: -1 }, { ttlSeconds: MARKER_TTL_S });
    await this.store.add({ group: markers(run), id: `failex#${code}#${id}` }, {}, { set: { withdrawn: true }, ttlSeconds: MARKER_TTL_S });
  }

  /** The run's failures by code, most frequent first, each with its examples. */
  async failures(run: string): Promise<RunFailureGroup[]> {
    const group = markers(run);
    const [codes, examples] = await Promise.all([
      this.store.query(group, { prefix: 'failcode#', limit: 200 }),
      this.store.query(group, { prefix: 'failex#', limit: 200 * FAILURE_EXAMPLES }),
    ]);
    const out = new Map<string, RunFailureGroup>();
    for (const c of codes) {
      const count = Number(c.data.count);
      if (count > 0) out.set(c.id.slice('failcode#'.length), { code: c.id.slice('failcode#'.length), count, examples: [] });
    }
    for (const e of examples) {
      const rest = e.id.slice('failex#'.length);
      const g = out.get(rest.slice(0, rest.lastIndexOf('#')));
      if (g && e.data.withdrawn !== true && typeof e.data.source === 'string' && g.examples.length < FAILURE_EXAMPLES) g.examples.push({ source: String(e.data.source ?? ''), destination: String(e.data.destination ?? ''), message: String(e.data.message ?? '') });
    }
    return [...out.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  }

  /**
   * The one writer that may announce the run's end: true for the first caller only (a marker put if
   * absent), so two copiers settling the last two messages at once send one summary, and a replay
   * that settles a failed message again later sends none. Kept as long as the run's record.
   */
  async claimNotice(run: string, nowMs = Date.now()): Promise<boolean> {
    return this.store.put({ group: markers(run), id: 'notified' }, { at: new Date(nowMs).toISOString() }, { ifAbsent: true, ttlSeconds: RUN_TTL_S });
  }

  /** The run's record, or undefined. */
  async get(run: string): Promise<RunRecord | undefined> {
    const rec = await this.store.get({ group: RUNS_GROUP, id: run });
    return rec ? runFrom(rec) : undefined;
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
