/**
 * The fraud scorer and closer against dynalite (a DynamoDB implementation that is not ours), with the
 * state table as FraudPipeline creates it: hash key `pk`, TTL on `expiresAt`, and the sparse GSI `open`
 * (openShard, end). dynalite lacks TransactWriteItems: test/support/dynalite-transactions.ts emulates it,
 * and passes BatchGetItem, Query and UpdateItem through.
 *
 * DynamoDB calls are counted two ways, as bench/hot-path.ts does: the requests the engine sends (what
 * DynamoDB would receive: `DynaliteTransactions.apiCalls`), and every HTTP request dynalite's own server
 * receives (emulation included), which must equal what the adapter says it sent. The engine's results
 * and alerts are checked against the reference model on the same input.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, QueryCommand, ScanCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { makeHandler as makeCloser } from '../../lambda/fraud-closer/index';
import { makeHandler as makeScorer } from '../../lambda/fraud-scorer/index';
import type { FraudSpec } from '../../lambda/shared/fraud/spec';
import { compileFraudSpec } from '../../lambda/shared/fraud/validate-spec';
import { prng } from '../../bench/prng';
import { DynaliteTransactions } from '../support/dynalite-transactions';
import { fraudSpec, kinesisRecord, STREAM_ARN, VirtualClock } from '../support/fraud-engine';
import { runFraudModel } from '../support/fraud-model';
import type { FraudInputItem } from '../support/fraud-model-types';
import { dynamoClient, getS3Object, listS3Keys, localAwsEndpoints, LOOPBACK, s3Client } from './local-aws';

const SHARD = 'shardId-000000000000';
const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);

/** A dynalite server of this test's own, on 127.0.0.1, counting every request by operation. */
async function countedDynalite(): Promise<{ server: Server; endpoint: string; counts: Map<string, number> }> {
  const dynalite = require('dynalite') as (o: Record<string, unknown>) => Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const counts = new Map<string, number>();
  server.on('request', (req: IncomingMessage) => {
    const target = String(req.headers['x-amz-target'] ?? 'unknown').replace(/^DynamoDB_\d+\./, '');
    counts.set(target, (counts.get(target) ?? 0) + 1);
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return { server, endpoint: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`, counts };
}

async function createStateTable(ddb: DynamoDBClient): Promise<string> {
  const TableName = `fraud-state-${randomUUID().slice(0, 8)}`;
  await ddb.send(new CreateTableCommand({
    TableName, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'openShard', AttributeType: 'S' }, { AttributeName: 'end', AttributeType: 'N' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [{ IndexName: 'open', KeySchema: [{ AttributeName: 'openShard', KeyType: 'HASH' }, { AttributeName: 'end', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
  }));
  for (let i = 0; (await ddb.send(new DescribeTableCommand({ TableName }))).Table?.TableStatus !== 'ACTIVE'; i++) {
    if (i > 100) throw new Error('table never became ACTIVE');
    await new Promise((r) => setTimeout(r, 20));
  }
  return TableName;
}

/** 1,000 payments over 100 customers, 240 ms apart (4 minutes), each arriving at its event time. */
function payments(seed: number): FraudInputItem[] {
  const r = prng(seed);
  return Array.from({ length: 1000 }, (_, i) => ({
    shard: SHARD, arrivalMs: T0 + i * 240,
    data: { id: `e${i}`, customer: { id: `c${Math.floor(r() * 100)}` }, ts: T0 + i * 240, amount: Math.round(r() * 5000) / 100, merchant: `m${Math.floor(r() * 5)}` },
  }));
}

let dyn: Awaited<ReturnType<typeof countedDynalite>>;
let ddb: DynamoDBClient;

beforeAll(async () => {
  dyn = await countedDynalite();
  ddb = dynamoClient(dyn.endpoint);
});
afterAll(async () => {
  ddb.destroy();
  dyn.server.closeAllConnections();
  await new Promise((r) => dyn.server.close(r));
});

interface Run {
  readonly apiCalls: number;
  readonly byOperation: Record<string, number>;
  readonly results: unknown[];
  readonly alerts: unknown[];
}

/** Scores `input` in batches of 100 (the clock is each batch's first arrival), then ticks the quiet shard so every window closes. */
async function run(spec: FraudSpec, input: FraudInputItem[], table: string): Promise<Run> {
  const compiled = compileFraudSpec(spec);
  const sender = new DynaliteTransactions(ddb);
  const calls: Record<string, number> = {};
  const counted = { send: (c: object) => ((calls[c.constructor.name.replace('Command', '')] = (calls[c.constructor.name.replace('Command', '')] ?? 0) + 1), sender.send(c as never)) };
  const clock = new VirtualClock(T0);
  const s3 = { send: async () => ({}) };
  const scorer = makeScorer({ spec: compiled, table, lateBucket: 'l', failureBucket: 'f', namespace: 'NS', pipeline: 'P' }, { dynamo: counted, s3, now: clock.now, sleep: clock.sleep, log: () => undefined });
  const serverBefore = [...dyn.counts.values()].reduce((a, b) => a + b, 0);
  const dynaliteBefore = sender.dynaliteCalls;
  for (let i = 0; i < input.length; i += 100) {
    const batch = input.slice(i, i + 100) as { arrivalMs: number; data: unknown }[];
    clock.ms = batch[0].arrivalMs;
    const out = await scorer({ Records: batch.map((x) => kinesisRecord(x.data, x.arrivalMs, SHARD)) }, { getRemainingTimeInMillis: () => 60_000 });
    expect(out.batchItemFailures).toEqual([]);
  }
  const apiCalls = sender.apiCalls;
  // Every HTTP request dynalite received is one the adapter sent (no call goes around the count).
  expect([...dyn.counts.values()].reduce((a, b) => a + b, 0) - serverBefore).toBe(sender.dynaliteCalls - dynaliteBefore);
  const last = input[input.length - 1] as { arrivalMs: number };
  clock.ms = last.arrivalMs + spec.idleTimeoutMs + spec.window.sizeMs + spec.allowedLatenessMs + 1;
  const closer = makeCloser({ spec: compiled, table, namespace: 'NS', pipeline: 'P' }, { dynamo: sender, now: clock.now, sleep: clock.sleep, log: () => undefined });
  expect((await closer()).idleTicks).toBe(1);
  const items = (await ddb.send(new ScanCommand({ TableName: table }))).Items as Record<string, { S?: string }>[];
  const results = items.filter((i) => i.status?.S === 'closed').map((i) => JSON.parse(i.result.S as string))
    .sort((a, b) => a.customer_id.localeCompare(b.customer_id) || a.window_start.localeCompare(b.window_start));
  const alerts = items.filter((i) => i.kind?.S === 'alert').map((i) => JSON.parse(i.alert.S as string)).sort((a, b) => a.alert_id.localeCompare(b.alert_id));
  return { apiCalls, byOperation: calls, results, alerts };
}

function modelOf(spec: FraudSpec, input: FraudInputItem[], tickAt: number) {
  const out = runFraudModel(spec, [...input, { shard: SHARD, tick: { nowMs: tickAt } }]);
  return { results: JSON.parse(JSON.stringify(out.results)), alerts: [...out.alerts].sort((a, b) => a.alert_id.localeCompare(b.alert_id)) };
}

const rules: FraudSpec['rules'] = [
  { id: 'count_above_12', feature: 'count', threshold: 12, weight: 1 },
  { id: 'sum_above_300', feature: 'sum', threshold: 300, weight: 1 },
  { id: 'distinct_merchant_above_3', feature: 'distinct', attribute: 'merchant', threshold: 3, weight: 1 },
];

test('tumbling, 1,000 events over 100 customers in batches of 100: at most 30 DynamoDB calls, and the model\'s results and alerts', async () => {
  const spec = fraudSpec({ rules, schema: { ...fraudSpec().schema, attributes: ['merchant'] }, distinctCap: 10 });
  const input = payments(7);
  const table = await createStateTable(ddb);
  const got = await run(spec, input, table);
  console.log(`fraud scorer, tumbling 60 s, 1,000 events / 100 customers, batches of 100: ${got.apiCalls} DynamoDB calls ${JSON.stringify(got.byOperation)}`);
  expect(got.apiCalls).toBeLessThanOrEqual(30);
  const model = modelOf(spec, input, T0 + 999 * 240 + spec.idleTimeoutMs + spec.window.sizeMs + spec.allowedLatenessMs + 1);
  expect(got.results).toEqual(model.results);
  expect(got.alerts).toEqual(model.alerts);
  expect(got.results.length).toBeGreaterThan(300);
});

test('hopping (size = 3 × slide): the model\'s results and alerts; calls measured', async () => {
  const spec = fraudSpec({ rules, schema: { ...fraudSpec().schema, attributes: ['merchant'] }, distinctCap: 10, window: { sizeMs: 60_000, slideMs: 20_000 } });
  const input = payments(8);
  const table = await createStateTable(ddb);
  const got = await run(spec, input, table);
  console.log(`fraud scorer, hopping 60 s / 20 s, 1,000 events / 100 customers, batches of 100: ${got.apiCalls} DynamoDB calls ${JSON.stringify(got.byOperation)}`);
  const model = modelOf(spec, input, T0 + 999 * 240 + spec.idleTimeoutMs + spec.window.sizeMs + spec.allowedLatenessMs + 1);
  expect(got.results).toEqual(model.results);
  expect(got.alerts).toEqual(model.alerts);
});

test('invalid records land in the failure bucket (s3rver) under the batch\'s key', async () => {
  const s3 = s3Client(localAwsEndpoints().s3);
  const bucket = `fraud-failures-${randomUUID().slice(0, 8)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const table = await createStateTable(ddb);
  const clock = new VirtualClock(T0);
  const scorer = makeScorer({ spec: compileFraudSpec(fraudSpec()), table, lateBucket: bucket, failureBucket: bucket, namespace: 'NS', pipeline: 'P' },
    { dynamo: new DynaliteTransactions(ddb), s3, now: clock.now, sleep: clock.sleep, log: () => undefined });
  const records = [kinesisRecord('not json', T0, SHARD), kinesisRecord({ id: 'x', customer: { id: 'c' }, ts: T0, amount: null }, T0, SHARD)];
  expect((await scorer({ Records: records }, { getRemainingTimeInMillis: () => 60_000 })).batchItemFailures).toEqual([]);
  const keys = await listS3Keys(s3, bucket);
  expect(keys).toEqual([`invalid/2026/12/03/${SHARD}/${records[0].kinesis.sequenceNumber}-${records[1].kinesis.sequenceNumber}.jsonl`]);
  const lines = (await getS3Object(s3, bucket, keys[0])).toString().trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.map((l) => l.reason)).toEqual(['invalid_json', 'missing_amount']);
  s3.destroy();
});

test('DynaliteTransactions passes Query (on a GSI) and UpdateItem through to dynalite, counting them', async () => {
  const table = await createStateTable(ddb);
  const sender = new DynaliteTransactions(ddb);
  await sender.send(new UpdateItemCommand({ TableName: table, Key: { pk: { S: 'shards' } }, UpdateExpression: 'ADD #k :k', ExpressionAttributeNames: { '#k': 'keys' }, ExpressionAttributeValues: { ':k': { SS: [`${STREAM_ARN}|${SHARD}`] } } }));
  const out = (await sender.send(new QueryCommand({ TableName: table, IndexName: 'open', KeyConditionExpression: 'openShard = :s', ExpressionAttributeValues: { ':s': { S: 'x' } } }))) as { Items: unknown[] };
  expect(out.Items).toEqual([]);
  expect([sender.apiCalls, sender.dynaliteCalls]).toEqual([2, 2]);
});
