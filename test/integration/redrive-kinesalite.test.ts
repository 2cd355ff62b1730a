/**
 * The redrive handler and putAllRecords against kinesalite and s3rver
 * (127.0.0.1 only), through the SDK adapters in lambda/redrive/index.ts.
 *
 * kinesalite 3.3.3 predates StreamARN request parameters (it requires
 * StreamName), so the stream is addressed by name here; in Lambda it is the
 * ARN. It also enforces only part of the PutRecords limits (see the last
 * test), so every call is checked against 500 records / 5 MiB on the way out.
 *
 * kinesalite allows 10 shards per account and the whole jest run shares one
 * kinesalite, so streams here are small and deleted after each test.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import {
  DeleteStreamCommand,
  PutRecordsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectTaggingCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { RedriveConfig, RedriveIo } from '../../lambda/redrive/core';
import { packPutRecords, putAllRecords, type PutRecordsEntry, type PutRecordsInput, type PutRecordsSend } from '../../lambda/shared/put-records-packer';
import { coldRequire } from '../support/cold-start';
import { createKinesaliteStream, kinesisClient, localAwsEndpoints, readKinesaliteStream, s3Client, type StreamRecord } from './local-aws';

const MiB = 1024 * 1024;
const KiB = 1024;

type IndexModule = typeof import('../../lambda/redrive/index');

let kinesis: KinesisClient;
let s3: S3Client;
let index: IndexModule;
const BUCKET = `redrive-${process.pid}-${Date.now()}`;

beforeAll(async () => {
  const endpoints = localAwsEndpoints();
  kinesis = kinesisClient(endpoints.kinesis);
  s3 = s3Client(endpoints.s3);
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  // index.ts reads STREAM_ARN and builds its own clients at init; the tests use createHandler with local clients.
  index = coldRequire<IndexModule>(path.join(__dirname, '..', '..', 'lambda', 'redrive', 'index'), { STREAM_ARN: 'unused-at-init', AWS_REGION: 'us-east-1' });
});

afterAll(() => {
  kinesis?.destroy();
  s3?.destroy();
});

const created: string[] = [];

beforeEach(() => jest.spyOn(console, 'log').mockImplementation(() => undefined));
afterEach(async () => {
  jest.restoreAllMocks();
  for (const name of created.splice(0)) await kinesis.send(new DeleteStreamCommand({ StreamName: name }));
});

// ---------------------------------------------------------------- helpers


const readStream = (name: string): Promise<StreamRecord[]> => readKinesaliteStream(kinesis, name);

/** A send that checks every call against the real service limits before kinesalite sees it. */
function checkedSend(log: PutRecordsInput[] = []): PutRecordsSend {
  return async (input) => {
    log.push(input);
    const bytes = input.Records.reduce((s, r) => s + r.Data.byteLength + Buffer.byteLength(r.PartitionKey, 'utf8'), 0);
    if (input.Records.length > 500) throw new Error(`call with ${input.Records.length} records`);
    if (bytes > 5 * MiB) throw new Error(`call of ${bytes} bytes`);
    for (const r of input.Records) {
      if (r.Data.byteLength + Buffer.byteLength(r.PartitionKey, 'utf8') > MiB) throw new Error('record over 1 MiB');
    }
    return kinesis.send(new PutRecordsCommand(input));
  };
}

function localIo(log: PutRecordsInput[] = []): RedriveIo {
  return { ...index.s3Io(s3), ...index.kinesisIo(kinesis, { addressing: 'name' }), putRecords: checkedSend(log) };
}

const config = (stream: string): RedriveConfig => ({ stream, concurrency: 4, maxAttempts: 6 });

interface SourceRecord {
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly sequenceNumber: string;
}

/** An on-failure invocation record as Lambda writes it to S3 (kinesis-on-failure-destination.html). */
function onFailureObject(streamArn: string, shardId: string, records: readonly SourceRecord[], withPayload: boolean): string {
  const doc: Record<string, unknown> = {
    requestContext: {
      requestId: randomUUID(),
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:consumer',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 3,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: new Date().toISOString(),
    KinesisBatchInfo: {
      shardId,
      startSequenceNumber: records[0].sequenceNumber,
      endSequenceNumber: records[records.length - 1].sequenceNumber,
      approximateArrivalOfFirstRecord: '2026-11-20T09:00:00.000Z',
      approximateArrivalOfLastRecord: '2026-11-20T09:00:01.000Z',
      batchSize: records.length,
      streamArn,
    },
  };
  if (withPayload) {
    doc.payload = JSON.stringify({
      Records: records.map((r) => ({
        kinesis: { kinesisSchemaVersion: '1.0', partitionKey: r.partitionKey, sequenceNumber: r.sequenceNumber, data: r.data.toString('base64'), approximateArrivalTimestamp: 1763629200.0 },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shardId}:${r.sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/consumer',
        awsRegion: 'us-east-1',
        eventSourceARN: streamArn,
      })),
    });
  }
  return JSON.stringify(doc);
}

const failureKey = (shardId: string): string => `aws/lambda/${randomUUID()}/${shardId}/2026/11/20/2026-11-20T09.00.00-${randomUUID()}`;

async function tagsOf(key: string): Promise<Record<string, string>> {
  const out = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }));
  return Object.fromEntries((out.TagSet ?? []).map((t) => [t.Key, t.Value]));
}

