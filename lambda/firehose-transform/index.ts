/**
 * Firehose data-transformation Lambda: adapts the invocation to the pure core.
 * Configuration is read once at init so a bad deployment fails loudly there.
 */
import { parseConfig, RESPONSE_BUDGET_BYTES, transformBatch, type PayloadField, type ResponseRecord, type SourceRecord } from './core';

const config = parseConfig(process.env);

/** A record as Firehose sends it: Kinesis/Direct PUT use `data`, MSK uses `kafkaRecordValue`. */
export interface FirehoseTransformRecord {
  readonly recordId: string;
  readonly approximateArrivalTimestamp?: number;
  readonly data?: string;
  readonly kafkaRecordValue?: string;
  readonly kinesisRecordMetadata?: unknown;
  /** MSK only: `{offset, partitionId, approximateArrivalTimestamp}`; no record key, headers or topic. */
  readonly mskRecordMetadata?: unknown;
}

export interface FirehoseTransformEvent {
  readonly invocationId: string;
  readonly deliveryStreamArn: string;
  readonly sourceMSKArn?: string;
  readonly region: string;
  readonly records: readonly FirehoseTransformRecord[];
}

export interface FirehoseTransformResponse {
  readonly records: ResponseRecord[];
}

function toSourceRecord(r: FirehoseTransformRecord): SourceRecord {
  const payloadField: PayloadField = r.data === undefined && r.kafkaRecordValue !== undefined ? 'kafkaRecordValue' : 'data';
  const payload = r[payloadField];
  // A record without a payload string still gets its own answer (ProcessingFailed), not a failed batch.
  return { recordId: r.recordId, payload: typeof payload === 'string' ? payload : '', payloadField };
}

export async function handler(event: FirehoseTransformEvent): Promise<FirehoseTransformResponse> {
  if (!event || !Array.isArray(event.records)) {
    throw new Error('firehose-transform: event has no records array; is this function wired to a Firehose stream?');
  }
  const outcome = transformBatch(event.records.map(toSourceRecord), config, RESPONSE_BUDGET_BYTES, Date.now());
  // One line per invocation, counts only: payloads may hold personal data.
  console.log(JSON.stringify({
    level: outcome.failed > 0 ? 'WARN' : 'INFO',
    message: 'firehose-transform batch',
    invocationId: event.invocationId,
    deliveryStreamArn: event.deliveryStreamArn,
    sourceMSKArn: event.sourceMSKArn,
    records: event.records.length,
    ok: outcome.ok,
    failed: outcome.failed,
    failedByReason: outcome.failedByReason,
    responseBytes: outcome.responseBytes,
  }));
  return { records: outcome.records };
}
