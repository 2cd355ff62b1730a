/**
 * A replay with the defaults never reaches a sink the library owns (issue 9, B7), against
 * kinesalite + s3rver + dynalite on 127.0.0.1.
 *
 * Nothing about the wiring is chosen here: a StreamingLake with the example consumer
 * (bin/examples.ts addCustomerTotals) is synthesized, and the template says which stream each
 * Firehose delivery reads and which handler processes it, where each delivery writes (bucket,
 * prefix, compression), which stream the replay planner targets by default (TARGET_STREAMS), and
 * which streams the consumer's event-source mappings read. Every Kinesis stream of the template
 * becomes a kinesalite stream, every bucket and table the handlers name an s3rver bucket or a
 * dynalite table, and the handlers' environments are the template's, rendered over them.
 *
 * The handlers are the real ones: the bundled transform and archive processor (cold starts with
 * the template's environment), the replay planner core and the replay worker (createHandler over
 * the local clients), and the example consumer's core under the runtime's batchHandler with
 * DynamoDB idempotency. Firehose and Lambda are simulated as in streaming-lake-path,
 * replay-archive and end-to-end: a delivery polls its source stream from its checkpoint,
 * DE-AGGREGATES KPL records (so the replay_id tag never reaches the processor, as in Firehose),
 * invokes the processor and writes one object per rendered prefix per flush; a mapping polls its
 * stream per shard and invokes the consumer. (Parquet conversion is not simulated: curated objects
 * hold the JSON lines Firehose would convert.)
 *
 * The scenario: 40 events, a window [from, to) around the first 30, a replay of the window with
 * the execution input `{from, to}` only, then every delivery and mapping polls again.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DeleteStreamCommand, DescribeStreamSummaryCommand, GetRecordsCommand, GetShardIteratorCommand, type KinesisClient, ListShardsCommand, PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { KinesisStreamEvent } from 'aws-lambda';
import { addCustomerTotals, exampleSchema } from '../../bin/examples';
import { totalUpdateOf } from '../../examples/customer-totals/core';
import { parseConfig as parsePlannerConfig, plan, type PlannerIo } from '../../lambda/replay-planner/core';
import { parseWorkerConfig } from '../../lambda/replay-worker/core';
import { decodeArchiveObject } from '../../lambda/shared/archive-format';
import { deaggregate } from '../../lambda/shared/kpl';
import { batchHandler } from '../../lambda/shared/runtime';
import { BundledFunction, EventTimeFormat, StreamingLake } from '../../lib';
import { coldRequire, ensureBundled } from '../support/cold-start';
import { DynaliteTransactions } from '../support/dynalite-transactions';
import { newApp } from '../support/nag';
import { createHashKeyTable, createKinesaliteStream, dynamoClient, getS3Object, kinesisClient, listS3Keys, localAwsEndpoints, REGION, s3Client } from './local-aws';

type WorkerIndex = typeof import('../../lambda/replay-worker/index');
type Resource = { Type: string; Properties: any };
type Json = Record<string, unknown>;

const ROOT = path.resolve(__dirname, '..', '..');
const UNIQUE = `${process.pid}-${Date.now().toString(36)}`;
const HANDLERS = ['archive-processor', 'firehose-transform', 'replay-planner', 'replay-worker'] as const;
type HandlerName = typeof HANDLERS[number];

// ---------------------------------------------------------------- the synthesized wiring

/** The S3 key of a bundled handler's asset, as BundledFunction writes it into a template. */
function assetKeyOf(handler: HandlerName): string {
  const stack = new Stack(newApp(), 'AssetProbe');
  new BundledFunction(stack, 'Probe', { handler, encryptionKey: new kms.Key(stack, 'Key'), synchronousInvoker: 'Probe only.' });
  const fns = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')) as Resource[];
  return fns[0].Properties.Code.S3Key;
}

interface Synthesized {
  readonly resources: Record<string, Resource>;
  /** Logical id of the stream producers write to (`lake.stream`). */
  readonly ingestStream: string;
  /** Logical id → bundled handler, for the functions built from one. */
  readonly handlerOf: Map<string, HandlerName>;
}

