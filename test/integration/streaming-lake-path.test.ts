/**
 * The StreamingLake data path as far as it runs without AWS:
 * Kinesis (kinesalite) → Firehose transformation event → the BUNDLED transform
 * handler → Firehose's dynamic-partitioning delivery (simulated) → S3 (s3rver)
 * → the keys Athena's partition projection would read.
 *
 * The layout comes from the same PartitionSpec the construct builds, so these
 * tests fail if the handler's partition keys, the Firehose prefix and the
 * table's storage.location.template ever disagree.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
  type KinesisClient,
  type ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import { EventTimeFormat, PartitionKeySource, PartitionSpec, TimeGranularity } from '../../lib';
import { coldRequire, ensureBundled } from '../support/cold-start';
import { newApp } from '../support/nag';
import { getS3Object as getObject, kinesisClient, listS3Keys as listKeys, localAwsEndpoints, REGION, s3Client } from './local-aws';

const ROOT = path.resolve(__dirname, '..', '..');
const HANDLER_ASSET = path.join(ROOT, 'assets', 'lambda', 'firehose-transform', 'index.js');
const ACCOUNT = '000000000000';
const DELIVERY_STREAM_ARN = `arn:aws:firehose:${REGION}:${ACCOUNT}:deliverystream/lake-delivery`;
const LAMBDA_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:lake-transform`;

// ---------------------------------------------------------------- the layout, as StreamingLake builds it

const spec = PartitionSpec.of(new Stack(newApp(), 'Spec'), {
  columns: [
    { name: 'id', type: glue.Schema.STRING },
    { name: 'event_time', type: glue.Schema.STRING },
    { name: 'region', type: glue.Schema.STRING },
    { name: 'amount', type: glue.Schema.DOUBLE },
  ],
  eventTime: { field: 'event_time', format: EventTimeFormat.ISO_8601, granularity: TimeGranularity.HOUR },
  keys: [{ field: 'region', values: ['us', 'eu'] }],
});
const REGION_KEY = Object.keys(spec.keyFields)[0]; // 'p_region': Athena rejects a partition column repeating a data column

// ---------------------------------------------------------------- the input

interface Input {
  /** What the producer wrote to Kinesis, byte for byte. */
  readonly bytes: Buffer;
  /** Where it must end up: the partition directory under the data prefix, or the error prefix. */
  readonly expect: { readonly partition: string; readonly utc: string } | 'error';
}

const json = (o: object): Buffer => Buffer.from(JSON.stringify(o), 'utf8');
const curated = (dt: string, hour: string, region: string, utc: string) => ({ partition: `dt=${dt}/hour=${hour}/${REGION_KEY}=${region}/`, utc });

