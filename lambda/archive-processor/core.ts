/**
 * Firehose transformation for the archive: each Kinesis or MSK record becomes one
 * archive line (lambda/shared/archive-format.ts) carrying the exact payload and
 * its stream coordinates, plus the `dt`/`hour`/`bucket` partition keys of its
 * ARRIVAL time and partition-key lane. Pure: no SDK, no I/O, no process.env.
 *
 * An MSK record (`kafkaRecordValue` + `mskRecordMetadata`) carries no record key,
 * headers or topic: Firehose passes only the value, the partition and the offset.
 * Its line therefore holds the partition number as `partition_key` (one lane per
 * partition keeps per-partition, hence per-key, order), the offset as
 * `sequence_number` and `<topic>-<partition>` as `shard_id`.
 *
 * The output is larger than the input: the base64 payload sits inside a JSON
 * line that is base64'd again, so an Ok response record is ≈ 16/9 × payload +
 * ~480 bytes (with Firehose's 62-character record ids), ≈ 1.33 × its request
 * record. The response budget, not the request size, is what limits a batch:
 * requests above ≈ 4.5 MB cannot come back all Ok.
 */
import {
  arrivalPartition,
  bucketLabel,
  bucketOf,
  DEFAULT_ARCHIVE_BUCKETS,
  encodeArchiveLine,
  MAX_ARCHIVE_BUCKETS,
} from '../shared/archive-format';
import { decodeBase64Strict } from '../shared/decode-record';
import { envelopeBytes, failedRecordBytes, okRecordBytes, RESPONSE_BUDGET_BYTES } from '../shared/firehose-response';

export { RESPONSE_BUDGET_BYTES } from '../shared/firehose-response';

// ---------------------------------------------------------------- configuration

/** Environment variable names the construct sets. */
export const ENV = {
  ARCHIVE_BUCKETS: 'ARCHIVE_BUCKETS',
  /** The topic of an MSK-sourced stream: Firehose's MSK records do not name it. */
  KAFKA_TOPIC: 'KAFKA_TOPIC',
} as const;

export interface ArchiveConfig {
  /** Lanes per hour: the `bucket` partition key is `bucketOf(partitionKey, buckets)`. */
  readonly buckets: number;
  /** The source topic, for MSK records. @default - none: MSK records fail */
  readonly kafkaTopic?: string;
}