const json = (o: object): Buffer => Buffer.from(JSON.stringify(o));
const KEYS = ['tenant-a', 'tenant-b', 'région-é', '租户-c', '😀-d'];

// ---------------------------------------------------------------- the redrive

describe('redrive against s3rver + kinesalite', () => {
  test('an S3 on-failure object with payload: every record arrives once, with its partition key, in per-key order', async () => {
    const stream = await createKinesaliteStream(kinesis, 'redrive-payload', 2, created);
    const records: SourceRecord[] = Array.from({ length: 60 }, (_, i) => ({
      partitionKey: KEYS[i % KEYS.length],
      data: json({ event_id: randomUUID(), n: i, pad: 'x'.repeat((i * 977) % 4000) }),
      sequenceNumber: (49650000000000000000000000000000000000000000000000000000n + BigInt(i) * 7n).toString(),
    }));
    const key = failureKey('shardId-000000000000');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: onFailureObject(stream.arn, 'shardId-000000000000', records, true) }));

    const calls: PutRecordsInput[] = [];
    const handler = index.createHandler(localIo(calls), config(stream.name));
    const s3Event = { Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/') } } }] };
    const summary = await handler(s3Event);
    expect(summary).toEqual(expect.objectContaining({ objects: 1, records: 60, reput: 60, fromPayload: 1, fromStream: 0, failedTotal: 0 }));
    expect(calls.every((c) => c.StreamName === stream.name)).toBe(true);

    const inStream = await readStream(stream.name);
    expect(inStream).toHaveLength(60);
    const got = inStream.map((r) => `${r.partitionKey}|${r.data.toString('base64')}`).sort();
    expect(got).toEqual(records.map((r) => `${r.partitionKey}|${r.data.toString('base64')}`).sort());
    for (const k of KEYS) {
      const ns = inStream.filter((r) => r.partitionKey === k).map((r) => JSON.parse(r.data.toString()).n as number);
      expect([k, ns]).toEqual([k, records.filter((r) => r.partitionKey === k).map((_, j) => j * KEYS.length + KEYS.indexOf(k))]);
    }

    expect(await tagsOf(key)).toEqual({ 'redrive-status': 'reput', 'redrive-at': expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    // Running again finds the tag and puts nothing.
    expect(await handler({ bucket: BUCKET, keys: [key] })).toEqual(expect.objectContaining({ objects: 1, skipped: 1, reput: 0 }));
    expect(await readStream(stream.name)).toHaveLength(60);
  });

  test('a metadata-only record: reads start..end back from the shard (AT_SEQUENCE_NUMBER) and re-puts exactly that range', async () => {
    const stream = await createKinesaliteStream(kinesis, 'redrive-readback', 1, created);
    const original = Array.from({ length: 20 }, (_, i) => ({ partitionKey: KEYS[i % 3], data: json({ event_id: `e${i}`, n: i }) }));
    const put = await kinesis.send(new PutRecordsCommand({ StreamName: stream.name, Records: original.map((r) => ({ Data: r.data, PartitionKey: r.partitionKey })) }));
    expect(put.FailedRecordCount).toBe(0);
    const written: SourceRecord[] = original.map((r, i) => ({ ...r, sequenceNumber: put.Records?.[i].SequenceNumber as string }));
    const failedBatch = written.slice(5, 15);
    const key = failureKey('shardId-000000000000');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: onFailureObject(stream.arn, 'shardId-000000000000', failedBatch, false) }));

    const summary = await index.createHandler(localIo(), config(stream.name))({ bucket: BUCKET, prefix: key });
    expect(summary).toEqual(expect.objectContaining({ objects: 1, records: 10, reput: 10, fromPayload: 0, fromStream: 1, failedTotal: 0 }));

    const inStream = await readStream(stream.name);
    expect(inStream).toHaveLength(30);
    expect(inStream.slice(0, 20).map((r) => r.data.toString())).toEqual(original.map((r) => r.data.toString()));
    // The re-put copies follow, in the original order, with their partition keys and new sequence numbers.
    expect(inStream.slice(20).map((r) => [r.partitionKey, r.data.toString()])).toEqual(failedBatch.map((r) => [r.partitionKey, r.data.toString()]));
    expect(inStream.slice(20).every((r, i) => r.sequenceNumber !== failedBatch[i].sequenceNumber)).toBe(true);
    expect(await tagsOf(key)).toEqual(expect.objectContaining({ 'redrive-status': 'reput' }));
  });

  test('an on-failure record from another stream is refused and the object stays untagged', async () => {
    const stream = await createKinesaliteStream(kinesis, 'redrive-mismatch', 1, created);
    const key = failureKey('shardId-000000000000');
    const records = [{ partitionKey: 'k', data: json({ n: 1 }), sequenceNumber: '1' }];
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: onFailureObject('arn:aws:kinesis:us-east-1:000000000000:stream/other', 'shardId-000000000000', records, true) }));
    const summary = await index.createHandler(localIo(), config(stream.name))({ bucket: BUCKET, keys: [key] });
    expect(summary.failed).toEqual([expect.objectContaining({ key, errorCode: 'StreamMismatch' })]);
    expect(await readStream(stream.name)).toEqual([]);
    expect(await tagsOf(key)).toEqual({});
  });
});

