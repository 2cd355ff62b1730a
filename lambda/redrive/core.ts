/**
 * Redrive: puts the records of a Kinesis event source mapping's failed
 * batches back into the stream. Pure: every read and write is an injected
 * function (index.ts binds them to the SDK), so both paths are unit-tested.
 *
 * WHAT LAMBDA WRITES. Source: AWS Lambda Developer Guide, "Retain discarded
 * batch records for a Kinesis Data Streams event source in Lambda"
 * (https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html),
 * sections "Example Amazon SNS and Amazon SQS invocation record" and
 * "Example Amazon S3 invocation record":
 *
 *   { "requestContext":  { requestId, functionArn, condition: "RetryAttemptsExhausted", approximateInvokeCount },
 *     "responseContext": { statusCode, executedVersion, functionError },
 *     "version": "1.0", "timestamp": "2019-11-14T00:38:06.021Z",
 *     "KinesisBatchInfo": { shardId, startSequenceNumber, endSequenceNumber,
 *                           approximateArrivalOfFirstRecord, approximateArrivalOfLastRecord,
 *                           batchSize, streamArn },
 *     "payload": "<Whole Event>" }   // "Only available in S3"
 *
 * - SQS and SNS destinations get the metadata only ("The actual records
 *   aren't included, so you must process this record and retrieve them from
 *   the stream before they expire"). "All of the fields shown in the
 *   KinesisBatchInfo property will always be present."
 * - For S3, "the `payload` field contains the original invocation record as
 *   an escaped JSON string": a STRING holding the event the function was
 *   invoked with, `{"Records":[{"kinesis":{"partitionKey","sequenceNumber",
 *   "data"(base64),…},"eventID",…}]}`. We also accept it already parsed.
 * - Object keys: `aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>`,
 *   so sorting keys puts one shard's failures in time order.
 *
 * So there are two paths, chosen per object:
 * - `payload` present: re-put its records (data + partition key), no stream read.
 * - metadata only (or a payload we cannot trust): read
 *   `startSequenceNumber..endSequenceNumber` back from `shardId` with
 *   GetShardIterator(AT_SEQUENCE_NUMBER) + GetRecords. That only works while
 *   the records are inside the stream's retention; records already trimmed
 *   are reported missing.
 *
 * Neither source carries a record's ExplicitHashKey, so re-put records are
 * routed by partition key. KPL aggregates are re-put whole (the ESM hands
 * them to Lambda untouched), and consumers de-aggregate as before.
 *
 * WHAT WE DO WITH THE OBJECT. Nothing is deleted. When every record of an
 * object was re-put, the object is tagged `redrive-status=reput` (and
 * `redrive-at`); later runs skip tagged objects unless `force` is set.
 * Tagging, unlike copying to another prefix, fires no ObjectCreated
 * notification, so it cannot retrigger this function. An object with any
 * failure stays untagged and is picked up by the next run; records of it
 * already re-put are then re-put again, which is safe only because consumers
 * deduplicate on a payload key (a re-put record also gets a new sequence number).
 */
import { decodeBase64Strict } from '../shared/decode-record';
import { putAllRecords, type PutAllRecordsOptions, type PutRecordsEntry, type PutRecordsSend } from '../shared/put-records-packer';
import { errorMessage, errorName, isObject } from '../shared/unknown';

// ---------------------------------------------------------------- the on-failure record

export interface KinesisBatchInfo {
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly approximateArrivalOfFirstRecord?: string;
  readonly approximateArrivalOfLastRecord?: string;
  readonly batchSize?: number;
  readonly streamArn: string;
}

export interface RedriveRecord {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly sequenceNumber?: string;
}

export type ParsedFailureRecord =
  | {
    readonly ok: true;
    readonly batch: KinesisBatchInfo;
    /** The records from `payload`; undefined when the object has metadata only or an unusable payload. */
    readonly records?: RedriveRecord[];
    /** Why a present payload was not used. */
    readonly payloadProblem?: string;
  }
  | { readonly ok: false; readonly reason: string };

const SEQUENCE_NUMBER = /^(0|[1-9][0-9]{0,128})$/;


