import * as path from 'path';
import {
  isSameStream,
  parseConfig,
  parseOnFailureRecord,
  parseRedriveEvent,
  readShardRange,
  redrive,
  REDRIVE_AT_TAG,
  REDRIVE_DONE,
  REDRIVE_TAG,
  type KinesisBatchInfo,
  type RedriveConfig,
  type RedriveIo,
  type ShardReader,
  type StreamRecord,
} from '../../lambda/redrive/core';
import type { PutRecordsInput, PutRecordsOutput } from '../../lambda/shared/put-records-packer';
import { coldRequire } from '../support/cold-start';

const STREAM_ARN = 'arn:aws:kinesis:us-east-2:123456789012:stream/mystream';
const SHARD = 'shardId-000000000001';
const BUCKET = 'failures';
const CONFIG: RedriveConfig = { stream: STREAM_ARN, concurrency: 4, maxAttempts: 3 };
const NOW = new Date('2026-11-20T10:00:00.000Z');
const noWait = { sleep: async () => undefined, random: () => 0 };

/** Sequence numbers shaped like Kinesis's (56 digits), increasing by `step`. */
const seq = (n: number): string => (49601189658422359378836298521827638475320189012309704722n + BigInt(n) * 1000n).toString();

interface Rec {
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly sequenceNumber: string;
}

const recs = (n: number, key = (i: number) => `user-${i % 3}`, from = 0): Rec[] =>
  Array.from({ length: n }, (_, i) => ({
    partitionKey: key(from + i),
    data: Buffer.from(JSON.stringify({ event_id: `e${from + i}`, n: from + i })),
    sequenceNumber: seq(from + i),
  }));

