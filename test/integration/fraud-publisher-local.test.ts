/**
 * The fraud publisher against dynalite (state table outbox marks, results table) and kinesalite
 * (lake stream) on 127.0.0.1. The stream records are built from the very items the test writes to
 * the state table, as DynamoDB Streams would deliver them (dynalite has no streams). SNS and
 * EventBridge have no local servers: their calls are captured at the sender.
 */
import * as path from 'node:path';
import {
  CreateTableCommand, DeleteItemCommand, DescribeTableCommand, GetItemCommand, PutItemCommand, ScanCommand,
  type AttributeValue, type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { DeleteStreamCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { lakeRow, resultItem, unmarshallImage, type PublisherConfig } from '../../lambda/fraud-publisher/core';
import { createHandler } from '../../lambda/fraud-publisher/handler';
import type { PublisherSenders } from '../../lambda/fraud-publisher/publish';
import { sdkSenders } from '../../lambda/fraud-publisher/sdk-senders';
import { coldRequire, ensureBundled } from '../support/cold-start';
import { alertImage, makeAlert, makeResult, streamRecord, windowImage } from '../support/fraud-publisher-fixtures';
import { createHashKeyTable, createKinesaliteStream, dynamoClient, kinesisClient, localAwsEndpoints, readKinesaliteStream } from './local-aws';

let ddb: DynamoDBClient;
let kinesis: KinesisClient;
const created: string[] = [];
let n = 0;

beforeAll(() => {
  const endpoints = localAwsEndpoints();
  ddb = dynamoClient(endpoints.dynamodb);
  kinesis = kinesisClient(endpoints.kinesis);
});

afterAll(() => {
  ddb?.destroy();
  kinesis?.destroy();
});

afterEach(async () => {
  for (const name of created.splice(0)) await kinesis.send(new DeleteStreamCommand({ StreamName: name }));
});

async function createResultsTable(TableName: string): Promise<string> {
  await ddb.send(new CreateTableCommand({
    TableName,
    AttributeDefinitions: [{ AttributeName: 'customer_id', AttributeType: 'S' }, { AttributeName: 'window', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'customer_id', KeyType: 'HASH' }, { AttributeName: 'window', KeyType: 'RANGE' }],
    BillingMode: 'PAY_PER_REQUEST',
  }));
  for (let i = 0; (await ddb.send(new DescribeTableCommand({ TableName }))).Table?.TableStatus !== 'ACTIVE'; i++) {
    if (i > 100) throw new Error(`table ${TableName} never became ACTIVE`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return TableName;
}

interface Setup {
  config: PublisherConfig;
  lake: string;
  sns: Parameters<PublisherSenders['publishBatch']>[0][];
  events: Parameters<PublisherSenders['putEvents']>[0][];
  metrics: Record<string, any>[];
  handle(records: unknown[]): Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
}

async function setup(overrides: Partial<PublisherConfig> = {}): Promise<Setup> {
  n++;
  const stateTable = await createHashKeyTable(ddb, `fraud-state-${n}-${Date.now()}`);
  const resultsTable = await createResultsTable(`fraud-results-${n}-${Date.now()}`);
  const lake = await createKinesaliteStream(kinesis, 'fraud-lake', 1, created);
  const config: PublisherConfig = {
    alertTopicArn: 'arn:aws:sns:us-east-1:123456789012:alerts', alertEventBusName: 'fraud', resultsTable, lakeStream: lake.name, stateTable,
    metricsNamespace: 'StreamingPipelines/Fraud', pipelineName: 'Test/Fraud', ...overrides,
  };
  const sns: Setup['sns'] = [];
  const events: Setup['events'] = [];
  const metrics: Record<string, any>[] = [];
  const senders: PublisherSenders = {
    ...sdkSenders({ dynamodb: ddb, kinesis }),
    publishBatch: async (input) => {
      sns.push(input);
      return { Successful: input.PublishBatchRequestEntries.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}` })), Failed: [] };
    },
    putEvents: async (input) => {
      events.push(input);
      return { FailedEntryCount: 0, Entries: input.Entries.map((_, i) => ({ EventId: `e-${i}` })) };
    },
  };
  const handler = createHandler(config, senders, { log: { log: (l) => metrics.push(JSON.parse(l)), error: () => undefined } });
  return { config, lake: lake.name, sns, events, metrics, handle: (records) => handler({ Records: records }, { getRemainingTimeInMillis: () => 60_000 }) };
}

/** Writes an item to the state table and returns the stream record its write produces. */
async function scorerWrites(TableName: string, image: Record<string, AttributeValue>, eventName: 'INSERT' | 'MODIFY') {
  await ddb.send(new PutItemCommand({ TableName, Item: image }));
  return streamRecord(eventName, { pk: image.pk }, image);
}

const getItem = async (TableName: string, Key: Record<string, AttributeValue>) => (await ddb.send(new GetItemCommand({ TableName, Key, ConsistentRead: true }))).Item;

describe('fraud publisher on dynalite and kinesalite', () => {
  test('publishes alerts and marks their outbox items, upserts results and puts lake records; a redelivery is detected by the conditions', async () => {
    const s = await setup();
    const alerts = [makeAlert('c1'), makeAlert('c2', undefined, 'sum_above_100')];
    const results = [makeResult('c1'), makeResult('c2', undefined, { amount_sum: 1e21, amount_avg: 1e21 / 3 })];
    const records = [
      await scorerWrites(s.config.stateTable, alertImage(alerts[0]) as Record<string, AttributeValue>, 'INSERT'),
      await scorerWrites(s.config.stateTable, windowImage(results[0], 'closed') as Record<string, AttributeValue>, 'MODIFY'),
      await scorerWrites(s.config.stateTable, alertImage(alerts[1]) as Record<string, AttributeValue>, 'INSERT'),
      await scorerWrites(s.config.stateTable, windowImage(results[1], 'closed') as Record<string, AttributeValue>, 'INSERT'),
    ];

    expect(await s.handle(records)).toEqual({ batchItemFailures: [] });
    expect(s.sns.flatMap((c) => c.PublishBatchRequestEntries.map((e) => JSON.parse(e.Message)))).toEqual(alerts);
    expect(s.events.flatMap((c) => c.Entries.map((e) => JSON.parse(e.Detail)))).toEqual(alerts);
    for (const alert of alerts) {
      const outbox = await getItem(s.config.stateTable, { pk: { S: `a#${alert.alert_id}` } });
      expect(outbox?.deliveredAt?.N).toMatch(/^\d{13}$/);
      expect(outbox?.alert?.S).toBe(JSON.stringify(alert));
    }
    for (const result of results) {
      const row = await getItem(s.config.resultsTable, { customer_id: { S: result.customer_id }, window: { S: `${result.window_start}/${result.window_end}` } });
      // Compared as values: DynamoDB normalizes a number's text (1e+21 is stored as 1000000000000000000000).
      expect(unmarshallImage(row)).toEqual(unmarshallImage(resultItem(result)));
      expect(unmarshallImage(row)).toMatchObject({ ...result, window: `${result.window_start}/${result.window_end}` });
    }
    const lake = await readKinesaliteStream(kinesis, s.lake);
    expect(lake.map((r) => r.partitionKey)).toEqual(['c1', 'c2']);
    expect(lake.map((r) => JSON.parse(r.data.toString('utf8')))).toEqual(results.map((r) => lakeRow(r)));
    expect(s.metrics[0]).toMatchObject({ AlertsPublished: 2, AlertRedeliveries: 0, ResultsPublished: 2, ResultRedeliveries: 0 });

    // The ESM delivers the same records again (a retry after a failure later in the batch).
    const firstMarks = await Promise.all(alerts.map((a) => getItem(s.config.stateTable, { pk: { S: `a#${a.alert_id}` } })));
    expect(await s.handle(records)).toEqual({ batchItemFailures: [] });
    expect(s.metrics[1]).toMatchObject({ AlertsPublished: 2, AlertRedeliveries: 2, ResultsPublished: 2, ResultRedeliveries: 2 });
    const secondMarks = await Promise.all(alerts.map((a) => getItem(s.config.stateTable, { pk: { S: `a#${a.alert_id}` } })));
    expect(secondMarks).toEqual(firstMarks);
    // The lake is at-least-once: the redelivered results are put again, consumers dedupe on result_id.
    expect((await readKinesaliteStream(kinesis, s.lake)).map((r) => JSON.parse(r.data.toString('utf8')).result_id))
      .toEqual([...results, ...results].map((r) => r.result_id));
    expect((await ddb.send(new ScanCommand({ TableName: s.config.resultsTable }))).Count).toBe(2);
  });

  test('an outbox item already deleted by TTL is not recreated by the deliveredAt mark', async () => {
    const s = await setup();
    const alert = makeAlert('c9');
    const record = await scorerWrites(s.config.stateTable, alertImage(alert) as Record<string, AttributeValue>, 'INSERT');
    await ddb.send(new DeleteItemCommand({ TableName: s.config.stateTable, Key: { pk: { S: `a#${alert.alert_id}` } } }));
    expect(await s.handle([record])).toEqual({ batchItemFailures: [] });
    expect(s.sns).toHaveLength(1);
    expect(await getItem(s.config.stateTable, { pk: { S: `a#${alert.alert_id}` } })).toBeUndefined();
    expect(s.metrics[0]).toMatchObject({ AlertsPublished: 1, AlertRedeliveries: 1 });
  });

  test('a lake write that fails after the table write is reported; the redelivery finds the row, counts it, and completes the lake', async () => {
    const s = await setup({ lakeStream: 'no-such-stream' });
    const results = [makeResult('c1'), makeResult('c2')];
    const records = [];
    for (const r of results) records.push(await scorerWrites(s.config.stateTable, windowImage(r, 'closed') as Record<string, AttributeValue>, 'MODIFY'));
    expect(await s.handle(records)).toEqual({ batchItemFailures: [{ itemIdentifier: records[0].dynamodb.SequenceNumber }] });
    expect((await ddb.send(new ScanCommand({ TableName: s.config.resultsTable }))).Count).toBe(2);
    expect(s.metrics[0]).toMatchObject({ ResultsPublished: 0, ResultRedeliveries: 0, failedRecords: 2 });

    const fixed = await setup({ resultsTable: s.config.resultsTable, stateTable: s.config.stateTable });
    expect(await fixed.handle(records)).toEqual({ batchItemFailures: [] });
    expect(fixed.metrics[0]).toMatchObject({ ResultsPublished: 2, ResultRedeliveries: 2 });
    expect((await readKinesaliteStream(kinesis, fixed.lake)).map((r) => JSON.parse(r.data.toString('utf8')).result_id)).toEqual(results.map((r) => r.result_id));
  });

  test('a result with a number DynamoDB cannot hold is stored with that number as text, not refused', async () => {
    const s = await setup();
    const result = makeResult('c7', undefined, { amount_sum: 1e200, amount_max: 1e200, amount_avg: 1e200 / 3 });
    // As a number, the row would be refused: the write could never succeed and would block the stream.
    await expect(ddb.send(new PutItemCommand({ TableName: s.config.resultsTable, Item: { ...resultItem(result), customer_id: { S: 'probe' }, amount_sum: { N: '1e+200' } } })))
      .rejects.toMatchObject({ name: 'ValidationException' });
    const record = await scorerWrites(s.config.stateTable, windowImage(result, 'closed') as Record<string, AttributeValue>, 'MODIFY');
    expect(await s.handle([record])).toEqual({ batchItemFailures: [] });
    const row = await getItem(s.config.resultsTable, { customer_id: { S: 'c7' }, window: { S: `${result.window_start}/${result.window_end}` } });
    expect(row?.amount_sum).toEqual({ S: '1e+200' });
    expect(row?.event_count).toEqual({ N: '3' });
  });
});

const SOURCE = path.join(__dirname, '..', '..', 'lambda', 'fraud-publisher', 'index');
const ASSET = path.join(__dirname, '..', '..', 'assets', 'lambda', 'fraud-publisher', 'index.js');
const ENV = { RESULTS_TABLE: 'r', STATE_TABLE: 's', ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:1:t', LAKE_STREAM_NAME: 'l', PIPELINE_NAME: 'P', AWS_REGION: 'us-east-1' };
type Index = { handler: (event: unknown, context: unknown) => Promise<unknown> };

describe.each([['index.ts', SOURCE], ['bundled asset', ASSET]])('fraud publisher %s', (_, modulePath) => {
  beforeAll(() => {
    if (modulePath === ASSET) ensureBundled(ASSET);
  });

  test('refuses to start without its tables, naming the variable', () => {
    expect(() => coldRequire(modulePath, { ...ENV, RESULTS_TABLE: undefined })).toThrow('RESULTS_TABLE is required');
    expect(() => coldRequire(modulePath, { ...ENV, STATE_TABLE: undefined })).toThrow('STATE_TABLE is required');
  });

  test('acknowledges a batch of TTL removals without a call, and writes its metrics line', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const { handler } = coldRequire<Index>(modulePath, ENV);
      const event = { Records: [streamRecord('REMOVE', { pk: { S: 'a#x' } }), streamRecord('REMOVE', { pk: { S: 'w#1#2#c' } })] };
      expect(await handler(event, { getRemainingTimeInMillis: () => 60_000 })).toEqual({ batchItemFailures: [] });
      expect(JSON.parse(log.mock.calls[0][0])).toMatchObject({ Pipeline: 'P', AlertsPublished: 0, ResultsPublished: 0, records: 2, ignored: 2 });
    } finally {
      log.mockRestore();
    }
  });
});