function parseBatchInfo(value: unknown): KinesisBatchInfo | string {
  if (!isObject(value)) return 'KinesisBatchInfo is missing or not an object';
  const { shardId, startSequenceNumber, endSequenceNumber, streamArn, batchSize } = value;
  if (typeof shardId !== 'string' || shardId === '') return 'KinesisBatchInfo.shardId is missing';
  if (typeof streamArn !== 'string' || streamArn === '') return 'KinesisBatchInfo.streamArn is missing';
  if (typeof startSequenceNumber !== 'string' || !SEQUENCE_NUMBER.test(startSequenceNumber)) return 'KinesisBatchInfo.startSequenceNumber is not a sequence number';
  if (typeof endSequenceNumber !== 'string' || !SEQUENCE_NUMBER.test(endSequenceNumber)) return 'KinesisBatchInfo.endSequenceNumber is not a sequence number';
  if (BigInt(endSequenceNumber) < BigInt(startSequenceNumber)) return 'KinesisBatchInfo.endSequenceNumber is before startSequenceNumber';
  return {
    shardId,
    streamArn,
    startSequenceNumber,
    endSequenceNumber,
    ...(typeof value.approximateArrivalOfFirstRecord === 'string' ? { approximateArrivalOfFirstRecord: value.approximateArrivalOfFirstRecord } : {}),
    ...(typeof value.approximateArrivalOfLastRecord === 'string' ? { approximateArrivalOfLastRecord: value.approximateArrivalOfLastRecord } : {}),
    ...(typeof batchSize === 'number' && Number.isInteger(batchSize) ? { batchSize } : {}),
  };
}

/** The Kinesis event Lambda was invoked with, as `payload` carries it; a string on failure. */
function parsePayload(payload: unknown): RedriveRecord[] | string {
  let event = payload;
  if (typeof payload === 'string') {
    try {
      event = JSON.parse(payload);
    } catch {
      return 'payload is not valid JSON';
    }
  }
  if (!isObject(event) || !Array.isArray(event.Records)) return 'payload has no Records array';
  const records: RedriveRecord[] = [];
  for (const [i, record] of event.Records.entries()) {
    const kinesis = isObject(record) ? record.kinesis : undefined;
    if (!isObject(kinesis)) return `payload Records[${i}] has no kinesis object`;
    const { partitionKey, data, sequenceNumber } = kinesis;
    if (typeof partitionKey !== 'string' || partitionKey === '') return `payload Records[${i}].kinesis.partitionKey is missing`;
    const bytes = decodeBase64Strict(data);
    if (bytes === undefined) return `payload Records[${i}].kinesis.data is not base64`;
    records.push({ data: bytes, partitionKey, ...(typeof sequenceNumber === 'string' ? { sequenceNumber } : {}) });
  }
  return records;
}

/** Parses one on-failure destination object (S3 body, or an SQS/SNS message body). */
export function parseOnFailureRecord(text: string): ParsedFailureRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'the object is not JSON' };
  }
  if (!isObject(doc)) return { ok: false, reason: 'the object is not a JSON object' };
  if (doc.KinesisBatchInfo === undefined) {
    const other = ['DDBStreamBatchInfo', 'KafkaBatchInfo'].find((k) => k in doc);
    return { ok: false, reason: other ? `${other}: not a Kinesis on-failure record` : 'no KinesisBatchInfo: not a Kinesis on-failure record' };
  }
  const batch = parseBatchInfo(doc.KinesisBatchInfo);
  if (typeof batch === 'string') return { ok: false, reason: batch };
  if (doc.payload === undefined || doc.payload === null) return { ok: true, batch };
  const records = parsePayload(doc.payload);
  if (typeof records === 'string') return { ok: true, batch, payloadProblem: records };
  return { ok: true, batch, records };
}

// ---------------------------------------------------------------- reading a range back from the stream

export interface StreamRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
}

export interface ShardReader {
  /** GetShardIterator(ShardIteratorType=AT_SEQUENCE_NUMBER). */
  getShardIterator(request: { streamArn: string; shardId: string; sequenceNumber: string }): Promise<string | undefined>;
  /** GetRecords. */
  getRecords(shardIterator: string): Promise<{ records: StreamRecord[]; nextShardIterator?: string; millisBehindLatest?: number }>;
}