/** The event Lambda invoked the function with (with-kinesis.html "Example event"). */
const kinesisEvent = (records: readonly Rec[]) => ({
  Records: records.map((r) => ({
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: r.partitionKey,
      sequenceNumber: r.sequenceNumber,
      data: r.data.toString('base64'),
      approximateArrivalTimestamp: 1545084650.987,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${SHARD}:${r.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
    awsRegion: 'us-east-2',
    eventSourceARN: STREAM_ARN,
  })),
});

/**
 * An on-failure invocation record as the Lambda Developer Guide shows it
 * (kinesis-on-failure-destination.html); `payload` only for S3 destinations,
 * where it is the whole event as an escaped JSON string.
 */
function onFailureRecord(records: readonly Rec[], options: { payload?: 'string' | 'object' | 'none'; batch?: Partial<KinesisBatchInfo> } = {}) {
  const doc: Record<string, unknown> = {
    requestContext: {
      requestId: 'c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5',
      functionArn: 'arn:aws:lambda:us-east-2:123456789012:function:myfunction',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 1,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: '2019-11-14T00:38:06.021Z',
    KinesisBatchInfo: {
      shardId: SHARD,
      startSequenceNumber: records[0]?.sequenceNumber ?? seq(0),
      endSequenceNumber: records[records.length - 1]?.sequenceNumber ?? seq(0),
      approximateArrivalOfFirstRecord: '2019-11-14T00:38:04.835Z',
      approximateArrivalOfLastRecord: '2019-11-14T00:38:05.580Z',
      batchSize: records.length,
      streamArn: STREAM_ARN,
      ...options.batch,
    },
  };
  const mode = options.payload ?? 'string';
  if (mode === 'string') doc.payload = JSON.stringify(kinesisEvent(records));
  if (mode === 'object') doc.payload = kinesisEvent(records);
  return JSON.stringify(doc);
}

// ---------------------------------------------------------------- fakes

/** A shard holding `records`, read `pageSize` at a time; `emptyPagesBefore` empty pages (behind the tip) precede each page. */
function fakeShard(records: readonly Rec[], options: { pageSize?: number; emptyPagesBefore?: number } = {}): ShardReader & { calls: string[] } {
  const pageSize = options.pageSize ?? 4;
  const calls: string[] = [];
  let empties = 0;
  return {
    calls,
    async getShardIterator({ streamArn, shardId, sequenceNumber }) {
      calls.push(`GetShardIterator ${streamArn} ${shardId} AT_SEQUENCE_NUMBER ${sequenceNumber}`);
      const at = records.findIndex((r) => BigInt(r.sequenceNumber) >= BigInt(sequenceNumber));
      return `pos:${at < 0 ? records.length : at}`;
    },
    async getRecords(iterator) {
      calls.push(`GetRecords ${iterator}`);
      const pos = Number(iterator.split(':')[1]);
      if (empties < (options.emptyPagesBefore ?? 0) && pos < records.length) {
        empties++;
        return { records: [], nextShardIterator: iterator, millisBehindLatest: 5000 };
      }
      empties = 0;
      const page: StreamRecord[] = records.slice(pos, pos + pageSize).map((r) => ({ sequenceNumber: r.sequenceNumber, partitionKey: r.partitionKey, data: r.data }));
      const next = pos + page.length;
      return { records: page, nextShardIterator: `pos:${next}`, millisBehindLatest: next < records.length ? 1000 : 0 };
    },
  };
}

interface FakeWorld {
  io: RedriveIo;
  objects: Map<string, { body: string; tags: Record<string, string> }>;
  written: { partitionKey: string; data: string }[];
  calls: PutRecordsInput[];
  shard: ReturnType<typeof fakeShard>;
}

function world(options: { shard?: Rec[]; failPut?: (data: string, attempt: number) => string | undefined; failTag?: boolean } = {}): FakeWorld {
  const objects = new Map<string, { body: string; tags: Record<string, string> }>();
  const written: { partitionKey: string; data: string }[] = [];
  const calls: PutRecordsInput[] = [];
  const attempts = new Map<string, number>();
  const shard = fakeShard(options.shard ?? []);
  const get = (bucket: string, key: string) => {
    const o = objects.get(`${bucket}/${key}`);
    if (!o) throw Object.assign(new Error(`NoSuchKey ${key}`), { name: 'NoSuchKey' });
    return o;
  };
  const io: RedriveIo = {
    async listKeys(bucket, prefix) {
      return [...objects.keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).map((k) => k.slice(bucket.length + 1));
    },
    async getObjectText(bucket, key) {
      return get(bucket, key).body;
    },
    async isRedriven(bucket, key) {
      return get(bucket, key).tags[REDRIVE_TAG] === REDRIVE_DONE;
    },
    async tagObject(bucket, key, tags) {
      if (options.failTag) throw Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
      Object.assign(get(bucket, key).tags, tags);
    },
    async putRecords(input: PutRecordsInput): Promise<PutRecordsOutput> {
      calls.push(input);
      const Records = input.Records.map((r) => {
        const data = Buffer.from(r.Data).toString();
        const n = (attempts.get(data) ?? 0) + 1;
        attempts.set(data, n);
        const code = options.failPut?.(data, n);
        if (code) return { ErrorCode: code, ErrorMessage: `${code}!` };
        written.push({ partitionKey: r.PartitionKey, data });
        return { SequenceNumber: String(written.length), ShardId: SHARD };
      });
      return { FailedRecordCount: Records.filter((r) => r.ErrorCode).length, Records };
    },
    shardReader: shard,
  };
  return { io, objects, written, calls, shard };
}

const put = (w: FakeWorld, key: string, body: string, tags: Record<string, string> = {}): void => {
  w.objects.set(`${BUCKET}/${key}`, { body, tags: { ...tags } });
};
const objectKey = (n: number): string => `aws/lambda/0f4e-esm/${SHARD}/2026/11/20/2026-11-20T09.0${n}.00-${n}a1b2c3`;
const run = (w: FakeWorld, requests: Parameters<typeof redrive>[0], extra: Partial<Parameters<typeof redrive>[2]> = {}) =>
  redrive(requests, w.io, { config: CONFIG, now: () => NOW, put: noWait, ...extra });
const asWritten = (rs: readonly Rec[]) => rs.map((r) => ({ partitionKey: r.partitionKey, data: r.data.toString() }));

// ---------------------------------------------------------------- parsing the on-failure record

describe('parseOnFailureRecord', () => {
  test('an S3 object: KinesisBatchInfo plus the records from payload (an escaped JSON string of the whole event)', () => {
    const rs = recs(3);
    const parsed = parseOnFailureRecord(onFailureRecord(rs));
    expect(parsed).toEqual({
      ok: true,
      batch: {
        shardId: SHARD,
        startSequenceNumber: seq(0),
        endSequenceNumber: seq(2),
        approximateArrivalOfFirstRecord: '2019-11-14T00:38:04.835Z',
        approximateArrivalOfLastRecord: '2019-11-14T00:38:05.580Z',
        batchSize: 3,
        streamArn: STREAM_ARN,
      },
      records: rs.map((r) => ({ data: r.data, partitionKey: r.partitionKey, sequenceNumber: r.sequenceNumber })),
    });
  });

  test('the documentation example SQS/SNS record (metadata only) parses without records', () => {
    // Verbatim from "Example Amazon SNS and Amazon SQS invocation record".
    const doc = `{
      "requestContext": { "requestId": "c9b8fa9f-5a7f-xmpl-af9c-0c604cde93a5",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:myfunction",
        "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 1 },
      "responseContext": { "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled" },
      "version": "1.0", "timestamp": "2019-11-14T00:38:06.021Z",
      "KinesisBatchInfo": { "shardId": "shardId-000000000001",
        "startSequenceNumber": "49601189658422359378836298521827638475320189012309704722",
        "endSequenceNumber": "49601189658422359378836298522902373528957594348623495186",
        "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
        "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
        "batchSize": 500, "streamArn": "arn:aws:kinesis:us-east-2:123456789012:stream/mystream" } }`;
    const parsed = parseOnFailureRecord(doc);
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && parsed.records).toBeUndefined();
    expect(parsed.ok && parsed.batch.batchSize).toBe(500);
  });

  test('a payload that is already an object is accepted too', () => {
    const parsed = parseOnFailureRecord(onFailureRecord(recs(2), { payload: 'object' }));
    expect(parsed.ok && parsed.records?.map((r) => r.partitionKey)).toEqual(['user-0', 'user-1']);
  });

  test.each([
    ['not JSON', '{"Records": [', 'payload is not valid JSON'],
    ['without Records', '{"records": []}', 'payload has no Records array'],
    ['with a record that is not base64', JSON.stringify({ Records: [{ kinesis: { partitionKey: 'k', data: 'not base64!' } }] }), 'Records[0].kinesis.data is not base64'],
    ['with a record without a partition key', JSON.stringify({ Records: [{ kinesis: { data: 'AA==' } }] }), 'Records[0].kinesis.partitionKey is missing'],
  ])('a payload %s is not used (the stream read-back takes over)', (_name, payload, problem) => {
    const doc = JSON.parse(onFailureRecord(recs(1), { payload: 'none' }));
    const parsed = parseOnFailureRecord(JSON.stringify({ ...doc, payload }));
    expect(parsed).toEqual(expect.objectContaining({ ok: true, payloadProblem: expect.stringContaining(problem) }));
    expect(parsed.ok && parsed.records).toBeUndefined();
  });

  test.each([
    ['not JSON', 'nope', 'not JSON'],
    ['a DynamoDB record', JSON.stringify({ DDBStreamBatchInfo: {} }), 'DDBStreamBatchInfo'],
    ['no batch info', JSON.stringify({ version: '1.0' }), 'no KinesisBatchInfo'],
    ['a bad sequence number', onFailureRecord(recs(1), { batch: { startSequenceNumber: '12abc' } }), 'startSequenceNumber'],
    ['an end before the start', onFailureRecord(recs(1), { batch: { startSequenceNumber: seq(5), endSequenceNumber: seq(4) } }), 'before'],
    ['no stream ARN', onFailureRecord(recs(1), { batch: { streamArn: '' } }), 'streamArn'],
  ])('refuses %s', (_name, text, reason) => {
    expect(parseOnFailureRecord(text)).toEqual({ ok: false, reason: expect.stringContaining(reason) });
  });
});

// ---------------------------------------------------------------- the handler's input and config

describe('parseRedriveEvent', () => {
  test('an S3 notification: ObjectCreated records only, keys URL-decoded, grouped by bucket', () => {
    const s3Record = (eventName: string, bucket: string, key: string) => ({ eventSource: 'aws:s3', eventName, s3: { bucket: { name: bucket }, object: { key } } });
    const parsed = parseRedriveEvent({
      Records: [
        s3Record('ObjectCreated:Put', 'b1', 'aws/lambda/uuid/shardId-000000000001/2026/11/20/2026-11-20T09.00.00-x'),
        s3Record('ObjectRemoved:Delete', 'b1', 'gone'),
        s3Record('ObjectCreated:CompleteMultipartUpload', 'b2', 'a+b%2Bc%C3%A9'),
      ],
    });
    expect(parsed).toEqual({
      fromS3Notification: true,
      requests: [
        { bucket: 'b1', keys: ['aws/lambda/uuid/shardId-000000000001/2026/11/20/2026-11-20T09.00.00-x'] },
        { bucket: 'b2', keys: ['a b+cé'] },
      ],
    });
  });

  test('direct invocations: { bucket, keys } or { bucket, prefix }, with force', () => {
    expect(parseRedriveEvent({ bucket: 'b', keys: ['k1', 'k2'] })).toEqual({ fromS3Notification: false, requests: [{ bucket: 'b', keys: ['k1', 'k2'], force: false }] });
    expect(parseRedriveEvent({ bucket: 'b', prefix: 'aws/lambda/', force: true })).toEqual({
      fromS3Notification: false,
      requests: [{ bucket: 'b', prefix: 'aws/lambda/', force: true }],
    });
  });

  test.each([[{}], [{ bucket: 'b' }], [{ bucket: 'b', keys: 'k' }], [{ bucket: 'b', keys: ['k'], prefix: 'p' }], [{ keys: ['k'] }], [null]])('refuses %j', (event) => {
    expect(() => parseRedriveEvent(event)).toThrow(/expected an S3 event notification/);
  });
});

describe('parseConfig', () => {
  test('STREAM_ARN is required; concurrency and attempts have defaults', () => {
    expect(parseConfig({ STREAM_ARN: STREAM_ARN })).toEqual({ stream: STREAM_ARN, concurrency: 4, maxAttempts: 6 });
    expect(parseConfig({ STREAM_ARN: 's', PUT_CONCURRENCY: '8', PUT_MAX_ATTEMPTS: '3' })).toEqual({ stream: 's', concurrency: 8, maxAttempts: 3 });
    expect(() => parseConfig({})).toThrow(/STREAM_ARN is required/);
    expect(() => parseConfig({ STREAM_ARN: 's', PUT_CONCURRENCY: '0', PUT_MAX_ATTEMPTS: 'x' })).toThrow(/PUT_CONCURRENCY.*PUT_MAX_ATTEMPTS/);
  });

  test('a stream name matches the ARN it ends an ARN with; an ARN must match exactly', () => {
    expect(isSameStream(STREAM_ARN, STREAM_ARN)).toBe(true);
    expect(isSameStream(STREAM_ARN, 'mystream')).toBe(true);
    expect(isSameStream(STREAM_ARN, 'stream')).toBe(false);
    expect(isSameStream(STREAM_ARN, 'arn:aws:kinesis:us-east-2:123456789012:stream/other')).toBe(false);
  });
});

// ---------------------------------------------------------------- reading back from the stream

describe('readShardRange', () => {
  const batchOf = (start: number, end: number): KinesisBatchInfo => ({ shardId: SHARD, streamArn: STREAM_ARN, startSequenceNumber: seq(start), endSequenceNumber: seq(end) });
  const shardRecs = recs(20);

  test('reads start..end inclusive across pages and stops past the end', async () => {
    const shard = fakeShard(shardRecs, { pageSize: 4 });
    const range = await readShardRange(shard, batchOf(3, 12));
    expect(range.problem).toBeUndefined();
    expect(range.records.map((r) => r.sequenceNumber)).toEqual(shardRecs.slice(3, 13).map((r) => r.sequenceNumber));
    expect(shard.calls[0]).toBe(`GetShardIterator ${STREAM_ARN} ${SHARD} AT_SEQUENCE_NUMBER ${seq(3)}`);
    expect(shard.calls.filter((c) => c.startsWith('GetRecords'))).toHaveLength(3); // 3..6, 7..10, 11..14
  });

  test('keeps going through empty pages behind the tip', async () => {
    const range = await readShardRange(fakeShard(shardRecs, { pageSize: 5, emptyPagesBefore: 2 }), batchOf(0, 9));
    expect(range.problem).toBeUndefined();
    expect(range.records).toHaveLength(10);
  });

  test('reports records already trimmed (past retention) and an end that never comes', async () => {
    const trimmed = await readShardRange(fakeShard(shardRecs.slice(5)), batchOf(2, 8));
    expect(trimmed.records.map((r) => r.sequenceNumber)).toEqual(shardRecs.slice(5, 9).map((r) => r.sequenceNumber));
    expect(trimmed.problem).toMatch(/no longer in shardId-000000000001 \(past retention\?\)/);

    const short = await readShardRange(fakeShard(shardRecs.slice(0, 6)), batchOf(2, 8));
    expect(short.records).toHaveLength(4);
    expect(short.problem).toMatch(/not to/);

    const gone = await readShardRange(fakeShard([]), batchOf(2, 8));
    expect(gone).toEqual({ records: [], problem: expect.stringMatching(/no record of/) });
  });

  test('gives up after maxPages GetRecords calls', async () => {
    const range = await readShardRange(fakeShard(shardRecs, { pageSize: 1 }), batchOf(0, 19), 5);
    expect(range.records).toHaveLength(5);
    expect(range.problem).toMatch(/not to/);
  });
});

// ---------------------------------------------------------------- the redrive

describe('redrive', () => {
  test('an S3 object with payload: re-puts every record (data + partition key) in order, then tags the object', async () => {
    const w = world();
    const rs = recs(7, (i) => ['tenant-a', 'tenant-b', 'é😀'][i % 3]);
    put(w, objectKey(1), onFailureRecord(rs));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1)] }]);
    expect(summary).toEqual({ objects: 1, skipped: 0, records: 7, reput: 7, fromPayload: 1, fromStream: 0, failed: [], failedTotal: 0, warnings: [] });
    expect(w.written).toEqual(asWritten(rs));
    expect(w.calls.every((c) => c.StreamARN === STREAM_ARN)).toBe(true);
    expect(w.shard.calls).toEqual([]); // no stream read
    expect(w.objects.get(`${BUCKET}/${objectKey(1)}`)?.tags).toEqual({ [REDRIVE_TAG]: REDRIVE_DONE, [REDRIVE_AT_TAG]: NOW.toISOString() });
  });

  test('a metadata-only record: reads startSequenceNumber..endSequenceNumber back from the shard and re-puts it', async () => {
    const shardRecs = recs(30);
    const w = world({ shard: shardRecs });
    const batch = shardRecs.slice(10, 21);
    put(w, objectKey(1), onFailureRecord(batch, { payload: 'none' }));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1)] }]);
    expect(summary).toEqual(expect.objectContaining({ records: 11, reput: 11, fromPayload: 0, fromStream: 1, failedTotal: 0 }));
    expect(w.written).toEqual(asWritten(batch));
    expect(w.objects.get(`${BUCKET}/${objectKey(1)}`)?.tags[REDRIVE_TAG]).toBe(REDRIVE_DONE);
  });

  test('an unusable payload falls back to the stream, with a warning', async () => {
    const shardRecs = recs(5);
    const w = world({ shard: shardRecs });
    const doc = JSON.parse(onFailureRecord(shardRecs, { payload: 'none' }));
    put(w, objectKey(1), JSON.stringify({ ...doc, payload: '{"truncated' }));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1)] }]);
    expect(summary).toEqual(expect.objectContaining({ reput: 5, fromStream: 1, failedTotal: 0 }));
    expect(summary.warnings).toEqual([expect.stringContaining('payload unusable (payload is not valid JSON)')]);
  });

  test('records past retention: re-puts what is left, reports the rest, leaves the object untagged', async () => {
    const shardRecs = recs(20);
    const w = world({ shard: shardRecs.slice(8) });
    put(w, objectKey(1), onFailureRecord(shardRecs.slice(5, 12), { payload: 'none' }));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1)] }]);
    expect(w.written).toEqual(asWritten(shardRecs.slice(8, 12)));
    expect(summary.reput).toBe(4);
    expect(summary.failed).toEqual([
      { bucket: BUCKET, key: objectKey(1), scope: 'object', errorCode: 'RecordsMissingFromStream', errorMessage: expect.stringContaining('past retention') },
    ]);
    expect(w.objects.get(`${BUCKET}/${objectKey(1)}`)?.tags).toEqual({});
  });

  test('failed re-puts are reported per record (sequence number, key, last error); the object stays untagged', async () => {
    const rs = recs(6, (i) => `k${i % 2}`);
    const poison = rs[2].data.toString(); // k0
    const w = world({ failPut: (data) => (data === poison ? 'ProvisionedThroughputExceededException' : undefined) });
    put(w, objectKey(1), onFailureRecord(rs));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1)] }]);
    // rs[4] is also k0: held back so it cannot overtake rs[2] when the object is redriven again.
    expect(summary.failed).toEqual([
      { bucket: BUCKET, key: objectKey(1), scope: 'record', errorCode: 'ProvisionedThroughputExceededException', errorMessage: 'ProvisionedThroughputExceededException!', partitionKey: 'k0', sequenceNumber: seq(2) },
      { bucket: BUCKET, key: objectKey(1), scope: 'record', errorCode: 'PrecededByFailure', errorMessage: expect.any(String), partitionKey: 'k0', sequenceNumber: seq(4) },
    ]);
    expect(summary.reput).toBe(4);
    expect(w.written).toEqual(asWritten([rs[0], rs[1], rs[3], rs[5]]));
    expect(w.objects.get(`${BUCKET}/${objectKey(1)}`)?.tags).toEqual({});
  });

  test('transient per-record failures are resent and the object completes', async () => {
    const rs = recs(6);
    const w = world({ failPut: (data, n) => (n === 1 && data.includes('"n":3') ? 'InternalFailure' : undefined) });
    put(w, objectKey(1), onFailureRecord(rs));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1)] }]);
    expect(summary.failedTotal).toBe(0);
    expect(summary.reput).toBe(6);
    expect(w.written.map((x) => x.data).sort()).toEqual(rs.map((r) => r.data.toString()).sort());
  });

  test('by prefix: every object in key order; tagged objects are skipped unless forced', async () => {
    const w = world();
    const a = recs(2, () => 'a', 0);
    const b = recs(2, () => 'b', 10);
    const c = recs(2, () => 'c', 20);
    put(w, objectKey(3), onFailureRecord(c));
    put(w, objectKey(1), onFailureRecord(a));
    put(w, objectKey(2), onFailureRecord(b), { [REDRIVE_TAG]: REDRIVE_DONE, owner: 'team-x' });
    put(w, 'elsewhere/x', onFailureRecord(c));

    const first = await run(w, [{ bucket: BUCKET, prefix: 'aws/lambda/' }]);
    expect(first).toEqual(expect.objectContaining({ objects: 3, skipped: 1, records: 4, reput: 4, failedTotal: 0 }));
    expect(w.written).toEqual(asWritten([...a, ...c]));

    const again = await run(w, [{ bucket: BUCKET, prefix: 'aws/lambda/' }]);
    expect(again).toEqual(expect.objectContaining({ objects: 3, skipped: 3, reput: 0 }));

    const forced = await run(w, [{ bucket: BUCKET, keys: [objectKey(2)], force: true }]);
    expect(forced.reput).toBe(2);
    expect(w.objects.get(`${BUCKET}/${objectKey(2)}`)?.tags).toEqual({ [REDRIVE_TAG]: REDRIVE_DONE, owner: 'team-x', [REDRIVE_AT_TAG]: NOW.toISOString() });
  });

  test('a record from another stream is refused, not put into ours', async () => {
    const w = world();
    put(w, objectKey(1), onFailureRecord(recs(2), { batch: { streamArn: 'arn:aws:kinesis:us-east-2:123456789012:stream/other' } }));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1)] }]);
    expect(summary.failed).toEqual([expect.objectContaining({ scope: 'object', errorCode: 'StreamMismatch' })]);
    expect(w.written).toEqual([]);
  });

  test('a bad or missing object is reported and the next one still runs', async () => {
    const w = world();
    put(w, objectKey(1), 'not json');
    put(w, objectKey(3), onFailureRecord(recs(2)));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1), objectKey(2), objectKey(3)] }]);
    expect(summary.failed).toEqual([
      expect.objectContaining({ key: objectKey(1), errorCode: 'NotAnOnFailureRecord' }),
      expect.objectContaining({ key: objectKey(2), errorCode: 'NoSuchKey' }),
    ]);
    expect(summary.reput).toBe(2);
  });

  test('a failed tag is reported (records are back, the marker is not)', async () => {
    const w = world({ failTag: true });
    put(w, objectKey(1), onFailureRecord(recs(2)));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1)] }]);
    expect(summary.reput).toBe(2);
    expect(summary.failed).toEqual([expect.objectContaining({ errorCode: 'TagFailed' })]);
  });

  test('a record count that differs from batchSize is a warning', async () => {
    const w = world();
    put(w, objectKey(1), onFailureRecord(recs(3), { batch: { batchSize: 4 } }));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1)] }]);
    expect(summary.warnings).toEqual([`${objectKey(1)}: 3 records for a batch of 4`]);
    expect(summary.failedTotal).toBe(0);
  });

  test('reports at most maxReportedFailures failures but counts them all', async () => {
    const w = world({ failPut: () => 'InternalFailure' });
    put(w, objectKey(1), onFailureRecord(recs(30, (i) => `k${i}`)));
    const summary = await run(w, [{ bucket: BUCKET, keys: [objectKey(1)] }], { maxReportedFailures: 10 });
    expect(summary.failed).toHaveLength(10);
    expect(summary.failedTotal).toBe(30);
  });
});