function synthesize(): Synthesized {
  const stack = new Stack(newApp(), 'ReplayIsolation');
  const lake = new StreamingLake(stack, 'Lake', { schema: exampleSchema, eventTime: { field: 'event_time', format: EventTimeFormat.ISO_8601 } });
  addCustomerTotals(stack, lake);
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  const keys = new Map(HANDLERS.map((h) => [assetKeyOf(h), h]));
  const handlerOf = new Map<string, HandlerName>();
  for (const [id, r] of Object.entries(resources)) {
    const h = r.Type === 'AWS::Lambda::Function' ? keys.get(r.Properties.Code?.S3Key) : undefined;
    if (h) handlerOf.set(id, h);
  }
  return { resources, ingestStream: getAttId(stack.resolve(lake.stream!.streamArn)), handlerOf };
}

function getAttId(value: any): string {
  const att = value?.['Fn::GetAtt'];
  if (!Array.isArray(att) || !['Arn', 'ConsumerARN'].includes(att[1])) throw new Error(`not an Fn::GetAtt Arn: ${JSON.stringify(value)}`);
  return att[0];
}

/** Local names of the template's resources: `Ref` gives `ref`, `Fn::GetAtt [id, Arn]` gives `arn`. */
const locals = new Map<string, { ref: string; arn?: string }>();

/** Renders a template value (string, Ref, GetAtt Arn, Join) over the local resources; anything else throws. */
function render(value: any): string {
  if (typeof value === 'string') return value;
  if (value?.Ref !== undefined) {
    const local = locals.get(value.Ref);
    if (!local) throw new Error(`no local resource for Ref ${value.Ref}`);
    return local.ref;
  }
  if (value?.['Fn::GetAtt'] !== undefined) {
    const local = locals.get(getAttId(value));
    if (!local?.arn) throw new Error(`no local ARN for ${JSON.stringify(value)}`);
    return local.arn;
  }
  if (value?.['Fn::Join'] !== undefined) {
    const [sep, parts] = value['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(sep);
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

const renderEnv = (fn: Resource): Record<string, string> =>
  Object.fromEntries(Object.entries(fn.Properties.Environment?.Variables ?? {}).map(([k, v]) => [k, render(v)]));

// ---------------------------------------------------------------- local resources

let kinesis: KinesisClient;
let s3: S3Client;
let ddb: DynamoDBClient;
const streams: string[] = [];

/** A kinesalite stream for a template stream: its shard count, or 1 for an on-demand stream. */
async function createLocalStream(id: string, r: Resource): Promise<void> {
  const { name, arn } = await createKinesaliteStream(kinesis, `ri-${id.slice(0, 20)}`, r.Properties.ShardCount ?? 1, streams);
  locals.set(id, { ref: name, arn });
}

let buckets = 0;
async function createLocalBucket(id: string): Promise<void> {
  if (locals.has(id)) return;
  const name = `ri-${UNIQUE}-${buckets++}`;
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  locals.set(id, { ref: name, arn: `arn:aws:s3:::${name}` });
}

const nameOfArn = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);
const streamName = (id: string): string => locals.get(id)!.ref;

interface Read {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly arrival: number;
}

/** What a poller has not read yet, per shard in sequence order; moves its checkpoints past it. */
async function readNew(name: string, checkpoints: Map<string, string>): Promise<Map<string, Read[]>> {
  const out = new Map<string, Read[]>();
  for (const shard of (await kinesis.send(new ListShardsCommand({ StreamName: name }))).Shards ?? []) {
    const shardId = shard.ShardId!;
    const after = checkpoints.get(shardId);
    let iterator = (await kinesis.send(new GetShardIteratorCommand({
      StreamName: name, ShardId: shardId,
      ...(after ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after } : { ShardIteratorType: 'TRIM_HORIZON' }),
    }))).ShardIterator;
    const records: Read[] = [];
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
      for (const r of page.Records ?? []) {
        records.push({ shardId, sequenceNumber: r.SequenceNumber!, partitionKey: r.PartitionKey!, data: Buffer.from(r.Data!), arrival: r.ApproximateArrivalTimestamp!.getTime() });
      }
      if ((page.Records ?? []).length === 0) break;
      iterator = page.NextShardIterator;
    }
    if (records.length > 0) checkpoints.set(shardId, records[records.length - 1].sequenceNumber);
    out.set(shardId, records);
  }
  return out;
}

// ---------------------------------------------------------------- Firehose, as the template configures it

type Processor = (event: unknown) => Promise<{ records: { recordId: string; result: string; data: string; metadata?: { partitionKeys: Record<string, string> } }[] }>;