export interface ShardRange {
  readonly records: RedriveRecord[];
  /** Set when the range could not be read in full: what is missing. */
  readonly problem?: string;
}

/**
 * Reads `startSequenceNumber..endSequenceNumber` (inclusive) of one shard.
 * Stops past the end, at the shard's end, when caught up with the tip, or
 * after `maxPages` GetRecords calls. If the ESM used filter criteria, the
 * range also holds records the filter dropped; they are returned too.
 */
export async function readShardRange(reader: ShardReader, batch: KinesisBatchInfo, maxPages = 100): Promise<ShardRange> {
  const start = BigInt(batch.startSequenceNumber);
  const end = BigInt(batch.endSequenceNumber);
  const records: RedriveRecord[] = [];
  let last: bigint | undefined;
  let reachedEnd = false;
  let iterator = await reader.getShardIterator({ streamArn: batch.streamArn, shardId: batch.shardId, sequenceNumber: batch.startSequenceNumber });
  for (let page = 0; iterator && page < maxPages && !reachedEnd; page++) {
    const out = await reader.getRecords(iterator);
    for (const r of out.records) {
      const seq = BigInt(r.sequenceNumber);
      if (seq < start) continue;
      if (seq > end) {
        reachedEnd = true;
        break;
      }
      records.push({ data: r.data, partitionKey: r.partitionKey, sequenceNumber: r.sequenceNumber });
      last = seq;
      if (seq === end) reachedEnd = true;
    }
    // An empty page at the tip means the end record is not coming; behind the tip, empty pages are normal.
    if (!reachedEnd && out.records.length === 0 && (out.millisBehindLatest ?? 0) === 0) break;
    iterator = out.nextShardIterator;
  }
  const first = records[0]?.sequenceNumber;
  if (first === undefined) {
    return { records, problem: `no record of ${batch.startSequenceNumber}..${batch.endSequenceNumber} is left in ${batch.shardId} (past retention?)` };
  }
  if (BigInt(first) !== start) {
    return { records, problem: `records from ${batch.startSequenceNumber} up to ${first} are no longer in ${batch.shardId} (past retention?)` };
  }
  if (last !== end) {
    return { records, problem: `read ${batch.shardId} up to ${last} but not to ${batch.endSequenceNumber}` };
  }
  return { records };
}

// ---------------------------------------------------------------- the handler's input

export interface RedriveRequest {
  readonly bucket: string;
  /** Exact keys to redrive. */
  readonly keys?: readonly string[];
  /** Or every object under this prefix ('' for the whole bucket). */
  readonly prefix?: string;
  /** Redrive objects already tagged as re-put. @default false */
  readonly force?: boolean;
}

export interface ParsedEvent {
  readonly requests: RedriveRequest[];
  /** S3 notifications are asynchronous invocations: the handler fails them to get Lambda's retries and error metrics. */
  readonly fromS3Notification: boolean;
}

/** S3 notifications URL-encode keys, with '+' for spaces. */
function decodeS3EventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/**
 * Accepts an S3 event notification (ObjectCreated records only), or a direct
 * invocation `{ bucket, keys: [...] }` / `{ bucket, prefix }` (optionally `force`).
 */
export function parseRedriveEvent(event: unknown): ParsedEvent {
  if (isObject(event) && Array.isArray(event.Records)) {
    const byBucket = new Map<string, string[]>();
    for (const record of event.Records) {
      if (!isObject(record) || record.eventSource !== 'aws:s3') continue;
      if (typeof record.eventName !== 'string' || !record.eventName.startsWith('ObjectCreated:')) continue;
      const s3 = isObject(record.s3) ? record.s3 : {};
      const bucket = isObject(s3.bucket) ? s3.bucket.name : undefined;
      const key = isObject(s3.object) ? s3.object.key : undefined;
      if (typeof bucket !== 'string' || typeof key !== 'string') throw new Error('redrive: S3 event record without s3.bucket.name and s3.object.key');
      byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), decodeS3EventKey(key)]);
    }
    return { requests: [...byBucket].map(([bucket, keys]) => ({ bucket, keys })), fromS3Notification: true };
  }
  if (isObject(event) && typeof event.bucket === 'string' && event.bucket !== '') {
    const force = event.force === true;
    if (Array.isArray(event.keys) && event.keys.every((k) => typeof k === 'string' && k !== '') && event.prefix === undefined) {
      return { requests: [{ bucket: event.bucket, keys: event.keys as string[], force }], fromS3Notification: false };
    }
    if (typeof event.prefix === 'string' && event.keys === undefined) {
      return { requests: [{ bucket: event.bucket, prefix: event.prefix, force }], fromS3Notification: false };
    }
  }
  throw new Error('redrive: expected an S3 event notification, { bucket, keys: string[] } or { bucket, prefix: string }');
}

