// The migration's figures as CloudWatch Embedded Metric Format (EMF) log lines. Lambda ships stdout
// to CloudWatch Logs, which extracts the metrics from the `_aws` block: no PutMetricData calls, no
// permissions, no latency on the copier's path. The dashboard in infra/monitoring.yml reads exactly
// these names, so both sides import them from here (the template repeats them: keep them in step).
// EMF specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

export const METRIC_NAMESPACE = 'swr-migrate';
/** The one dimension; its value tells deployments (stacks) apart. */
export const METRIC_DIMENSION = 'Service';

export const MetricName = {
  ImagesCopied: 'ImagesCopied',
  ImagesSkipped: 'ImagesSkipped',
  /** Not copied: the platform filter wants none of the image (not a failure). */
  ImagesFiltered: 'ImagesFiltered',
  ImagesFailed: 'ImagesFailed',
  BytesCopied: 'BytesCopied',
  /** The planner: images (exact tags and digests) planned, and rules it could not list. */
  ImagesPlanned: 'ImagesPlanned',
  RulesFailed: 'RulesFailed',
  /** Not copied: `overwrite: false` and the destination tag holds another image (not a failure). */
  ImagesKept: 'ImagesKept',
  /** Destination tags a rule's prune deleted, and rules whose prune stopped above prune.max. */
  TagsPruned: 'TagsPruned',
  PruneHeld: 'PruneHeld',
} as const;

/** What one invocation (or one record) did. */
export interface MigrationCounts {
  copied: number;
  skipped: number;
  filtered: number;
  failed: number;
  bytes: number;
  kept?: number;
  pruned?: number;
  pruneHeld?: number;
}

export interface EmfOptions {
  /** The `Service` dimension's value; serverless.yml sets SWRM_METRICS_SERVICE to the stack's name. */
  service: string;
  /** Milliseconds since the epoch; CloudWatch files the values under this minute. */
  timestamp?: number;
}

/** The dimension value a handler should use: the deployment's, or the namespace when run elsewhere. */
export function metricService(env: NodeJS.ProcessEnv = process.env): string {
  return env.SWRM_METRICS_SERVICE || METRIC_NAMESPACE;
}

/** One EMF JSON line (no newline) for these figures: write it to stdout as its own line. */
function emf(figures: readonly [name: string, unit: 'Count' | 'Bytes', value: number][], opts: EmfOptions): string {
  // Negative or non-finite figures are a bug upstream; clamped to 0 so one bad figure cannot make
  // CloudWatch drop the whole line (it rejects non-numeric metric values).
  const value = (n: number) => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
  const record: Record<string, unknown> = {
    _aws: {
      Timestamp: opts.timestamp ?? Date.now(),
      CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [[METRIC_DIMENSION]], Metrics: figures.map(([Name, Unit]) => ({ Name, Unit })) }],
    },
    [METRIC_DIMENSION]: opts.service,
  };
  for (const [name, , v] of figures) record[name] = value(v);
  return JSON.stringify(record);
}

/** The copier's figures for one invocation. */
export function emfLine(counts: MigrationCounts, opts: EmfOptions): string {
  return emf(
    [
      [MetricName.ImagesCopied, 'Count', counts.copied],
      [MetricName.ImagesSkipped, 'Count', counts.skipped],
      [MetricName.ImagesFiltered, 'Count', counts.filtered],
      [MetricName.ImagesFailed, 'Count', counts.failed],
      [MetricName.ImagesKept, 'Count', counts.kept ?? 0],
      [MetricName.TagsPruned, 'Count', counts.pruned ?? 0],
      [MetricName.PruneHeld, 'Count', counts.pruneHeld ?? 0],
      [MetricName.BytesCopied, 'Bytes', counts.bytes],
    ],
    opts,
  );
}

/** The planner's figures for one run: images it planned and rules it could not list (the failed-rules alarm). */
export function plannerEmfLine(summary: { images: number; failedRules: number }, opts: EmfOptions): string {
  return emf(
    [
      [MetricName.ImagesPlanned, 'Count', summary.images],
      [MetricName.RulesFailed, 'Count', summary.failedRules],
    ],
    opts,
  );
}
