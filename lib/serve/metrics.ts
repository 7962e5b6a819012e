// serve's /metrics, in Prometheus text format (prom-client, on a registry of its own: nothing of
// the process-global default registry leaks in or out). Names start with `swrm_`; the outcomes are
// the run accounting's (state/runs.ts RUN_OUTCOMES), so an outcome added there appears here at 0
// from the start, as Prometheus wants a counter to exist before its first increment.
import { Counter, Gauge, Registry } from 'prom-client';
import { EVENT_SOURCES } from '../config/service-settings.js';
import { RUN_OUTCOMES } from '../state/runs.js';

/** What happened to a webhook request: enqueued a re-check, folded into one already scheduled, refused (4xx), or nothing to do. */
export const EVENT_RESULTS = ['accepted', 'merged', 'refused', 'ignored'] as const;
export type EventResult = (typeof EVENT_RESULTS)[number];

/** A scheduled run: planned (`started`), skipped because the previous one is still in progress, or its plan failed. */
export const SCHEDULE_RESULTS = ['started', 'skipped', 'failed'] as const;

export interface DepthSources {
  /** Messages visible, in flight or delayed. */
  queue(): Promise<number>;
  /** Letters in the DLQ file. */
  dlq(): Promise<number>;
}

export class ServeMetrics {
  readonly registry = new Registry();
  private readonly images: Counter<'outcome'>;
  private readonly bytes: Counter;
  private readonly events: Counter<'source' | 'result'>;
  private readonly requests: Counter<'registry'>;
  private readonly throttled: Counter<'registry'>;
  private readonly runs: Counter<'result'>;

  constructor(depth: DepthSources) {
    const registers = [this.registry];
    this.images = new Counter({ name: 'swrm_images_total', help: 'Queue messages settled, by outcome', labelNames: ['outcome'], registers });
    for (const outcome of RUN_OUTCOMES) this.images.inc({ outcome }, 0);
    this.bytes = new Counter({ name: 'swrm_bytes_copied_total', help: 'Blob bytes uploaded to destinations', registers });
    this.events = new Counter({ name: 'swrm_events_total', help: 'Webhook requests, by source and result', labelNames: ['source', 'result'], registers });
    for (const source of EVENT_SOURCES) for (const result of EVENT_RESULTS) this.events.inc({ source, result }, 0);
    this.requests = new Counter({ name: 'swrm_registry_requests_total', help: 'Requests answered by each registry', labelNames: ['registry'], registers });
    this.throttled = new Counter({ name: 'swrm_registry_throttled_total', help: 'HTTP 429 answers from each registry', labelNames: ['registry'], registers });
    this.runs = new Counter({ name: 'swrm_schedule_runs_total', help: 'Scheduled runs, by result', labelNames: ['result'], registers });
    for (const result of SCHEDULE_RESULTS) this.runs.inc({ result }, 0);
    new Gauge({
      name: 'swrm_queue_depth',
      help: 'Messages on the embedded queue (visible, in flight or delayed)',
      registers,
      async collect() {
        this.set(await depth.queue());
      },
    });
    new Gauge({
      name: 'swrm_dlq_depth',
      help: 'Messages in the dead-letter file',
      registers,
      async collect() {
        this.set(await depth.dlq());
      },
    });
  }

  /** A settled message; `retrying` is not settled, and `invalid` bodies count as failed. */
  outcome(status: string): void {
    if ((RUN_OUTCOMES as readonly string[]).includes(status)) this.images.inc({ outcome: status });
  }

  copiedBytes(n: number): void {
    if (n > 0) this.bytes.inc(n);
  }

  event(source: string, result: EventResult): void {
    this.events.inc({ source, result });
  }

  response(registry: string, status: number): void {
    this.requests.inc({ registry });
    if (status === 429) this.throttled.inc({ registry });
  }

  scheduleRun(result: (typeof SCHEDULE_RESULTS)[number]): void {
    this.runs.inc({ result });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