const INPUTS: Record<string, Input> = {
  // One instant (12:00Z) written with three offsets: one partition, one normalized time.
  'same-instant-utc': { bytes: json({ id: 'same-instant-utc', event_time: '2024-06-01T12:00:00Z', region: 'us', amount: 1.5 }), expect: curated('2024-06-01', '12', 'us', '2024-06-01T12:00:00.000Z') },
  'same-instant-ist': { bytes: json({ id: 'same-instant-ist', event_time: '2024-06-01T17:30:00+05:30', region: 'us', amount: 2 }), expect: curated('2024-06-01', '12', 'us', '2024-06-01T12:00:00.000Z') },
  'same-instant-pst': { bytes: json({ id: 'same-instant-pst', event_time: '2024-06-01T04:00:00-08:00', region: 'us', amount: 3 }), expect: curated('2024-06-01', '12', 'us', '2024-06-01T12:00:00.000Z') },
  // Local 2024 that is UTC 2025, and the reverse.
  'new-year-from-west': { bytes: json({ id: 'new-year-from-west', event_time: '2024-12-31T23:30:00-01:00', region: 'eu', amount: 4 }), expect: curated('2025-01-01', '00', 'eu', '2025-01-01T00:30:00.000Z') },
  'old-year-from-east': { bytes: json({ id: 'old-year-from-east', event_time: '2025-01-01T00:15:00+01:00', region: 'eu', amount: 5 }), expect: curated('2024-12-31', '23', 'eu', '2024-12-31T23:15:00.000Z') },
  // Either side of midnight UTC, with millisecond precision.
  'last-ms-of-day': { bytes: json({ id: 'last-ms-of-day', event_time: '2024-03-09T23:59:59.999Z', region: 'us', amount: 6 }), expect: curated('2024-03-09', '23', 'us', '2024-03-09T23:59:59.999Z') },
  'midnight': { bytes: json({ id: 'midnight', event_time: '2024-03-10T00:00:00.000+00:00', region: 'us', amount: 7 }), expect: curated('2024-03-10', '00', 'us', '2024-03-10T00:00:00.000Z') },
  // Leap day in Los Angeles is 1 March in UTC.
  'leap-day-west': { bytes: json({ id: 'leap-day-west', event_time: '2024-02-29T23:45:00-08:00', region: 'eu', amount: 8 }), expect: curated('2024-03-01', '07', 'eu', '2024-03-01T07:45:00.000Z') },
  // Failures: the original bytes must reach the error prefix untouched.
  'not-json': { bytes: Buffer.concat([Buffer.from('not json, caf\u00e9 \n', 'utf8'), Buffer.from([0xff, 0x00, 0xfe])]), expect: 'error' },
  'missing-event-time': { bytes: json({ id: 'missing-event-time', region: 'us', amount: 9 }), expect: 'error' },
  'region-with-slash': { bytes: json({ id: 'region-with-slash', event_time: '2024-06-01T12:00:00Z', region: 'us/east', amount: 10 }), expect: 'error' },
  'zone-less-time': { bytes: json({ id: 'zone-less-time', event_time: '2024-06-01T12:00:00', region: 'us', amount: 11 }), expect: 'error' },
};
const INPUT_COUNT = Object.keys(INPUTS).length;
const ERROR_COUNT = Object.values(INPUTS).filter((i) => i.expect === 'error').length;

// ---------------------------------------------------------------- Kinesis

interface StreamRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly approximateArrivalTimestamp: number;
  readonly data: Buffer;
}

interface Ingested {
  readonly streamArn: string;
  readonly shardIds: string[];
  /** Per shard, the first and last sequence number written. */
  readonly ranges: Map<string, { first: string; last: string }>;
}

async function createStream(kinesis: KinesisClient, name: string, shards: number): Promise<string> {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  // kinesalite flips CREATING → ACTIVE on a timer, even with createStreamMs: 0.
  for (let i = 0; i < 100; i++) {
    const { StreamDescriptionSummary: s } = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (s?.StreamStatus === 'ACTIVE') return s.StreamARN!;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`stream ${name} never became ACTIVE`);
}

/** Creates a 2-shard stream and writes INPUTS to it, alternating shards via explicit hash keys. */
async function ingest(kinesis: KinesisClient, name: string): Promise<Ingested> {
  const streamArn = await createStream(kinesis, name, 2);
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: name }));
  expect(Shards).toHaveLength(2);
  const ids = Object.keys(INPUTS);
  const put = await kinesis.send(new PutRecordsCommand({
    StreamName: name,
    Records: ids.map((id, i) => ({
      Data: INPUTS[id].bytes,
      PartitionKey: id,
      ExplicitHashKey: Shards[i % 2].HashKeyRange!.StartingHashKey,
    })),
  }));
  expect(put.FailedRecordCount ?? 0).toBe(0);
  const ranges = new Map<string, { first: string; last: string }>();
  for (const r of put.Records ?? []) {
    const range = ranges.get(r.ShardId!);
    if (range) range.last = r.SequenceNumber!;
    else ranges.set(r.ShardId!, { first: r.SequenceNumber!, last: r.SequenceNumber! });
  }
  return { streamArn, shardIds: Shards.map((s) => s.ShardId!), ranges };
}