// ---------------------------------------------------------------- configuration

export interface RedriveConfig {
  /** The stream to put records back into; on-failure records from any other stream are refused. */
  readonly stream: string;
  /** PutRecords calls in flight per object. */
  readonly concurrency: number;
  readonly maxAttempts: number;
}

function intFromEnv(env: Record<string, string | undefined>, name: string, fallback: number, errors: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100) {
    errors.push(`${name} must be an integer in 1..100, got '${raw}'`);
    return fallback;
  }
  return n;
}

export function parseConfig(env: Record<string, string | undefined>): RedriveConfig {
  const errors: string[] = [];
  const stream = env.STREAM_ARN ?? '';
  if (stream === '') errors.push('STREAM_ARN is required');
  const concurrency = intFromEnv(env, 'PUT_CONCURRENCY', 4, errors);
  const maxAttempts = intFromEnv(env, 'PUT_MAX_ATTEMPTS', 6, errors);
  if (errors.length > 0) throw new Error(`redrive: invalid configuration: ${errors.join('; ')}`);
  return { stream, concurrency, maxAttempts };
}

// ---------------------------------------------------------------- the redrive

export interface RedriveIo {
  /** Every key under the prefix (all pages). */
  listKeys(bucket: string, prefix: string): Promise<string[]>;
  getObjectText(bucket: string, key: string): Promise<string>;
  /** Whether the object carries REDRIVE_TAG = REDRIVE_DONE. */
  isRedriven(bucket: string, key: string): Promise<boolean>;
  /** Adds the tags to the object's tag set, keeping its other tags. */
  tagObject(bucket: string, key: string, tags: Record<string, string>): Promise<void>;
  readonly putRecords: PutRecordsSend;
  readonly shardReader: ShardReader;
}

export const REDRIVE_TAG = 'redrive-status';
export const REDRIVE_DONE = 'reput';
export const REDRIVE_AT_TAG = 'redrive-at';

export interface RedriveFailure {
  readonly bucket: string;
  readonly key: string;
  /** `object` when the object itself could not be used or marked; `record` for a record not re-put. */
  readonly scope: 'object' | 'record';
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly sequenceNumber?: string;
  readonly partitionKey?: string;
}

export interface RedriveSummary {
  /** Objects looked at (skipped ones included). */
  readonly objects: number;
  /** Objects skipped because they are already tagged as re-put. */
  readonly skipped: number;
  /** Records found in the objects (or read back from the stream). */
  readonly records: number;
  /** Records written back to the stream. */
  readonly reput: number;
  /** Objects whose records came from `payload` / from the stream. */
  readonly fromPayload: number;
  readonly fromStream: number;
  /** Every failure, up to `maxReportedFailures`; `failedTotal` counts them all. */
  readonly failed: RedriveFailure[];
  readonly failedTotal: number;
  /** Notes that are not failures (e.g. a record count that differs from batchSize). */
  readonly warnings: string[];
}

export interface RedriveOptions {
  readonly config: RedriveConfig;
  /** Forwarded to putAllRecords; `ordered` is always true (records of one shard keep their per-key order). */
  readonly put?: Omit<PutAllRecordsOptions, 'ordered' | 'concurrency' | 'maxAttempts'>;
  /** @default 1000 */
  readonly maxReportedFailures?: number;
  /** GetRecords pages per read-back. @default 100 */
  readonly maxReadPages?: number;
  readonly now?: () => Date;
}

