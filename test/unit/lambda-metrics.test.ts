import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METRIC_DIMENSION, METRIC_NAMESPACE, MetricName, emfLine, metricService } from '../../lib/lambda/metrics.js';

test('emfLine: one JSON line CloudWatch can extract eight metrics from', () => {
  const line = emfLine({ copied: 3, skipped: 2, filtered: 5, failed: 1, bytes: 4096 }, { service: 'swr-migrate-dev', timestamp: 1_700_000_000_000 });
  assert.ok(!line.includes('\n'), 'a single line');
  const r = JSON.parse(line);
  assert.equal(r._aws.Timestamp, 1_700_000_000_000);
  const d = r._aws.CloudWatchMetrics[0];
  assert.equal(d.Namespace, METRIC_NAMESPACE);
  assert.deepEqual(d.Dimensions, [[METRIC_DIMENSION]]);
  assert.deepEqual(
    d.Metrics.map((m: { Name: string; Unit: string }) => `${m.Name}:${m.Unit}`),
    ['ImagesCopied:Count', 'ImagesSkipped:Count', 'ImagesFiltered:Count', 'ImagesFailed:Count', 'ImagesKept:Count', 'TagsPruned:Count', 'PruneHeld:Count', 'BytesCopied:Bytes'],
  );
  // Every declared metric and dimension has its value at the top level (the EMF spec's "target members").
  assert.equal(r[METRIC_DIMENSION], 'swr-migrate-dev');
  assert.equal(r[MetricName.ImagesCopied], 3);
  assert.equal(r[MetricName.ImagesSkipped], 2);
  assert.equal(r[MetricName.ImagesFiltered], 5);
  assert.equal(r[MetricName.ImagesFailed], 1);
  assert.equal(r[MetricName.BytesCopied], 4096);
});

test('emfLine: bad figures become 0, never NaN or a negative (CloudWatch would drop the line)', () => {
  const r = JSON.parse(emfLine({ copied: Number.NaN, skipped: -1, filtered: -2, failed: Infinity, bytes: 1.7 }, { service: 's' }));
  assert.equal(r.ImagesCopied, 0);
  assert.equal(r.ImagesSkipped, 0);
  assert.equal(r.ImagesFiltered, 0);
  assert.equal(r.ImagesFailed, 0);
  assert.equal(r.BytesCopied, 1);
  assert.equal(typeof r._aws.Timestamp, 'number');
});

test('metricService: the deployment name from the environment, else the namespace', () => {
  assert.equal(metricService({ SWRM_METRICS_SERVICE: 'swr-migrate-prod' }), 'swr-migrate-prod');
  assert.equal(metricService({}), METRIC_NAMESPACE);
});