// ---------------------------------------------------------------- putAllRecords

describe('putAllRecords against kinesalite', () => {
  test('1,200 records of mixed sizes: ≥3 calls, each ≤500 records and ≤5 MiB, every record arrives once', async () => {
    const stream = await createKinesaliteStream(kinesis, 'put-all', 2, created);
    const entries: PutRecordsEntry[] = Array.from({ length: 1200 }, (_, i) => ({
      partitionKey: `${KEYS[i % KEYS.length]}-${i}`,
      // 40 records of 120–200 KiB first (~6 MiB: bytes close the first call), then 1,160 under 2 KiB (count closes the rest).
      data: Buffer.concat([json({ event_id: `e${i}` }), Buffer.alloc(i < 40 ? 120 * KiB + ((i * 7919) % (80 * KiB)) : (i * 31) % 2048, i % 256)]),
    }));
    const calls: PutRecordsInput[] = [];
    const result = await putAllRecords(checkedSend(calls), stream.name, entries, { concurrency: 4 });
    expect(result.failed).toEqual([]);
    expect(result.succeeded).toBe(1200);
    expect(result.calls).toBe(calls.length);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(calls.length).toBe(packPutRecords(entries).batches.length); // unique keys: nothing held back, no resends
    expect(calls[0].Records.length).toBeLessThan(40); // closed by the 5 MiB limit, not the 500-record one
    expect(calls[0].Records.reduce((s, r) => s + r.Data.byteLength + Buffer.byteLength(r.PartitionKey), 0)).toBeGreaterThan(5 * MiB - 200 * KiB);

    const inStream = await readStream(stream.name);
    expect(inStream).toHaveLength(1200);
    const byKey = new Map(inStream.map((r) => [r.partitionKey, r]));
    expect(byKey.size).toBe(1200);
    for (const e of entries) expect(byKey.get(e.partitionKey)?.data.equals(e.data)).toBe(true);
  });

  test('ordered: records sharing partition keys land in per-key order, across 2 shards and 4 concurrent calls', async () => {
    const stream = await createKinesaliteStream(kinesis, 'put-ordered', 2, created);
    const entries: PutRecordsEntry[] = Array.from({ length: 300 }, (_, i) => ({ partitionKey: KEYS[(i * 3 + (i >> 4)) % KEYS.length], data: json({ n: i }) }));
    const calls: PutRecordsInput[] = [];
    const result = await putAllRecords(checkedSend(calls), stream.name, entries, { concurrency: 4 });
    expect(result.succeeded).toBe(300);
    expect(calls.every((c) => new Set(c.Records.map((r) => r.PartitionKey)).size === c.Records.length)).toBe(true);

    const inStream = await readStream(stream.name);
    for (const k of KEYS) {
      const ns = inStream.filter((r) => r.partitionKey === k).map((r) => JSON.parse(r.data.toString()).n as number);
      expect([k, ns]).toEqual([k, entries.flatMap((e, i) => (e.partitionKey === k ? [i] : []))]);
    }
  });

  test('kinesalite enforces 500 records per call but neither 5 MiB per call nor data + key per record: those checks are ours', async () => {
    const stream = await createKinesaliteStream(kinesis, 'limits', 1, created);
    const send = (Records: PutRecordsInput['Records']) => kinesis.send(new PutRecordsCommand({ StreamName: stream.name, Records }));

    await expect(send(Array.from({ length: 501 }, (_, i) => ({ Data: Buffer.from([i % 256]), PartitionKey: `k${i}` })))).rejects.toThrow(/less than or equal to 500/);

    // 6 × 870 KiB = 5,220 KiB: over the 5 MiB AWS takes, yet kinesalite writes it.
    const over5MiB = Array.from({ length: 6 }, (_, i) => ({ Data: Buffer.alloc(870 * KiB, i), PartitionKey: `k${i}` }));
    expect((await send(over5MiB)).FailedRecordCount).toBe(0);
    expect(packPutRecords(over5MiB.map((r) => ({ data: r.Data, partitionKey: r.PartitionKey }))).batches.map((b) => b.length)).toEqual([5, 1]);

    // 1 MiB of data plus a key is over AWS's record limit (data + key); kinesalite checks the data alone.
    const fullMiB = { Data: Buffer.alloc(MiB, 1), PartitionKey: 'key' };
    expect((await send([fullMiB])).FailedRecordCount).toBe(0);
    expect(packPutRecords([{ data: fullMiB.Data, partitionKey: fullMiB.PartitionKey }]).rejected).toEqual([expect.objectContaining({ reason: 'RecordTooLarge' })]);
  });
});