/** Reads a shard from `start` until GetRecords comes back empty (or past `last`). */
async function readShard(kinesis: KinesisClient, streamName: string, shardId: string, start: { type: ShardIteratorType; sequenceNumber?: string }, last?: string): Promise<StreamRecord[]> {
  let { ShardIterator: iterator } = await kinesis.send(new GetShardIteratorCommand({
    StreamName: streamName, ShardId: shardId, ShardIteratorType: start.type, StartingSequenceNumber: start.sequenceNumber,
  }));
  const out: StreamRecord[] = [];
  while (iterator) {
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    const records = page.Records ?? [];
    for (const r of records) {
      out.push({
        shardId,
        sequenceNumber: r.SequenceNumber!,
        partitionKey: r.PartitionKey!,
        approximateArrivalTimestamp: r.ApproximateArrivalTimestamp!.getTime(),
        data: Buffer.from(r.Data!),
      });
      if (r.SequenceNumber === last) return out;
    }
    if (records.length === 0) break; // caught up: an open shard always returns a next iterator
    iterator = page.NextShardIterator;
  }
  return out;
}

// ---------------------------------------------------------------- Firehose

interface FirehoseEvent {
  invocationId: string;
  deliveryStreamArn: string;
  sourceKinesisStreamArn: string;
  region: string;
  records: {
    recordId: string;
    approximateArrivalTimestamp: number;
    data: string;
    kinesisRecordMetadata: { sequenceNumber: string; subsequenceNumber: number; partitionKey: string; shardId: string; approximateArrivalTimestamp: number };
  }[];
}

interface FirehoseResponse {
  records: { recordId: string; result: 'Ok' | 'Dropped' | 'ProcessingFailed'; data?: string; metadata?: { partitionKeys: Record<string, string> } }[];
}

type Handler = (event: FirehoseEvent) => Promise<FirehoseResponse>;

/** The transformation event Firehose sends for a Kinesis Data Streams source. */
function firehoseEvent(streamArn: string, records: StreamRecord[]): FirehoseEvent {
  return {
    invocationId: randomUUID(),
    deliveryStreamArn: DELIVERY_STREAM_ARN,
    sourceKinesisStreamArn: streamArn,
    region: REGION,
    records: records.map((r) => ({
      // Opaque to the handler; Firehose derives it from the sequence number.
      recordId: `${r.sequenceNumber}000000000000`,
      approximateArrivalTimestamp: r.approximateArrivalTimestamp,
      data: r.data.toString('base64'),
      kinesisRecordMetadata: {
        sequenceNumber: r.sequenceNumber,
        subsequenceNumber: 0,
        partitionKey: r.partitionKey,
        shardId: r.shardId,
        approximateArrivalTimestamp: r.approximateArrivalTimestamp,
      },
    })),
  };
}

/**
 * A cold start of the bundled handler: a fresh module instance that reads
 * `env` at init, exactly as Lambda would with the construct's environment.
 */
function coldStart(env: Record<string, string>): Handler {
  return coldRequire<{ handler: Handler }>(HANDLER_ASSET, env).handler;
}

/** Invokes the handler with its per-invocation log line captured (and checked to hold counts only). */
async function invoke(handler: Handler, event: FirehoseEvent): Promise<{ response: FirehoseResponse; log: Record<string, unknown> }> {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const response = await handler(event);
    expect(log).toHaveBeenCalledTimes(1);
    return { response, log: JSON.parse(String(log.mock.calls[0][0])) as Record<string, unknown> };
  } finally {
    log.mockRestore();
  }
}

/** Replaces Firehose `!{namespace:key}` expressions; throws on any it cannot evaluate, as Firehose rejects them. */
function renderPrefix(prefix: string, values: Record<string, string | undefined>): string {
  return prefix.replace(/!\{([^}]+)\}/g, (whole, expr: string) => {
    const value = values[expr];
    if (value === undefined) throw new Error(`cannot evaluate ${whole} in prefix ${prefix}`);
    return value;
  });
}

interface Delivered {
  /** Curated objects written, by rendered prefix. */
  readonly curated: Map<string, Buffer>;
  readonly errorPrefix: string;
}

/**
 * What Firehose does with the transform's response on one buffer flush:
 * `Ok` records are grouped by their rendered dynamic-partitioning prefix and
 * written as one newline-delimited object per partition; `ProcessingFailed`
 * records go to the error prefix as Firehose's failure documents, one JSON
 * line each, carrying the ORIGINAL payload base64-encoded in `rawData`.
 * (Record format conversion to Parquet is not simulated: the curated objects
 * hold the JSON lines Firehose would convert.)
 */
