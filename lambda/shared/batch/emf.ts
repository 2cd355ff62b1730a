/**
 * CloudWatch Embedded Metric Format: one JSON log line per batch that CloudWatch turns into
 * metrics, with no API call on the hot path.
 */
import type { BatchStats } from './process-batch';

export interface EmfOptions {
  readonly namespace: string;
  /** Dimension values, e.g. { FunctionName, Source }. */
  readonly dimensions: Record<string, string>;
  readonly timestamp?: number;
}

/** A metric: name, value, CloudWatch unit. */
export type EmfMetric = readonly [name: string, value: number, unit: string];

/**
 * An EMF document: the `_aws` metadata, the dimension values, then the metric values. Spread it and add plain
 * properties after it (searchable in Logs Insights, not metrics).
 */
export function emfDocument(metrics: readonly EmfMetric[], options: EmfOptions): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: options.timestamp ?? Date.now(),
      CloudWatchMetrics: [{
        Namespace: options.namespace,
        Dimensions: [Object.keys(options.dimensions)],
        Metrics: metrics.map(([Name, , Unit]) => ({ Name, Unit })),
      }],
    },
    ...options.dimensions,
    ...Object.fromEntries(metrics.map(([name, value]) => [name, value])),
  };
}

/** The EMF document for a batch's stats. */
export function batchMetrics(stats: BatchStats, options: EmfOptions): Record<string, unknown> {
  return {
    ...emfDocument([
      ['Records', stats.userRecords, 'Count'],
      ['Processed', stats.processed, 'Count'],
      ['Failures', stats.failed, 'Count'],
      ['DuplicatesSkipped', stats.duplicates, 'Count'],
      ['DeadLettered', stats.deadLettered, 'Count'],
      ['Redelivered', stats.skipped, 'Count'],
      ['UnsettledClaims', stats.unsettledClaims ?? 0, 'Count'],
      ['BatchDuration', stats.durationMs, 'Milliseconds'],
    ], options),
    failuresByReason: stats.failuresByReason,
  };
}