/** One delivery stream of the template: its source, processor and S3 destination. */
class SimulatedDelivery {
  readonly source: string;
  readonly handler: HandlerName;
  readonly bucket: string;
  /** The literal part of the prefix, before the first `!{…}`: where its objects are. */
  readonly dataPrefix: string;
  /** Logical id of the processor function. */
  private readonly processorId: string;
  private readonly checkpoints = new Map<string, string>();
  private processor?: Processor;

  constructor(readonly id: string, private readonly r: Resource, s: Synthesized) {
    this.source = getAttId(r.Properties.KinesisStreamSourceConfiguration.KinesisStreamARN);
    const dest = r.Properties.ExtendedS3DestinationConfiguration;
    const lambda = dest.ProcessingConfiguration.Processors[0].Parameters.find((p: any) => p.ParameterName === 'LambdaArn').ParameterValue;
    this.processorId = getAttId(lambda);
    const handler = s.handlerOf.get(this.processorId);
    if (!handler) throw new Error(`delivery ${id}: processor ${this.processorId} is not a bundled handler`);
    this.handler = handler;
    this.bucket = getAttId(dest.BucketARN);
    this.dataPrefix = dest.Prefix.slice(0, dest.Prefix.indexOf('!{'));
  }

  get destination(): any {
    return this.r.Properties.ExtendedS3DestinationConfiguration;
  }

  /** The processor: a cold start of the bundled asset with the function's environment from the template. */
  load(s: Synthesized): void {
    const asset = path.join(ROOT, 'assets', 'lambda', this.handler, 'index.js');
    ensureBundled(asset);
    this.processor = coldRequire<{ handler: Processor }>(asset, renderEnv(s.resources[this.processorId])).handler;
  }

  /** One flush: reads what arrived since the last, de-aggregates, transforms, writes one object per prefix. Returns user records read. */
  async flush(): Promise<number> {
    const read = [...(await readNew(streamName(this.source), this.checkpoints)).values()].flat();
    if (read.length === 0) return 0;
    const records = read.flatMap((r) => {
      const d = deaggregate(r.data, r.partitionKey);
      return d.records.map((u, sub) => ({
        recordId: `${r.sequenceNumber}${String(sub).padStart(6, '0')}`,
        approximateArrivalTimestamp: r.arrival + 1_000,
        data: Buffer.from(u.data).toString('base64'),
        kinesisRecordMetadata: {
          shardId: r.shardId, partitionKey: u.partitionKey, approximateArrivalTimestamp: r.arrival,
          sequenceNumber: r.sequenceNumber, subsequenceNumber: d.aggregated ? sub : '',
        },
      }));
    });
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const response = await this.processor!({
      invocationId: randomUUID(), deliveryStreamArn: `arn:aws:firehose:${REGION}:000000000000:deliverystream/${this.id}`,
      sourceKinesisStreamArn: locals.get(this.source)!.arn, region: REGION, records,
    }).finally(() => log.mockRestore());
    expect(response.records.map((o) => [o.recordId, o.result])).toEqual(records.map((i) => [i.recordId, 'Ok']));
    const byPrefix = new Map<string, Buffer[]>();
    for (const out of response.records) {
      const prefix = this.destination.Prefix.replace(/!\{partitionKeyFromLambda:([^}]+)\}/g, (_: string, k: string) => out.metadata!.partitionKeys[k]);
      byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), Buffer.from(out.data, 'base64')]);
    }
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-T:]/g, '-');
    for (const [prefix, lines] of byPrefix) {
      const body = Buffer.concat(lines);
      await s3.send(new PutObjectCommand({
        Bucket: locals.get(this.bucket)!.ref,
        Key: `${prefix}${this.id}-1-${stamp}-${randomUUID()}${this.destination.FileExtension ?? ''}`,
        Body: this.destination.CompressionFormat === 'GZIP' ? gzipSync(body) : body,
      }));
    }
    return records.length;
  }

  /** Every object this delivery wrote, decompressed. */
  async objects(): Promise<Buffer[]> {
    const bucket = locals.get(this.bucket)!.ref;
    const keys = await listS3Keys(s3, bucket, this.dataPrefix);
    return Promise.all(keys.map(async (k) => {
      const body = await getS3Object(s3, bucket, k);
      return this.destination.CompressionFormat === 'GZIP' ? gunzipSync(body) : body;
    }));
  }
}

// ---------------------------------------------------------------- the consumer's event-source mappings

interface Emf { Records: number; Processed: number; DuplicatesSkipped: number; Failures: number }