async function deliver(s3: S3Client, bucket: string, event: FirehoseEvent, response: FirehoseResponse): Promise<Delivered> {
  const now = new Date();
  const flush = now.toISOString().slice(0, 19).replace(/[-T:]/g, '-');
  const objectName = () => `lake-delivery-1-${flush}-${randomUUID()}`;
  const byRecordId = new Map(event.records.map((r) => [r.recordId, r]));

  const partitions = new Map<string, Buffer[]>();
  const failures: string[] = [];
  for (const out of response.records) {
    const input = byRecordId.get(out.recordId);
    if (!input) throw new Error(`response has unknown recordId ${out.recordId}`);
    if (out.result === 'Ok') {
      const keys = out.metadata?.partitionKeys ?? {};
      const prefix = renderPrefix(spec.firehosePrefix(PartitionKeySource.LAMBDA), Object.fromEntries(
        Object.entries(keys).map(([k, v]) => [`${PartitionKeySource.LAMBDA}:${k}`, v]),
      ));
      partitions.set(prefix, [...(partitions.get(prefix) ?? []), Buffer.from(out.data!, 'base64')]);
    } else if (out.result === 'ProcessingFailed') {
      failures.push(JSON.stringify({
        attemptsMade: 1,
        arrivalTimestamp: input.approximateArrivalTimestamp,
        attemptEndingTimestamp: now.getTime(),
        rawData: input.data,
        lambdaArn: LAMBDA_ARN,
      }) + '\n');
    } else {
      throw new Error(`unexpected result ${out.result} for ${out.recordId}`);
    }
  }

  const curated = new Map<string, Buffer>();
  for (const [prefix, lines] of partitions) {
    // The handler ends every record with '\n', so concatenation is newline-delimited JSON.
    const body = Buffer.concat(lines);
    curated.set(prefix, body);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + objectName(), Body: body }));
  }
  const errorPrefix = renderPrefix(spec.errorPrefix, {
    'firehose:error-output-type': 'processing-failed',
    'timestamp:yyyy/MM/dd': now.toISOString().slice(0, 10).replace(/-/g, '/'),
  });
  if (failures.length > 0) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: errorPrefix + objectName(), Body: failures.join('') }));
  }
  return { curated, errorPrefix };
}

// ---------------------------------------------------------------- S3 and Athena

/**
 * The partition values Athena's projection would assign to `key`, or an
 * explanation of why projection would never read it: the key must sit under
 * `storage.location.template` and every value must be one the projection
 * parameters (rendered exactly as the Glue table gets them) enumerate.
 */
function projectedPartition(bucket: string, key: string): Record<string, string> | string {
  const template = spec.locationTemplate(bucket);
  const names: string[] = [];
  const pattern = template.split(/\$\{([a-z_][a-z0-9_]*)\}/).map((part, i) => {
    if (i % 2 === 0) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    names.push(part);
    return '([^/]+)';
  }).join('');
  const match = new RegExp(`^${pattern}[^/]+$`).exec(`s3://${bucket}/${key}`);
  if (!match) return `${key} is not under ${template}`;
  const values = Object.fromEntries(names.map((n, i) => [n, match[i + 1]]));

  const params: Record<string, string> = Object.assign({}, ...Object.entries(spec.projection).map(([c, p]) => glue.generatePartitionProjectionParameters(c, p)));
  const today = new Date().toISOString().slice(0, 10);
  for (const [name, value] of Object.entries(values)) {
    const type = params[`projection.${name}.type`];
    const [min, max] = (params[`projection.${name}.range`] ?? '').split(',');
    switch (type) {
      case 'date': {
        if (params[`projection.${name}.format`] !== 'yyyy-MM-dd') return `${name}: unsupported date format`;
        const real = /^\d{4}-\d{2}-\d{2}$/.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
        if (!real || value < min || value > (max === 'NOW' ? today : max)) return `${name}=${value} outside ${min}..${max}`;
        break;
      }
      case 'integer': {
        const digits = Number(params[`projection.${name}.digits`] ?? 1);
        const n = Number(value);
        if (!/^\d+$/.test(value) || value.length !== Math.max(digits, String(n).length) || n < Number(min) || n > Number(max)) {
          return `${name}=${value} outside ${min}..${max} (${digits} digits)`;
        }
        break;
      }
      case 'enum':
        if (!params[`projection.${name}.values`].split(',').includes(value)) return `${name}=${value} not in enum ${params[`projection.${name}.values`]}`;
        break;
      case 'injected':
        break;
      default:
        return `${name}: no projection`;
    }
  }
  return values;
}