/** Whether an on-failure record's `streamArn` is the stream we put into (a name matches the ARN's last part). */
export function isSameStream(streamArn: string, target: string): boolean {
  return target.startsWith('arn:') ? streamArn === target : streamArn.endsWith(`:stream/${target}`);
}

/** Redrives every object the requests name, one object at a time, in key order. */
export async function redrive(requests: readonly RedriveRequest[], io: RedriveIo, options: RedriveOptions): Promise<RedriveSummary> {
  const { config } = options;
  const maxReported = options.maxReportedFailures ?? 1000;
  const now = options.now ?? (() => new Date());
  const failed: RedriveFailure[] = [];
  const warnings: string[] = [];
  let failedTotal = 0;
  let objects = 0;
  let skipped = 0;
  let records = 0;
  let reput = 0;
  let fromPayload = 0;
  let fromStream = 0;

  const report = (failure: RedriveFailure): void => {
    failedTotal++;
    if (failed.length < maxReported) failed.push(failure);
  };

  for (const request of requests) {
    const keys = request.keys ? [...request.keys] : (await io.listKeys(request.bucket, request.prefix ?? '')).sort();
    for (const key of keys) {
      objects++;
      const { bucket } = request;
      const objectFailure = (errorCode: string, errorMessage: string): void => report({ bucket, key, scope: 'object', errorCode, errorMessage });
      try {
        if (!request.force && (await io.isRedriven(bucket, key))) {
          skipped++;
          continue;
        }
        const parsed = parseOnFailureRecord(await io.getObjectText(bucket, key));
        if (!parsed.ok) {
          objectFailure('NotAnOnFailureRecord', parsed.reason);
          continue;
        }
        const { batch } = parsed;
        if (!isSameStream(batch.streamArn, config.stream)) {
          objectFailure('StreamMismatch', `the failed batch is from ${batch.streamArn}; this function redrives into ${config.stream}`);
          continue;
        }

        let found: RedriveRecord[];
        let missing: string | undefined;
        if (parsed.records) {
          fromPayload++;
          found = parsed.records;
        } else {
          fromStream++;
          if (parsed.payloadProblem) warnings.push(`${key}: payload unusable (${parsed.payloadProblem}); read the records back from the stream`);
          const range = await readShardRange(io.shardReader, batch, options.maxReadPages);
          found = range.records;
          missing = range.problem;
        }
        records += found.length;
        if (batch.batchSize !== undefined && found.length !== batch.batchSize && missing === undefined) {
          warnings.push(`${key}: ${found.length} records for a batch of ${batch.batchSize}`);
        }

        // Re-put what we have even when part of the range is gone: the rest is still inside retention now.
        const entries: PutRecordsEntry[] = found.map((r) => ({ data: r.data, partitionKey: r.partitionKey }));
        const result = await putAllRecords(io.putRecords, config.stream, entries, {
          ...options.put,
          ordered: true,
          concurrency: config.concurrency,
          maxAttempts: config.maxAttempts,
        });
        reput += result.succeeded;
        for (const f of result.failed) {
          const r = found[f.index];
          report({
            bucket,
            key,
            scope: 'record',
            errorCode: f.errorCode,
            errorMessage: f.errorMessage,
            partitionKey: r.partitionKey,
            ...(r.sequenceNumber !== undefined ? { sequenceNumber: r.sequenceNumber } : {}),
          });
        }
        if (missing !== undefined) objectFailure('RecordsMissingFromStream', missing);
        if (result.failed.length > 0 || missing !== undefined) continue;

        try {
          await io.tagObject(bucket, key, { [REDRIVE_TAG]: REDRIVE_DONE, [REDRIVE_AT_TAG]: now().toISOString() });
        } catch (e) {
          // The records are back in the stream; only the marker is missing, so a rerun would re-put duplicates.
          objectFailure('TagFailed', `all records re-put, but tagging failed: ${errorMessage(e)}`);
        }
      } catch (e) {
        objectFailure(errorName(e), errorMessage(e));
      }
    }
  }
  return { objects, skipped, records, reput, fromPayload, fromStream, failed, failedTotal, warnings };
}