/** The example consumer (its core under batchHandler with idempotency), fed by one simulated mapping per template mapping. */
class SimulatedConsumer {
  readonly checkpoints = new Map<string, Map<string, string>>();
  private handler!: ReturnType<typeof batchHandler>;
  totalsTable = '';

  constructor(readonly sources: string[]) {
    for (const s of sources) this.checkpoints.set(s, new Map());
  }

  async init(totalsKey: string, idempotencyKey: string): Promise<void> {
    this.totalsTable = await createHashKeyTable(ddb, `ri-totals-${UNIQUE}`, totalsKey);
    const idempotency = await createHashKeyTable(ddb, `ri-idem-${UNIQUE}`, idempotencyKey);
    const client = new DynaliteTransactions(ddb, { hashKey: idempotencyKey });
    this.handler = batchHandler(async (record) => {
      const { customerId, amountCents } = totalUpdateOf(record);
      await ddb.send(new UpdateItemCommand({
        TableName: this.totalsTable, Key: { [totalsKey]: { S: customerId } },
        UpdateExpression: 'ADD totalCents :amount, orders :one', ExpressionAttributeValues: { ':amount': { N: String(amountCents) }, ':one': { N: '1' } },
      }));
    }, { idempotency: { tableName: idempotency, keyField: 'event_id', client } });
  }

  /** Every mapping polls its stream once; returns the event ids delivered (KPL de-aggregated) and the summed EMF counts. */
  async poll(): Promise<{ delivered: string[]; emf: Emf }> {
    const delivered: string[] = [];
    const emf: Emf = { Records: 0, Processed: 0, DuplicatesSkipped: 0, Failures: 0 };
    for (const source of this.sources) {
      for (const [, records] of await readNew(streamName(source), this.checkpoints.get(source)!)) {
        if (records.length === 0) continue;
        for (const r of records) for (const u of deaggregate(r.data, r.partitionKey).records) delivered.push(JSON.parse(u.data.toString('utf8')).event_id);
        const lines: unknown[] = [];
        const log = jest.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(line));
        const response = await this.handler(kinesisEvent(locals.get(source)!.arn!, records), { awsRequestId: randomUUID(), functionName: 'customer-totals', getRemainingTimeInMillis: () => 60_000 })
          .finally(() => log.mockRestore());
        expect(response.batchItemFailures).toEqual([]);
        for (const line of lines.map((l) => JSON.parse(String(l)) as Json).filter((l) => l._aws !== undefined)) {
          for (const k of Object.keys(emf) as (keyof Emf)[]) emf[k] += line[k] as number;
        }
      }
    }
    return { delivered, emf };
  }
}

function kinesisEvent(arn: string, records: Read[]): KinesisStreamEvent {
  return {
    Records: records.map((r) => ({
      kinesis: { kinesisSchemaVersion: '1.0', partitionKey: r.partitionKey, sequenceNumber: r.sequenceNumber, data: r.data.toString('base64'), approximateArrivalTimestamp: r.arrival / 1000 },
      eventSource: 'aws:kinesis', eventVersion: '1.0', eventID: `${r.shardId}:${r.sequenceNumber}`, eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/customer-totals', awsRegion: REGION, eventSourceARN: arn,
    })),
  };
}

// ---------------------------------------------------------------- the replay, as the state machine runs it

/** The planner's io over s3rver (flat listing: s3rver drops deep common prefixes) and kinesalite (by name). */
function plannerIo(): PlannerIo {
  return {
    async listArchiveHours(bucket, prefix) {
      const keys = await listS3Keys(s3, bucket, prefix);
      return [...new Set(keys.map((k) => /^(dt=[^/]+\/hour=[^/]+\/)/.exec(k.slice(prefix.length))?.[1]).filter((h): h is string => h !== undefined))];
    },
    async describeStream(arn) {
      const d = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: nameOfArn(arn) }))).StreamDescriptionSummary;
      return { mode: 'PROVISIONED', openShards: d?.OpenShardCount ?? 0, status: d?.StreamStatus ?? 'UNKNOWN' };
    },
  };
}