// ---------------------------------------------------------------- the tests

describe('StreamingLake data path: kinesalite → bundled transform → Firehose delivery → s3rver', () => {
  let kinesis: KinesisClient;
  let s3: S3Client;
  const env = spec.handlerEnvironment({});
  const unique = `${process.pid}-${Date.now().toString(36)}`;

  beforeAll(() => {
    ensureBundled(HANDLER_ASSET);
    const endpoints = localAwsEndpoints();
    kinesis = kinesisClient(endpoints.kinesis);
    s3 = s3Client(endpoints.s3);
  });

  afterAll(() => {
    kinesis?.destroy();
    s3?.destroy();
  });

  test('every record lands once, in the partition Athena projects or in the error prefix with its original bytes', async () => {
    const streamName = `lake-${unique}`;
    const bucket = `lake-${unique}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const { streamArn, shardIds } = await ingest(kinesis, streamName);

    const read = (await Promise.all(shardIds.map((id) => readShard(kinesis, streamName, id, { type: 'TRIM_HORIZON' })))).flat();
    expect(read).toHaveLength(INPUT_COUNT);
    for (const id of shardIds) expect(read.some((r) => r.shardId === id)).toBe(true);
    // Kinesis hands back the producer's bytes unchanged.
    expect(read.map((r) => INPUTS[r.partitionKey].bytes.equals(r.data))).toEqual(read.map(() => true));

    const event = firehoseEvent(streamArn, read);
    const { response, log } = await invoke(coldStart(env), event);

    // The Firehose contract: one answer per record, same ids, same order.
    expect(response.records.map((r) => r.recordId)).toEqual(event.records.map((r) => r.recordId));
    expect(log).toMatchObject({ records: INPUT_COUNT, ok: INPUT_COUNT - ERROR_COUNT, failed: ERROR_COUNT });
    expect(JSON.stringify(log)).not.toContain('us/east'); // counts only, no payloads

    const delivered = await deliver(s3, bucket, event, response);
    expect(delivered.errorPrefix).toMatch(/^errors\/processing-failed\/\d{4}\/\d{2}\/\d{2}\/$/);

    // Everything in the bucket is either curated data or an error object.
    const all = await listKeys(s3, bucket);
    const dataKeys = all.filter((k) => k.startsWith(spec.dataPrefix));
    const errorKeys = all.filter((k) => k.startsWith(delivered.errorPrefix));
    expect(dataKeys.length + errorKeys.length).toBe(all.length);
    expect(errorKeys).toHaveLength(1);

    // Athena's projection finds every curated object.
    const placed = new Map<string, { partition: string; record: Record<string, unknown>; line: string }>();
    for (const key of dataKeys) {
      const projected = projectedPartition(bucket, key);
      expect(typeof projected === 'string' ? projected : 'projected').toBe('projected');
      const partition = key.slice(spec.dataPrefix.length, key.lastIndexOf('/') + 1);
      const body = (await getObject(s3, bucket, key)).toString('utf8');
      expect(body.endsWith('\n')).toBe(true);
      for (const line of body.slice(0, -1).split('\n')) {
        const record = JSON.parse(line) as Record<string, unknown>;
        expect(placed.has(String(record.id))).toBe(false);
        placed.set(String(record.id), { partition, record, line });
      }
    }

    const failed = new Map<string, Buffer>();
    for (const line of (await getObject(s3, bucket, errorKeys[0])).toString('utf8').trimEnd().split('\n')) {
      const doc = JSON.parse(line) as { rawData: string; lambdaArn: string };
      expect(doc.lambdaArn).toBe(LAMBDA_ARN);
      const raw = Buffer.from(doc.rawData, 'base64');
      const id = Object.keys(INPUTS).find((k) => INPUTS[k].bytes.equals(raw));
      expect(id).toBeDefined();
      expect(failed.has(id!)).toBe(false);
      failed.set(id!, raw);
    }

    // Count in = count out, and each record is where its event time says.
    expect(placed.size + failed.size).toBe(INPUT_COUNT);
    for (const [id, input] of Object.entries(INPUTS)) {
      if (input.expect === 'error') {
        expect([id, failed.get(id)?.equals(input.bytes)]).toEqual([id, true]);
        expect(placed.has(id)).toBe(false);
      } else {
        const got = placed.get(id);
        expect([id, got?.partition]).toEqual([id, input.expect.partition]);
        // Only event_time changes: normalized to UTC ISO-8601 with milliseconds.
        const original = JSON.parse(input.bytes.toString('utf8')) as Record<string, unknown>;
        expect(got!.record).toEqual({ ...original, event_time: input.expect.utc });
        expect(got!.record.event_time).toBe(new Date(String(original.event_time)).toISOString());
      }
    }

    // The cases the partition layout exists for, spelled out.
    expect(placed.get('new-year-from-west')!.partition).toBe(`dt=2025-01-01/hour=00/${REGION_KEY}=eu/`);
    const sameInstant = ['same-instant-utc', 'same-instant-ist', 'same-instant-pst'].map((id) => placed.get(id)!);
    expect(new Set(sameInstant.map((p) => p.partition)).size).toBe(1);
    expect(new Set(sameInstant.map((p) => p.record.event_time))).toEqual(new Set(['2024-06-01T12:00:00.000Z']));
    expect([...delivered.curated.keys()].sort()).toEqual(
      [...new Set(Object.values(INPUTS).flatMap((i) => (i.expect === 'error' ? [] : [spec.dataPrefix + i.expect.partition])))].sort(),
    );
  });

  test('re-reading the same shard range and transforming again rewrites byte-identical partitions', async () => {
    const streamName = `lake-retry-${unique}`;
    const bucket = `lake-retry-${unique}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const { streamArn, shardIds, ranges } = await ingest(kinesis, streamName);

    const readAll = async (start: (shardId: string) => { type: ShardIteratorType; sequenceNumber?: string }) =>
      (await Promise.all(shardIds.map((id) => readShard(kinesis, streamName, id, start(id), ranges.get(id)!.last)))).flat();
    const first = await readAll(() => ({ type: 'TRIM_HORIZON' }));
    // A consumer restarting from its checkpoint re-reads the range by sequence number.
    const again = await readAll((id) => ({ type: 'AT_SEQUENCE_NUMBER', sequenceNumber: ranges.get(id)!.first }));
    expect(first).toHaveLength(INPUT_COUNT);
    expect(again).toEqual(first);

    // Two cold starts, as a Firehose retry may land on a new Lambda instance; only the invocationId differs.
    const attempt1 = await invoke(coldStart(env), firehoseEvent(streamArn, first));
    const attempt2 = await invoke(coldStart(env), firehoseEvent(streamArn, again));
    expect(JSON.stringify(attempt2.response)).toBe(JSON.stringify(attempt1.response));

    const d1 = await deliver(s3, bucket, firehoseEvent(streamArn, first), attempt1.response);
    const d2 = await deliver(s3, bucket, firehoseEvent(streamArn, again), attempt2.response);
    expect([...d2.curated.keys()]).toEqual([...d1.curated.keys()]);
    for (const [prefix, body] of d1.curated) expect(d2.curated.get(prefix)!.equals(body)).toBe(true);

    // In the bucket: each partition holds two objects (Firehose delivery is at-least-once) with the same bytes.
    const byPartition = new Map<string, Buffer[]>();
    for (const key of await listKeys(s3, bucket, spec.dataPrefix)) {
      const dir = key.slice(0, key.lastIndexOf('/') + 1);
      byPartition.set(dir, [...(byPartition.get(dir) ?? []), await getObject(s3, bucket, key)]);
    }
    expect([...byPartition.keys()].sort()).toEqual([...d1.curated.keys()].sort());
    for (const [, bodies] of byPartition) {
      expect(bodies).toHaveLength(2);
      expect(bodies[0].equals(bodies[1])).toBe(true);
    }
  });
});
