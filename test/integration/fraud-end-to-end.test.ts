/**
 * The fraud pipeline end to end on 127.0.0.1: corpus records are put into kinesalite (2 shards, partition key =
 * customer id), read back per shard with GetShardIterator/GetRecords and shaped as the batches a Lambda Kinesis
 * event-source mapping delivers (a few records each, one shard per batch, shards in turn), scored by the
 * fraud-scorer adapter against a dynalite state table; then the fraud-closer adapter ticks every shard (the
 * closer's schedule, at a wall time when all are idle) so every window closes. The state table's alert outbox
 * items and closed windows are what its stream would deliver to the publisher: they are read back and shaped as
 * DynamoDB Streams records (NEW_IMAGE) for the fraud-publisher adapter, whose SNS and EventBridge calls are
 * captured at the adapter, whose results go to a dynalite results table and to a kinesalite lake stream.
 *
 * Expected: the reference model (test/support/fraud-model.ts) run over the records as they were delivered (their
 * shard, arrival timestamp and bytes) plus the same tick on every shard.
 *
 * Not simulated: the stream's delivery of modifications one by one (each item is delivered once, with its final
 * image), retries and failures (test/lambda covers those), S3 (the sinks are captured in memory).
 *
 * The corpus specs keep state one hour after a window can no longer change; kinesalite stamps arrivals with the
 * wall clock, so the spec is run with a 30-day retention to keep the corpus's 2026-12-03 windows from reading
 * as TTL-expired on any later day. Nothing else in the corpus depends on the retention.
 */
import {
  type AttributeValue, BatchGetItemCommand, CreateTableCommand, DescribeTableCommand, type DynamoDBClient, ScanCommand, TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand, type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { createStateTable } from '../../bench/fraud';
import { makeHandler as makeCloser } from '../../lambda/fraud-closer/index';
import { configFromEnv as publisherConfig } from '../../lambda/fraud-publisher/core';
import { createHandler as makePublisher } from '../../lambda/fraud-publisher/handler';
import { sdkSenders } from '../../lambda/fraud-publisher/sdk-senders';
import { makeHandler as makeScorer } from '../../lambda/fraud-scorer/index';
import { getAtPath, parseDottedPath } from '../../lambda/shared/dotted-path';
import type { FraudAlert, FraudSpec, FraudWindowResult } from '../../lambda/shared/fraud/spec';
import { specFromEnv } from '../../lambda/shared/fraud/validate-spec';
import { DynaliteTransactions } from '../support/dynalite-transactions';
import { loadFraudCorpus } from '../support/fraud-corpus';
import { runFraudModel } from '../support/fraud-model';
import type { FraudInputItem } from '../support/fraud-model-types';
import { createKinesaliteStream, dynamoClient, kinesisClient, localAwsEndpoints, readKinesaliteStream, type StreamRecord } from './local-aws';

const RECORDS_PER_BATCH = 3;
const DAY_MS = 86_400_000;

let kinesis: KinesisClient;
let ddb: DynamoDBClient;
const streams: string[] = [];

beforeAll(() => {
  const endpoints = localAwsEndpoints();
  kinesis = kinesisClient(endpoints.kinesis);
  ddb = dynamoClient(endpoints.dynamodb);
});
afterEach(async () => {
  for (const name of streams.splice(0)) await kinesis.send(new DeleteStreamCommand({ StreamName: name }));
});
afterAll(() => {
  kinesis?.destroy();
  ddb?.destroy();
});

/** The engines' DynamoDB client: dynalite lacks TransactWriteItems, so transactions (and their reads) go through the emulation. */
function stateSender(): { send(command: object): Promise<unknown> } {
  const tx = new DynaliteTransactions(ddb);
  return {
    send: (command) => (command instanceof TransactWriteItemsCommand || command instanceof BatchGetItemCommand
      ? tx.send(command)
      : (ddb.send as (c: object) => Promise<unknown>)(command)),
  };
}

/** One shard's records as ESM batches of RECORDS_PER_BATCH, shaped as Lambda delivers them. */
function esmBatches(records: readonly StreamRecord[], streamArn: string): KinesisStreamEvent[] {
  const batches: KinesisStreamEvent[] = [];
  for (let i = 0; i < records.length; i += RECORDS_PER_BATCH) {
    batches.push({
      Records: records.slice(i, i + RECORDS_PER_BATCH).map((r): KinesisStreamRecord => ({
        kinesis: {
          kinesisSchemaVersion: '1.0', partitionKey: r.partitionKey, sequenceNumber: r.sequenceNumber,
          data: r.data.toString('base64'), approximateArrivalTimestamp: r.arrival / 1000,
        },
        eventSource: 'aws:kinesis', eventVersion: '1.0', eventID: `${r.shardId}:${r.sequenceNumber}`, eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/fraud-scorer', awsRegion: 'us-east-1', eventSourceARN: streamArn,
      })),
    });
  }
  return batches;
}

/** An item as a DynamoDB stream's NEW_IMAGE carries it (binary as base64 text). */
function streamImage(item: Record<string, AttributeValue>): Record<string, unknown> {
  const convert = (v: AttributeValue): unknown => {
    if (v.B !== undefined) return { B: Buffer.from(v.B).toString('base64') };
    if (v.BS !== undefined) return { BS: v.BS.map((b) => Buffer.from(b).toString('base64')) };
    if (v.M !== undefined) return { M: Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, convert(x)])) };
    if (v.L !== undefined) return { L: v.L.map(convert) };
    return v;
  };
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, convert(v)]));
}