/** Plan with the execution input `{from, to}` only (the default target), then every lane's worker until done. */
async function replay(s: Synthesized, from: string, to: string): Promise<{ targetStream: string; recordsReplayed: number }> {
  const fns = Object.entries(s.resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
  const only = (h: HandlerName): Resource => {
    const found = fns.filter(([id]) => s.handlerOf.get(id) === h);
    expect(found).toHaveLength(1);
    return found[0][1];
  };
  const plannerEnv = renderEnv(only('replay-planner'));
  const workerEnv = { ...renderEnv(only('replay-worker')), AWS_REGION: REGION };
  for (const b of [plannerEnv.ARCHIVE_BUCKET, plannerEnv.STATE_BUCKET]) expect(b).toMatch(/^ri-/);
  const planned = await plan({ from, to }, `exec-${UNIQUE}`, plannerIo(), parsePlannerConfig(plannerEnv), Date.now());
  const worker = coldRequire<WorkerIndex>(path.join(ROOT, 'lambda', 'replay-worker', 'index'), workerEnv);
  const putByName = worker.kinesisIo(kinesis).putRecords;
  // kinesalite refuses StreamARN (see replay-archive.test.ts): the call is re-addressed by name.
  const io = { ...worker.s3Io(s3), putRecords: async ({ StreamARN, ...rest }: any) => putByName({ ...rest, StreamName: nameOfArn(StreamARN) }) };
  const handler = worker.createHandler(io, parseWorkerConfig(workerEnv));
  let recordsReplayed = 0;
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    for (const lane of planned.lanes) {
      let state = lane as unknown as Json;
      for (let i = 0; state.done !== true; i++) {
        if (i > 50) throw new Error(`lane ${lane.lane} never finished`);
        state = await handler(state, { getRemainingTimeInMillis: () => 900_000 });
      }
      recordsReplayed += (state.totals as Json).recordsReplayed as number;
    }
  } finally {
    log.mockRestore();
  }
  return { targetStream: planned.targetStream!, recordsReplayed };
}

// ---------------------------------------------------------------- the test

beforeAll(() => {
  const endpoints = localAwsEndpoints();
  kinesis = kinesisClient(endpoints.kinesis);
  s3 = s3Client(endpoints.s3);
  ddb = dynamoClient(endpoints.dynamodb);
});

afterAll(async () => {
  for (const name of streams.splice(0)) await kinesis.send(new DeleteStreamCommand({ StreamName: name })).catch(() => undefined);
  kinesis?.destroy();
  s3?.destroy();
  ddb?.destroy();
});

const event = (i: number): Json => ({
  event_id: `evt-${String(i).padStart(3, '0')}`, event_time: `2026-06-01T12:${String(i % 60).padStart(2, '0')}:00+02:00`,
  customer_id: 100 + (i % 7), region: ['us', 'eu'][i % 2], tenant: 'acme', amount: 10 + i / 100,
});
const count = (ids: string[]): Record<string, number> => ids.reduce<Record<string, number>>((m, id) => ({ ...m, [id]: (m[id] ?? 0) + 1 }), {});
const once = (ids: string[]): Record<string, number> => Object.fromEntries(ids.map((id) => [id, 1]));