// ---------------------------------------------------------------- the Lambda adapter

describe('redrive handler (index.ts)', () => {
  type IndexModule = typeof import('../../lambda/redrive/index');
  const load = (env: Record<string, string | undefined>): IndexModule =>
    coldRequire<IndexModule>(path.join(__dirname, '..', '..', 'lambda', 'redrive', 'index'), { AWS_REGION: 'us-east-1', STREAM_ARN: env.STREAM_ARN });
  const s3Event = (key: string) => ({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key } } }] });

  beforeEach(() => jest.spyOn(console, 'log').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  test('fails at init without STREAM_ARN', () => {
    expect(() => load({})).toThrow(/STREAM_ARN is required/);
  });

  test('a direct invocation returns the summary, failures included; an S3 notification with failures throws', async () => {
    const { createHandler } = load({ STREAM_ARN });
    const w = world({ failPut: (data) => (data.includes('"n":1') ? 'InternalFailure' : undefined) });
    put(w, objectKey(1), onFailureRecord(recs(2, (i) => `k${i}`)));
    const handler = createHandler(w.io, CONFIG);

    const summary = await handler({ bucket: BUCKET, keys: [objectKey(1)] });
    expect(summary).toEqual(expect.objectContaining({ reput: 1, failedTotal: 1 }));
    await expect(handler(s3Event(objectKey(1)))).rejects.toThrow(/redrive: 1 failure\(s\); first: .*InternalFailure/);

    const logged = (console.log as jest.Mock).mock.calls.map(([line]) => JSON.parse(line as string));
    expect(logged[0]).toEqual(expect.objectContaining({ level: 'ERROR', message: 'redrive summary', reput: 1, failedTotal: 1 }));
    expect(JSON.stringify(logged)).not.toContain('"n":'); // no record data in logs
  });

  test('an S3 notification that fully succeeds returns the summary', async () => {
    const { createHandler } = load({ STREAM_ARN });
    const w = world();
    put(w, objectKey(1), onFailureRecord(recs(3)));
    const summary = await createHandler(w.io, CONFIG)(s3Event(objectKey(1)));
    expect(summary).toEqual(expect.objectContaining({ objects: 1, reput: 3, failedTotal: 0 }));
  });
});