/** Kafka's legal topic names (also Firehose's `TopicName` pattern). */
const KAFKA_TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Validates the handler's environment. Throws ONE error listing every problem,
 * so a misconfigured function fails at init (on deploy) instead of marking
 * every record ProcessingFailed.
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): ArchiveConfig {
  const problems: string[] = [];
  let buckets = DEFAULT_ARCHIVE_BUCKETS;
  const raw = env[ENV.ARCHIVE_BUCKETS];
  if (raw !== undefined && raw !== '') {
    // Digits only: '1e1', '0x10', ' 16', '16.0' and '+16' are typos, not configuration.
    const n = /^[0-9]{1,3}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= 1 && n <= MAX_ARCHIVE_BUCKETS)) {
      problems.push(`${ENV.ARCHIVE_BUCKETS} must be an integer from 1 to ${MAX_ARCHIVE_BUCKETS} (default ${DEFAULT_ARCHIVE_BUCKETS}); got '${raw}'`);
    } else {
      buckets = n;
    }
  }
  const topic = env[ENV.KAFKA_TOPIC];
  if (topic !== undefined && topic !== '' && !KAFKA_TOPIC_NAME.test(topic)) {
    problems.push(`${ENV.KAFKA_TOPIC} must be a Kafka topic name matching ${KAFKA_TOPIC_NAME}; got '${topic}'`);
  }
  if (problems.length > 0) {
    throw new Error(`archive-processor: invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return topic ? { buckets, kafkaTopic: topic } : { buckets };
}

// ---------------------------------------------------------------- input

/** `kinesisRecordMetadata` as Firehose sends it for a Kinesis-sourced stream; every field is checked. */
export interface KinesisRecordMetadata {
  readonly shardId?: unknown;
  readonly partitionKey?: unknown;
  /** Epoch ms; samples in AWS docs and SDK typings also show an ISO-8601 string or a decimal string. */
  readonly approximateArrivalTimestamp?: unknown;
  readonly sequenceNumber?: unknown;
  /** Index in the producer's KPL aggregate; Firehose sends '' (or nothing) for a plain record. */
  readonly subsequenceNumber?: unknown;
}

/** `mskRecordMetadata` as Firehose sends it for an MSK-sourced stream (strings in AWS's samples); every field is checked. */
export interface MskRecordMetadata {
  readonly offset?: unknown;
  readonly partitionId?: unknown;
  readonly approximateArrivalTimestamp?: unknown;
}

/** One record of the Firehose invocation, untrusted: anything may be missing or mistyped. */
export interface ArchiveSourceRecord {
  readonly recordId: string;
  /** Epoch ms, when Firehose received the record. */
  readonly approximateArrivalTimestamp?: unknown;
  /** The payload, base64 (Kinesis source). */
  readonly data?: unknown;
  readonly kinesisRecordMetadata?: unknown;
  /** The payload, base64 (MSK source): the answer goes back in the same field. */
  readonly kafkaRecordValue?: unknown;
  readonly mskRecordMetadata?: unknown;
}

/** Where a record's payload is, and so where its answer goes. */
export type PayloadField = 'data' | 'kafkaRecordValue';

/** `kafkaRecordValue` for an MSK record (it has no `data`), `data` otherwise. */
export function payloadFieldOf(r: ArchiveSourceRecord): PayloadField {
  return r.data === undefined && r.kafkaRecordValue !== undefined ? 'kafkaRecordValue' : 'data';
}

// ---------------------------------------------------------------- one record

export type FailureReason =
  | 'missing_data'
  | 'invalid_base64'
  | 'missing_kinesis_metadata'
  | 'missing_partition_key'
  | 'missing_sequence_number'
  | 'missing_shard_id'
  | 'invalid_sub_sequence_number'
  | 'invalid_arrival_timestamp'
  | 'missing_msk_metadata'
  | 'invalid_kafka_partition'
  | 'invalid_kafka_offset'
  | 'missing_kafka_topic'
  | 'response_size_budget';

export interface ArchivePartitionKeys {
  readonly dt: string;
  readonly hour: string;
  readonly bucket: string;
}

export type RecordDecision =
  | { readonly result: 'Ok'; readonly data: string; readonly partitionKeys: ArchivePartitionKeys }
  | { readonly result: 'ProcessingFailed'; readonly reason: FailureReason };

/** A record that passed validation, not yet encoded (encoding is the expensive part). */
type Valid = {
  readonly result: 'Valid';
  readonly payload: string;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number;
  readonly arrival: number;
  readonly shardId: string;
};
type Checked = Valid | { readonly result: 'ProcessingFailed'; readonly reason: FailureReason };

const fail = (reason: FailureReason): { readonly result: 'ProcessingFailed'; readonly reason: FailureReason } => ({ result: 'ProcessingFailed', reason });

/**
 * Latest arrival we accept: 9999-12-31T23:59:59.999Z. Later (or negative) times
 * give ISO strings like '+010000-…' whose dt/hour would be garbage, and
 * decodeArchiveLine wants a safe integer.
 */
const MAX_EPOCH_MS = 253_402_300_799_999;

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Epoch ms from a number, a decimal string or an ISO-8601 string; undefined when none of those. */
export function toEpochMillis(value: unknown): number | undefined {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string' && value !== '') {
    // An ISO time must name its zone: without one, Date.parse would read it in the machine's local time.
    ms = /^[0-9]+$/.test(value) ? Number(value) : ISO_WITH_ZONE.test(value) ? Date.parse(value) : NaN;
  } else {
    return undefined;
  }
  return Number.isInteger(ms) && ms >= 0 && ms <= MAX_EPOCH_MS ? ms : undefined;
}

/** 0 when absent or '' (not aggregated); otherwise a non-negative safe integer, as a number or decimal string. */
function toSubSequence(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return 0;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** A non-negative integer as a number or a decimal string, kept as its decimal string. */
function decimal(value: unknown): string | undefined {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  return typeof text === 'string' && /^(0|[1-9][0-9]{0,18})$/.test(text) ? text : undefined;
}

function checkMsk(r: ArchiveSourceRecord, config: ArchiveConfig): Checked {
  if (typeof r.kafkaRecordValue !== 'string') return fail('missing_data');
  if (decodeBase64Strict(r.kafkaRecordValue) === undefined) return fail('invalid_base64');
  const meta = r.mskRecordMetadata;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return fail('missing_msk_metadata');
  const m = meta as MskRecordMetadata;
  const partition = decimal(m.partitionId);
  if (partition === undefined || partition.length > 10) return fail('invalid_kafka_partition');
  const offset = decimal(m.offset);
  if (offset === undefined) return fail('invalid_kafka_offset');
  const arrival = toEpochMillis(m.approximateArrivalTimestamp) ?? toEpochMillis(r.approximateArrivalTimestamp);
  if (arrival === undefined) return fail('invalid_arrival_timestamp');
  if (config.kafkaTopic === undefined) return fail('missing_kafka_topic');
  return {
    result: 'Valid',
    payload: r.kafkaRecordValue,
    partitionKey: partition,
    sequenceNumber: offset,
    subSequenceNumber: 0,
    arrival,
    shardId: `${config.kafkaTopic}-${partition}`,
  };
}

function check(r: ArchiveSourceRecord, config: ArchiveConfig): Checked {
  if (payloadFieldOf(r) === 'kafkaRecordValue') return checkMsk(r, config);
  if (typeof r.data !== 'string') return fail('missing_data');
  // Strict: Node's decoder would silently skip characters outside the alphabet, and the reader rejects them.
  if (decodeBase64Strict(r.data) === undefined) return fail('invalid_base64');
  const meta = r.kinesisRecordMetadata;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return fail('missing_kinesis_metadata');
  const m = meta as KinesisRecordMetadata;
  if (!nonEmpty(m.partitionKey)) return fail('missing_partition_key');
  if (!nonEmpty(m.sequenceNumber)) return fail('missing_sequence_number');
  if (!nonEmpty(m.shardId)) return fail('missing_shard_id');
  const subSequenceNumber = toSubSequence(m.subsequenceNumber);
  if (subSequenceNumber === undefined) return fail('invalid_sub_sequence_number');
  const arrival = toEpochMillis(m.approximateArrivalTimestamp) ?? toEpochMillis(r.approximateArrivalTimestamp);
  if (arrival === undefined) return fail('invalid_arrival_timestamp');
  return {
    result: 'Valid',
    payload: r.data,
    partitionKey: m.partitionKey,
    sequenceNumber: m.sequenceNumber,
    subSequenceNumber,
    arrival,
    shardId: m.shardId,
  };
}

/**
 * Per-batch memo of the two derived values: records of a batch mostly share an
 * arrival hour, and hot partition keys repeat, so most toISOString and MD5
 * calls can be skipped. Scoped to one batch, so memory stays bounded.
 */
class Lanes {
  private readonly hours = new Map<number, { dt: string; hour: string }>();
  private readonly buckets = new Map<string, string>();
  constructor(private readonly config: ArchiveConfig) {}

  partitionKeys(arrival: number, partitionKey: string): ArchivePartitionKeys {
    const h = Math.floor(arrival / 3_600_000);
    let p = this.hours.get(h);
    if (p === undefined) {
      p = arrivalPartition(arrival);
      this.hours.set(h, p);
    }
    let bucket = this.buckets.get(partitionKey);
    if (bucket === undefined) {
      bucket = bucketLabel(bucketOf(partitionKey, this.config.buckets));
      this.buckets.set(partitionKey, bucket);
    }
    return { dt: p.dt, hour: p.hour, bucket };
  }
}

function encode(v: Valid, lanes: Lanes): { readonly data: string; readonly partitionKeys: ArchivePartitionKeys } {
  const line = encodeArchiveLine({
    partition_key: v.partitionKey,
    sequence_number: v.sequenceNumber,
    sub_sequence_number: v.subSequenceNumber,
    approximate_arrival_timestamp: v.arrival,
    shard_id: v.shardId,
    data: v.payload,
  });
  return { data: Buffer.from(line, 'utf8').toString('base64'), partitionKeys: lanes.partitionKeys(v.arrival, v.partitionKey) };
}

/** Decides one record: Ok with its archive line (base64) and partition keys, or why it failed. */
export function archiveRecord(record: ArchiveSourceRecord, config: ArchiveConfig): RecordDecision {
  const checked = check(record, config);
  if (checked.result !== 'Valid') return checked;
  return { result: 'Ok', ...encode(checked, new Lanes(config)) };
}

// ---------------------------------------------------------------- the batch

/** One answer; the payload is in `data` or `kafkaRecordValue`, the field its record came in. */
export interface ResponseRecord {
  recordId: string;
  result: 'Ok' | 'ProcessingFailed';
  data?: string;
  kafkaRecordValue?: string;
  metadata?: { partitionKeys: ArchivePartitionKeys };
}

export interface BatchOutcome {
  /** One per input record, same order and recordIds: the Firehose response's `records`. */
  readonly records: ResponseRecord[];
  /** Per-record failure reason (undefined when Ok), parallel to `records`; for logs only. */
  readonly reasons: (FailureReason | undefined)[];
  readonly ok: number;
  readonly failed: number;
  readonly failedByReason: Partial<Record<FailureReason, number>>;
  /** Exact UTF-8 size of `JSON.stringify({ records })`. */
  readonly responseBytes: number;
}


/**
 * Archives a batch under a response-size budget, with firehose-transform's accounting.
 *
 * Every record starts out counted as ProcessingFailed with its ORIGINAL
 * payload, the smallest answer we can always give. Records are then encoded in
 * order, each replacing its failed size with its Ok size while the total stays
 * within `budgetBytes`. The first valid record that does not fit, and every
 * valid record after it, is returned ProcessingFailed ('response_size_budget')
 * with its original data: Firehose writes it, unchanged, to the error prefix,
 * so nothing is lost or Dropped, and the archive never holds a record whose
 * predecessors in the batch went to the error prefix.
 */
export function processBatch(
  records: readonly ArchiveSourceRecord[],
  config: ArchiveConfig,
  budgetBytes: number = RESPONSE_BUDGET_BYTES,
): BatchOutcome {
  const checked = records.map((r) => check(r, config));
  const fields = records.map(payloadFieldOf);
  const original = (r: ArchiveSourceRecord, i: number): string => {
    const value = r[fields[i]];
    return typeof value === 'string' ? value : '';
  };
  // Data that got past base64 validation is plain base64: no escapes, one byte per character.
  const failedSizes = records.map((r, i) => {
    const c = checked[i];
    return failedRecordBytes(r.recordId, fields[i], original(r, i), c.result === 'Valid' || c.reason !== 'invalid_base64');
  });
  let total = envelopeBytes(records.length);
  for (const size of failedSizes) total += size;

  const out: ResponseRecord[] = new Array(records.length);
  const reasons: (FailureReason | undefined)[] = new Array(records.length);
  const failedByReason: Partial<Record<FailureReason, number>> = {};
  let ok = 0;
  let full = false;
  const lanes = new Lanes(config);

  records.forEach((record, i) => {
    const c = checked[i];
    let reason: FailureReason;
    if (c.result === 'Valid') {
      if (!full) {
        const { data, partitionKeys } = encode(c, lanes);
        const delta = okRecordBytes(record.recordId, fields[i], data, partitionKeys) - failedSizes[i];
        if (total + delta <= budgetBytes) {
          total += delta;
          out[i] = { recordId: record.recordId, result: 'Ok', [fields[i]]: data, metadata: { partitionKeys } };
          ok++;
          return;
        }
        full = true;
      }
      reason = 'response_size_budget';
    } else {
      reason = c.reason;
    }
    out[i] = { recordId: record.recordId, result: 'ProcessingFailed', [fields[i]]: original(record, i) };
    reasons[i] = reason;
    failedByReason[reason] = (failedByReason[reason] ?? 0) + 1;
  });

  return { records: out, reasons, ok, failed: records.length - ok, failedByReason, responseBytes: total };
}