test('a replay with the defaults: the curated zone and the archive hold every event exactly once, and the consumer sees the window again', async () => {
  const s = synthesize();
  const byType = (type: string): [string, Resource][] => Object.entries(s.resources).filter(([, r]) => r.Type === type);

  // 1. Local resources for the template's streams, the deliveries' and the replay's buckets, and the consumer's tables.
  for (const [id, r] of byType('AWS::Kinesis::Stream')) await createLocalStream(id, r);
  const deliveries = byType('AWS::KinesisFirehose::DeliveryStream').map(([id, r]) => new SimulatedDelivery(id, r, s));
  expect(deliveries.map((d) => d.handler).sort()).toEqual(['archive-processor', 'firehose-transform']);
  for (const d of deliveries) await createLocalBucket(d.bucket);
  for (const [, r] of byType('AWS::Lambda::Function')) {
    for (const v of Object.values<any>(r.Properties.Environment?.Variables ?? {})) {
      if (v?.Ref && s.resources[v.Ref]?.Type === 'AWS::S3::Bucket') await createLocalBucket(v.Ref);
    }
  }
  for (const d of deliveries) d.load(s);
  const mappings = byType('AWS::Lambda::EventSourceMapping').map(([, r]) => r.Properties);
  expect(new Set(mappings.map((m) => JSON.stringify(m.FunctionName))).size).toBe(1);
  // A mapping reads a stream directly, or through an enhanced fan-out consumer registered on it.
  const sourceStream = (arn: unknown): string => {
    const id = getAttId(arn);
    const r = s.resources[id];
    return r.Type === 'AWS::Kinesis::StreamConsumer' ? getAttId(r.Properties.StreamARN) : id;
  };
  const consumer = new SimulatedConsumer(mappings.map((m) => sourceStream(m.EventSourceArn)));
  const tableKey = (logicalPrefix: string): string => {
    const tables = byType('AWS::DynamoDB::Table').filter(([id]) => id.startsWith(logicalPrefix));
    expect(tables).toHaveLength(1);
    return tables[0][1].Properties.KeySchema[0].AttributeName;
  };
  await consumer.init(tableKey('CustomerTotalsTable'), tableKey('CustomerTotalsIdempotency'));

  // 2. Producers write 40 events to lake.stream: the window is the first 30, by arrival.
  const events = Array.from({ length: 40 }, (_, i) => event(i));
  const put = async (batch: Json[]): Promise<void> => {
    const out = await kinesis.send(new PutRecordsCommand({ StreamName: streamName(s.ingestStream), Records: batch.map((e) => ({ PartitionKey: String(e.customer_id), Data: Buffer.from(JSON.stringify(e)) })) }));
    expect(out.FailedRecordCount ?? 0).toBe(0);
  };
  const t0 = Date.now() - 1;
  await put(events.slice(0, 30));
  const to = Math.ceil((Date.now() + 1) / 1000) * 1000; // a whole second, whatever kinesalite's timestamp precision
  while (Date.now() < to + 20) await new Promise((r) => setTimeout(r, 10));
  await put(events.slice(30));
  const window = events.slice(0, 30).map((e) => String(e.event_id));
  const all = events.map((e) => String(e.event_id));

  // 3. Firehose and the consumer catch up: everything once.
  for (const d of deliveries) expect(await d.flush()).toBe(40);
  const first = await consumer.poll();
  expect(count(first.delivered)).toEqual(once(all));
  expect(first.emf).toEqual({ Records: 40, Processed: 40, DuplicatesSkipped: 0, Failures: 0 });

  // 4. The replay of [from, to), with the defaults.
  const replayed = await replay(s, new Date(t0 - 1000).toISOString(), new Date(to).toISOString());
  expect(replayed.recordsReplayed).toBe(30);

  // 5. Firehose and the consumer poll again.
  const reread = await Promise.all(deliveries.map((d) => d.flush()));
  const second = await consumer.poll();

  // The curated zone and the archive: every event exactly once; neither delivery read anything new.
  const curated = deliveries.find((d) => d.handler === 'firehose-transform')!;
  const curatedIds = (await curated.objects()).flatMap((b) => b.toString('utf8').split('\n').filter((l) => l !== '').map((l) => String(JSON.parse(l).event_id)));
  const archive = deliveries.find((d) => d.handler === 'archive-processor')!;
  const archivedIds = (await archive.objects()).flatMap((b) => decodeArchiveObject(b.toString('utf8')).map((r) => String(JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')).event_id)));
  const duplicated = (ids: string[]): number => ids.length - new Set(ids).size;
  expect({ curatedDuplicates: duplicated(curatedIds), archiveDuplicates: duplicated(archivedIds), readAgain: reread })
    .toEqual({ curatedDuplicates: 0, archiveDuplicates: 0, readAgain: deliveries.map(() => 0) });
  expect(count(curatedIds)).toEqual(once(all));
  expect(count(archivedIds)).toEqual(once(all));
  // The consumer saw the window again, and skipped every replayed event as a duplicate: its totals count each order once.
  expect(count(second.delivered)).toEqual(once(window));
  expect(second.emf).toEqual({ Records: 30, Processed: 0, DuplicatesSkipped: 30, Failures: 0 });
  for (const customer of new Set(events.map((e) => String(e.customer_id)))) {
    const item = (await ddb.send(new GetItemCommand({ TableName: consumer.totalsTable, Key: { [tableKey('CustomerTotalsTable')]: { S: customer } }, ConsistentRead: true }))).Item;
    expect([customer, item?.orders?.N]).toEqual([customer, String(events.filter((e) => String(e.customer_id) === customer).length)]);
  }
  // Where the replay went: a stream the consumer reads and no delivery does.
  const target = [...locals].find(([, l]) => l.arn === replayed.targetStream)![0];
  expect(consumer.sources).toContain(target);
  expect(deliveries.map((d) => d.source)).not.toContain(target);
});