async function scanAll(TableName: string): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items;
}

async function createResultsTable(name: string): Promise<string> {
  await ddb.send(new CreateTableCommand({
    TableName: name,
    AttributeDefinitions: [{ AttributeName: 'customer_id', AttributeType: 'S' }, { AttributeName: 'window', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'customer_id', KeyType: 'HASH' }, { AttributeName: 'window', KeyType: 'RANGE' }],
    BillingMode: 'PAY_PER_REQUEST',
  }));
  for (let i = 0; (await ddb.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus !== 'ACTIVE'; i++) {
    if (i > 100) throw new Error(`table ${name} never became ACTIVE`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return name;
}

/** A result as the lake stream carries it: distinct flattened to `distinct_${attr}` columns. */
function lakeRow(result: FraudWindowResult): Record<string, unknown> {
  const { distinct, ...rest } = result;
  return { ...rest, ...Object.fromEntries(Object.entries(distinct).map(([k, v]) => [`distinct_${k}`, v])) };
}

/** The producer keys by customer (so one customer's events share a shard); records without a usable one share a key. */
const partitionKeyOf = (customer: unknown): string =>
  ((typeof customer === 'string' && customer !== '') || typeof customer === 'number' ? String(customer) : 'no-customer');

const byAlertId = (a: FraudAlert, b: FraudAlert): number => a.alert_id.localeCompare(b.alert_id);
const byWindow = (a: FraudWindowResult, b: FraudWindowResult): number => a.customer_id.localeCompare(b.customer_id) || a.window_start.localeCompare(b.window_start);

const SCENARIOS = ['interleaved-customers', 'hopping-windows', 'score-at-least', 'invalid-records'];

describe('fraud pipeline end to end: kinesalite → scorer → dynalite → closer → publisher → SNS/EventBridge, results table, lake stream', () => {
  test.each(SCENARIOS)('%s: published alerts and results equal the reference model\'s', async (name) => {
    const corpus = loadFraudCorpus().find((c) => c.name === name);
    if (corpus === undefined) throw new Error(`corpus file ${name} is missing`);
    const spec: FraudSpec = { ...corpus.spec, stateRetentionMs: 30 * DAY_MS };
    const customerPath = parseDottedPath(spec.schema.customerId, 'customerId');

    // 1. Producer: every data record (ticks are the closer's business), keyed by customer, in corpus order.
    const source = await createKinesaliteStream(kinesis, 'fraud-e2e', 2, streams);
    const entries = corpus.input.flatMap((item) => ('tick' in item ? [] : ['raw' in item
      ? { Data: Buffer.from(item.raw), PartitionKey: 'unparseable' }
      : { Data: Buffer.from(JSON.stringify(item.data)), PartitionKey: partitionKeyOf(getAtPath(item.data, customerPath)) }]));
    const put = await kinesis.send(new PutRecordsCommand({ StreamName: source.name, Records: entries }));
    expect(put.FailedRecordCount ?? 0).toBe(0);
    const delivered = await readKinesaliteStream(kinesis, source.name);
    expect(delivered).toHaveLength(entries.length);

    // 2. Scorer: each shard's batches in order, shards in turn (a batch holds one shard).
    const stateTable = await createStateTable(ddb, 'e2e');
    const sinks = new Map<string, string>();
    const scorer = makeScorer({
      spec: specFromEnv(JSON.stringify(spec)), table: stateTable, lateBucket: 'late', failureBucket: 'failures', namespace: 'Test/Fraud', pipeline: 'e2e',
    }, {
      dynamo: stateSender(),
      s3: { send: async (c: { input: { Bucket?: string; Key?: string; Body?: unknown } }) => void sinks.set(`${c.input.Bucket}/${c.input.Key}`, String(c.input.Body)) },
      log: () => undefined,
    });
    const context = { getRemainingTimeInMillis: () => 300_000 };
    const shardIds = [...new Set(delivered.map((r) => r.shardId))].sort();
    for (const shardId of shardIds) {
      for (const batch of esmBatches(delivered.filter((r) => r.shardId === shardId), source.arn)) {
        expect(await scorer(batch as never, context)).toEqual({ batchItemFailures: [] });
      }
    }

    // 3. Closer: one scheduled run a day later, when every shard is idle: every window closes.
    const tickMs = Math.max(...delivered.map((r) => r.arrival)) + DAY_MS;
    const closer = makeCloser({ spec: specFromEnv(JSON.stringify(spec)), table: stateTable, namespace: 'Test/Fraud', pipeline: 'e2e' }, {
      dynamo: stateSender(), now: () => tickMs, log: () => undefined,
    });
    await closer(undefined, { getRemainingTimeInMillis: () => 60_000 });

    // 4. Publisher: the items the state table's stream delivers through the ESM filter (alert INSERTs, closed windows).
    const items = (await scanAll(stateTable)).filter((i) => i.kind?.S === 'alert' || i.status?.S === 'closed');
    const resultsTable = await createResultsTable(`fraud-e2e-results-${Date.now()}`);
    const lake = await createKinesaliteStream(kinesis, 'fraud-e2e-lake', 1, streams);
    const snsCalls: { PublishBatchRequestEntries?: { Message?: string }[] }[] = [];
    const ebCalls: { Entries?: { Detail?: string; Source?: string; DetailType?: string }[] }[] = [];
    const senders = sdkSenders({ dynamodb: ddb, kinesis });
    const publisher = makePublisher(publisherConfig({
      ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:fraud-alerts', ALERT_EVENT_BUS_NAME: 'fraud-bus',
      RESULTS_TABLE: resultsTable, LAKE_STREAM_NAME: lake.name, STATE_TABLE: stateTable, PIPELINE_NAME: 'e2e',
    }), {
      ...senders,
      publishBatch: async (input) => {
        snsCalls.push(input as never);
        return { Successful: (input.PublishBatchRequestEntries ?? []).map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}` })), Failed: [] } as never;
      },
      putEvents: async (input) => {
        ebCalls.push(input as never);
        return { FailedEntryCount: 0, Entries: (input.Entries ?? []).map((_, i) => ({ EventId: `e-${i}` })) } as never;
      },
    }, { log: { log: () => undefined, error: () => undefined } });
    const streamRecords = items.map((item, i) => ({
      eventID: String(i), eventName: item.kind?.S === 'alert' ? 'INSERT' : 'MODIFY', eventSource: 'aws:dynamodb',
      dynamodb: { SequenceNumber: String(1000 + i), Keys: { pk: item.pk }, NewImage: streamImage(item) },
    }));
    expect(await publisher({ Records: streamRecords }, { getRemainingTimeInMillis: () => 60_000 })).toEqual({ batchItemFailures: [] });

    // Expected: the model over the records as delivered, then the closer's tick on every shard.
    const input: FraudInputItem[] = [
      ...shardIds.flatMap((shardId) => delivered.filter((r) => r.shardId === shardId)
        .map((r): FraudInputItem => ({ shard: `${source.arn}|${shardId}`, arrivalMs: r.arrival, raw: r.data.toString('utf8') }))),
      ...shardIds.map((shardId): FraudInputItem => ({ shard: `${source.arn}|${shardId}`, tick: { nowMs: tickMs } })),
    ];
    const model = runFraudModel(spec, input);
    expect(model.results.length).toBeGreaterThan(0);
    const alerts = [...model.alerts].sort(byAlertId);
    const results = [...model.results].sort(byWindow);

    const published = (messages: (string | undefined)[]): FraudAlert[] => messages.map((m) => JSON.parse(m as string) as FraudAlert).sort(byAlertId);
    expect(published(snsCalls.flatMap((c) => (c.PublishBatchRequestEntries ?? []).map((e) => e.Message)))).toEqual(alerts);
    const events = ebCalls.flatMap((c) => c.Entries ?? []);
    expect(events.every((e) => e.Source === 'cdk-streaming-pipelines.fraud' && e.DetailType === 'FraudAlert')).toBe(true);
    expect(published(events.map((e) => e.Detail))).toEqual(alerts);

    const rows = await scanAll(resultsTable);
    expect(rows.map((r) => [r.customer_id.S, r.window.S]).sort()).toEqual(results.map((r) => [r.customer_id, `${r.window_start}/${r.window_end}`]).sort());
    const lakeRows = (await readKinesaliteStream(kinesis, lake.name)).map((r) => JSON.parse(r.data.toString('utf8')) as Record<string, unknown>);
    const sortRows = (xs: Record<string, unknown>[]): Record<string, unknown>[] => [...xs].sort((a, b) => `${a.customer_id}${a.window_start}`.localeCompare(`${b.customer_id}${b.window_start}`));
    expect(sortRows(lakeRows)).toEqual(sortRows(results.map(lakeRow)));

    // Every outbox item is marked delivered.
    const outbox = (await scanAll(stateTable)).filter((i) => i.kind?.S === 'alert');
    expect(outbox).toHaveLength(alerts.length);
    expect(outbox.every((i) => i.deliveredAt?.N !== undefined)).toBe(true);
  });
});
