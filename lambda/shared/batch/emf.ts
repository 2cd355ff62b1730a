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

/** The EMF document for a batch's stats. */
export function batchMetrics(stats: BatchStats, options: EmfOptions): Record<string, unknown> {
  const metrics: [string, number, string][] = [
    ['Records', stats.userRecords, 'Count'],
    ['Processed', stats.processed, 'Count'],
    ['Failures', stats.failed, 'Count'],
    ['DuplicatesSkipped', stats.duplicates, 'Count'],
    ['DeadLettered', stats.deadLettered, 'Count'],
    ['Redelivered', stats.skipped, 'Count'],
    ['UnsettledClaims', stats.unsettledClaims ?? 0, 'Count'],
    ['BatchDuration', stats.durationMs, 'Milliseconds'],
  ];
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
    failuresByReason: stats.failuresByReason,
  };
}
