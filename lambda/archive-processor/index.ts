/**
 * Archive processor: Firehose data-transformation Lambda for a Kinesis- or
 * MSK-sourced delivery stream, adapting the invocation to the pure core. Configuration is
 * read once at init so a bad deployment fails loudly there.
 */
import { parseConfig, processBatch, type ArchiveSourceRecord, type ResponseRecord } from './core';

const config = parseConfig(process.env);

export interface ArchiveProcessorEvent {
  readonly invocationId: string;
  readonly deliveryStreamArn: string;
  readonly sourceKinesisStreamArn?: string;
  /** The cluster, on an MSK-sourced stream. */
  readonly sourceMSKArn?: string;
  readonly region: string;
  readonly records: readonly ArchiveSourceRecord[];
}

export interface ArchiveProcessorResponse {
  readonly records: ResponseRecord[];
}

export async function handler(event: ArchiveProcessorEvent): Promise<ArchiveProcessorResponse> {
  if (!event || !Array.isArray(event.records)) {
    throw new Error('archive-processor: event has no records array; is this function wired to a Firehose stream?');
  }
  const outcome = processBatch(event.records, config);
  // One line per invocation, counts only: payloads and partition keys may hold personal data.
  console.log(JSON.stringify({
    level: outcome.failed > 0 ? 'WARN' : 'INFO',
    message: 'archive-processor batch',
    invocationId: event.invocationId,
    deliveryStreamArn: event.deliveryStreamArn,
    sourceKinesisStreamArn: event.sourceKinesisStreamArn,
    sourceMSKArn: event.sourceMSKArn,
    buckets: config.buckets,
    records: event.records.length,
    ok: outcome.ok,
    failed: outcome.failed,
    failedByReason: outcome.failedByReason,
    responseBytes: outcome.responseBytes,
  }));
  return { records: outcome.records };
}
