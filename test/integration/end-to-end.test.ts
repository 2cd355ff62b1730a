/**
 * End to end on 127.0.0.1: records are put into kinesalite (a 2-shard stream,
 * several partition keys, two KPL aggregates built by the independent encoder
 * aws-kinesis-agg, one malformed record), read back per shard with
 * GetShardIterator/GetRecords, turned into the event a Lambda Kinesis
 * event-source mapping delivers, and processed by the public runtime entry
 * `batchHandler` (lambda/shared/runtime.ts) with idempotency on a dynalite
 * table. dynalite lacks TransactWriteItems, so the store's client is
 * DynaliteTransactions (test/support/dynalite-transactions.ts).
 *
 * Lambda is simulated where it matters: one invocation per shard (a batch of
 * an event-source mapping holds one shard), shards invoked concurrently, each
 * invocation with its own awsRequestId, and the checkpoint rule of
 * ReportBatchItemFailures: a shard resumes at the lowest reported sequence
 * number; the records before it are checkpointed, it and everything after it
 * are delivered again. The batch stats are read from the EMF line the handler
 * logs per invocation, which is all batchHandler exposes besides the partial
 * batch response.
 *
 * kinesalite allows 10 shards per account and the whole jest run shares one
 * kinesalite, so each test's stream is deleted after it.
 */
import { randomUUID } from 'node:crypto';
import { type AttributeValue, type DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  DeleteStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import * as kinesisAgg from 'aws-kinesis-agg';
import type { KinesisStreamEvent } from 'aws-lambda';
import { payloadHash } from '../../lambda/shared/idempotency/payload-hash';
import { batchHandler, type DeadLetterEntry, type RecordContext } from '../../lambda/shared/runtime';
import { DynaliteTransactions } from '../support/dynalite-transactions';
import { createHashKeyTable, createKinesaliteStream, dynamoClient, kinesisClient, localAwsEndpoints, REGION } from './local-aws';

const FUNCTION_NAME = 'e2e-consumer';
const ROLE_ARN = 'arn:aws:iam::000000000000:role/e2e-consumer';

let kinesis: KinesisClient;
let ddb: DynamoDBClient;

beforeAll(() => {
  const endpoints = localAwsEndpoints();
  kinesis = kinesisClient(endpoints.kinesis);
  ddb = dynamoClient(endpoints.dynamodb);
});

afterAll(() => {
  kinesis?.destroy();
  ddb?.destroy();
});

const streams: string[] = [];
let logLines: unknown[] = [];
let warnings: unknown[][] = [];

beforeEach(() => {
  logLines = [];
  warnings = [];
  jest.spyOn(console, 'log').mockImplementation((line: unknown) => {
    logLines.push(line);
  });
  // The store reports keys it left undecided with console.warn: none are expected here.
  jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    warnings.push(args);
  });
});

afterEach(async () => {
  jest.restoreAllMocks();
  for (const name of streams.splice(0)) await kinesis.send(new DeleteStreamCommand({ StreamName: name }));
});

// ---------------------------------------------------------------- the events

interface Payload {
  readonly event_id: string;
  readonly amount: number;
}

interface Entry {
  readonly partitionKey: string;
  readonly data: Buffer;
  /** The event_ids the record carries, in order: one for a plain record, several for an aggregate, none when malformed. */
  readonly ids: string[];
}

/** A valid user record: where it was put, and the effect it must have. */
interface Expected {
  readonly partitionKey: string;
  readonly amount: number;
  readonly bytes: Buffer;
}

interface Dataset {
  /** Kinesis records, in PutRecords order. */
  readonly entries: Entry[];
  /** Every valid user record (plain or inside an aggregate), by event_id. */
  readonly expected: Map<string, Expected>;
  /** The malformed record's bytes. */
  readonly malformed: Buffer;
  /** The event_ids inside the first aggregate, in order. */
  readonly aggregated: string[];
}

const KEYS = ['tenant-a', 'tenant-b', 'tenant-c', 'région-é', '租户-d', '😀-e'];
const json = (p: Payload): Buffer => Buffer.from(JSON.stringify(p));

/** aws-kinesis-agg's `aggregate`; the records must fit one aggregate. */
function aggregate(records: Entry[]): Promise<Entry> {
  return new Promise((resolve, reject) => {
    const out: Entry[] = [];
    kinesisAgg.aggregate(
      records.map((r) => ({ partitionKey: r.partitionKey, data: r.data })),
      (encoded, done) => {
        out.push({ partitionKey: encoded.partitionKey, data: encoded.data, ids: records.flatMap((r) => r.ids) });
        done();
      },
      () => (out.length === 1 ? resolve(out[0]) : reject(new Error(`expected one aggregate, got ${out.length}`))),
      (error) => reject(error),
    );
  });
}

async function dataset(): Promise<Dataset> {
  const expected = new Map<string, Expected>();
  const record = (event_id: string, amount: number, partitionKey: string): Entry => {
    const bytes = json({ event_id, amount });
    expected.set(event_id, { partitionKey, amount, bytes });
    return { partitionKey, data: bytes, ids: [event_id] };
  };
  const plain = Array.from({ length: 30 }, (_, i) => record(`evt-p-${String(i).padStart(2, '0')}`, 100 + i, KEYS[i % KEYS.length]));
  const aggA = await aggregate(Array.from({ length: 4 }, (_, i) => record(`evt-a-${i}`, 1000 + i, KEYS[(i + 1) % KEYS.length])));
  const aggB = await aggregate(Array.from({ length: 3 }, (_, i) => record(`evt-b-${i}`, 2000 + i, KEYS[(i + 4) % KEYS.length])));
  const malformed = Buffer.from('{"event_id":"evt-bad","amount":');
  const entries = [
    ...plain.slice(0, 12), aggA, { partitionKey: KEYS[0], data: malformed, ids: [] }, ...plain.slice(12, 24), aggB, ...plain.slice(24),
  ];
  return { entries, expected, malformed, aggregated: aggA.ids };
}

// ---------------------------------------------------------------- kinesalite

interface StreamRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly arrival: Date;
}

/** Records per shard, each shard in sequence order. */
type Shards = Map<string, StreamRecord[]>;


/** One PutRecords call; returns where each entry landed. */
async function put(name: string, entries: Entry[]): Promise<{ shardId: string; sequenceNumber: string }[]> {
  const out = await kinesis.send(new PutRecordsCommand({ StreamName: name, Records: entries.map((e) => ({ PartitionKey: e.partitionKey, Data: e.data })) }));
  expect(out.FailedRecordCount ?? 0).toBe(0);
  return (out.Records ?? []).map((r) => ({ shardId: r.ShardId as string, sequenceNumber: r.SequenceNumber as string }));
}

/** Every record of every shard, from TRIM_HORIZON or after a shard's given sequence number. */
async function read(name: string, after: Map<string, string> = new Map()): Promise<Shards> {
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: name }))).Shards ?? [];
  const out: Shards = new Map();
  for (const shard of shards) {
    const shardId = shard.ShardId as string;
    const from = after.get(shardId);
    let iterator = (await kinesis.send(new GetShardIteratorCommand({
      StreamName: name,
      ShardId: shardId,
      ...(from === undefined ? { ShardIteratorType: 'TRIM_HORIZON' } : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: from }),
    }))).ShardIterator;
    const records: StreamRecord[] = [];
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
      for (const r of page.Records ?? []) {
        records.push({
          shardId,
          sequenceNumber: r.SequenceNumber as string,
          partitionKey: r.PartitionKey as string,
          data: Buffer.from(r.Data as Uint8Array),
          arrival: r.ApproximateArrivalTimestamp as Date,
        });
      }
      if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
      iterator = page.NextShardIterator;
    }
    out.set(shardId, records);
  }
  return out;
}

const seq = (s: string): bigint => BigInt(s);
const all = (shards: Shards): StreamRecord[] => [...shards.values()].flat();

/** The event a Kinesis event-source mapping delivers for one shard's batch. */
function kinesisEvent(arn: string, records: StreamRecord[]): KinesisStreamEvent {
  return {
    Records: records.map((r) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.partitionKey,
        sequenceNumber: r.sequenceNumber,
        data: r.data.toString('base64'),
        approximateArrivalTimestamp: r.arrival.getTime() / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${r.shardId}:${r.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: ROLE_ARN,
      awsRegion: REGION,
      eventSourceARN: arn,
    })),
  };
}

// ---------------------------------------------------------------- the consumer and Lambda

/** The function's effect: sum each event's amount, counting how often each event was applied. */
class Consumer {
  readonly applied = new Map<string, number>();
  readonly totals = new Map<string, number>();
  /** The partition key and shard the handler was given for each event. */
  readonly seenAt = new Map<string, { lane: string; partitionKey?: string }>();
  /** While on, applying any of `failFor` throws (a transient failure). */
  failing = false;

  /** @param failFor event ids whose application throws while `failing` is on */
  constructor(private readonly failFor: ReadonlySet<string> = new Set()) {}

  readonly handle = async (record: unknown, ctx: RecordContext): Promise<void> => {
    const { event_id, amount } = record as Payload;
    if (this.failing && this.failFor.has(event_id)) throw new Error(`transient failure applying ${event_id}`);
    await new Promise((r) => setImmediate(r)); // an effect that yields, so the lane's chains interleave
    this.applied.set(event_id, (this.applied.get(event_id) ?? 0) + 1);
    this.totals.set(event_id, (this.totals.get(event_id) ?? 0) + amount);
    this.seenAt.set(event_id, { lane: ctx.lane, partitionKey: ctx.partitionKey });
  };
}

type Handler = ReturnType<typeof batchHandler>;

interface Metrics {
  Records: number;
  Processed: number;
  Failures: number;
  DuplicatesSkipped: number;
  DeadLettered: number;
  Redelivered: number;
  failuresByReason: Record<string, number>;
}

interface Invocation {
  readonly shardId: string;
  readonly requestId: string;
  readonly delivered: StreamRecord[];
  /** The reported sequence numbers. */
  readonly failures: string[];
}

interface Round {
  readonly invocations: Invocation[];
  /** The EMF lines of the round, summed (as CloudWatch would). */
  readonly metrics: Metrics;
}

function sumMetrics(lines: Record<string, unknown>[]): Metrics {
  const sum: Metrics = { Records: 0, Processed: 0, Failures: 0, DuplicatesSkipped: 0, DeadLettered: 0, Redelivered: 0, failuresByReason: {} };
  for (const line of lines) {
    for (const k of ['Records', 'Processed', 'Failures', 'DuplicatesSkipped', 'DeadLettered', 'Redelivered'] as const) sum[k] += line[k] as number;
    for (const [reason, n] of Object.entries(line.failuresByReason as Record<string, number>)) sum.failuresByReason[reason] = (sum.failuresByReason[reason] ?? 0) + n;
  }
  return sum;
}

/** Invokes the handler once per shard with a batch, all shards at once, as the mappings of a stream do. */
async function deliver(handler: Handler, arn: string, batches: Shards): Promise<Round> {
  logLines = [];
  const invocations = await Promise.all([...batches].filter(([, records]) => records.length > 0).map(async ([shardId, delivered]) => {
    const requestId = randomUUID();
    const response = await handler(kinesisEvent(arn, delivered), { awsRequestId: requestId, functionName: FUNCTION_NAME, getRemainingTimeInMillis: () => 60_000 });
    const failures = response.batchItemFailures.map((f) => f.itemIdentifier);
    // Kinesis identifiers are the delivered sequence numbers (anything else would make Lambda retry the whole batch).
    for (const id of failures) expect(delivered.map((r) => r.sequenceNumber)).toContain(id);
    return { shardId, requestId, delivered, failures: failures as string[] };
  }));
  const emf = logLines.map((l) => JSON.parse(String(l)) as Record<string, unknown>).filter((l) => l._aws !== undefined);
  expect(emf).toHaveLength(invocations.length);
  for (const line of emf) expect(line).toMatchObject({ FunctionName: FUNCTION_NAME, Source: 'kinesis' });
  expect(warnings).toEqual([]);
  return { invocations, metrics: sumMetrics(emf) };
}

/**
 * Lambda's checkpoint rule: per shard, nothing more when nothing was
 * reported; otherwise everything from the lowest reported sequence number on.
 */
function redelivery(round: Round): Shards {
  const next: Shards = new Map();
  for (const { shardId, delivered, failures } of round.invocations) {
    if (failures.length === 0) continue;
    const lowest = failures.map(seq).reduce((a, b) => (a < b ? a : b));
    next.set(shardId, delivered.filter((r) => seq(r.sequenceNumber) >= lowest));
  }
  return next;
}

/** Delivers and redelivers until no shard reports a failure. */
async function drain(handler: Handler, arn: string, first: Shards, maxRounds = 5): Promise<Round[]> {
  const rounds: Round[] = [];
  for (let batches = first; batches.size > 0; batches = redelivery(rounds[rounds.length - 1])) {
    if (rounds.length === maxRounds) throw new Error(`not drained after ${maxRounds} deliveries`);
    rounds.push(await deliver(handler, arn, batches));
  }
  return rounds;
}

// ---------------------------------------------------------------- the idempotency table

type Item = Record<string, AttributeValue>;

/** Every item of the table, by key. */
async function scan(tableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => ((a.pk.S as string) < (b.pk.S as string) ? -1 : 1));
}

async function getItem(tableName: string, key: string): Promise<Item | undefined> {
  return (await ddb.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: key } }, ConsistentRead: true }))).Item;
}

let tables = 0;

interface Setup {
  readonly data: Dataset;
  readonly stream: { name: string; arn: string };
  readonly shards: Shards;
  readonly tableName: string;
  readonly client: DynaliteTransactions;
  /** The event_ids inside a stream record, in order (one for a plain record, several for an aggregate, none for the malformed one). */
  readonly idsOf: (r: StreamRecord) => string[];
  readonly bad: StreamRecord;
  readonly handler: (consumer: Consumer, deadLetters?: DeadLetterEntry[]) => Handler;
}

async function setup(): Promise<Setup> {
  const data = await dataset();
  const stream = await createKinesaliteStream(kinesis, 'e2e', 2, streams);
  const landed = await put(stream.name, data.entries);
  const shards = await read(stream.name);

  // What kinesalite holds is what was put: every record once, with its partition key and bytes, each shard in put order.
  const ids = new Map<string, string[]>();
  data.entries.forEach((entry, i) => {
    const r = shards.get(landed[i].shardId)?.find((x) => x.sequenceNumber === landed[i].sequenceNumber);
    expect(r && { partitionKey: r.partitionKey, data: r.data.toString('hex') }).toEqual({ partitionKey: entry.partitionKey, data: entry.data.toString('hex') });
    ids.set(landed[i].sequenceNumber, entry.ids);
  });
  for (const [shardId, records] of shards) {
    expect(records.map((r) => r.sequenceNumber)).toEqual(landed.filter((l) => l.shardId === shardId).map((l) => l.sequenceNumber));
  }
  // Both shards carry records (the partition keys hash to both halves of the key space).
  expect([...shards.values()].map((records) => records.length > 0)).toEqual([true, true]);

  const idsOf = (r: StreamRecord): string[] => {
    const found = ids.get(r.sequenceNumber);
    if (found === undefined) throw new Error(`unknown record ${r.sequenceNumber}`);
    return found;
  };
  const bad = all(shards).find((r) => r.data.equals(data.malformed)) as StreamRecord;
  expect(all(shards).flatMap(idsOf).sort()).toEqual([...data.expected.keys()].sort());

  const tableName = await createHashKeyTable(ddb, `e2e-${process.pid}-${Date.now()}-${tables++}`);
  const client = new DynaliteTransactions(ddb);
  const handler = (consumer: Consumer, deadLetters?: DeadLetterEntry[]): Handler => batchHandler(consumer.handle, {
    idempotency: { tableName, keyField: 'event_id', client },
    ...(deadLetters ? { deadLetter: async (entries: DeadLetterEntry[]) => void deadLetters.push(...entries) } : {}),
  });
  return { data, stream, shards, tableName, client, idsOf, bad, handler };
}

/** Every valid event applied exactly once, with its amount, given its own partition key. */
function expectExactlyOnce(consumer: Consumer, data: Dataset): void {
  const ids = [...data.expected.keys()];
  expect(Object.fromEntries(consumer.applied)).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
  expect(Object.fromEntries(consumer.totals)).toEqual(Object.fromEntries(ids.map((id) => [id, data.expected.get(id)?.amount])));
  expect(Object.fromEntries([...consumer.seenAt].map(([id, seen]) => [id, seen.partitionKey]))).toEqual(Object.fromEntries(ids.map((id) => [id, data.expected.get(id)?.partitionKey])));
}

/** One COMPLETED item per valid event_id, with the hash of its bytes, and nothing else. */
async function expectCompletedItems(tableName: string, data: Dataset): Promise<Item[]> {
  const items = await scan(tableName);
  expect(items.map((i) => i.pk.S).sort()).toEqual([...data.expected.keys()].sort());
  for (const i of items) {
    expect({ pk: i.pk.S, status: i.status, payloadHash: i.payloadHash, inProgressExpiry: i.inProgressExpiry })
      .toEqual({ pk: i.pk.S, status: { S: 'COMPLETED' }, payloadHash: { S: payloadHash(data.expected.get(i.pk.S as string)?.bytes as Buffer) }, inProgressExpiry: undefined });
  }
  return items;
}

const malformedEntry = (bad: StreamRecord, data: Dataset): DeadLetterEntry => ({
  lane: bad.shardId, failureId: bad.sequenceNumber, subSequence: 0, reason: 'invalid_json', payload: data.malformed.toString('base64'),
});

// ---------------------------------------------------------------- the tests

describe('kinesalite → Lambda Kinesis event → batchHandler → idempotency on dynalite', () => {
  test('every valid record, plain or KPL-aggregated, is applied exactly once; the malformed one is dead-lettered, not lost', async () => {
    const s = await setup();
    const consumer = new Consumer();
    const deadLetters: DeadLetterEntry[] = [];
    const rounds = await drain(s.handler(consumer, deadLetters), s.stream.arn, s.shards);

    expect(rounds).toHaveLength(1);
    expect(rounds[0].invocations.map((i) => i.failures)).toEqual([[], []]);
    expect(rounds[0].metrics).toEqual({
      Records: s.data.expected.size + 1, Processed: s.data.expected.size, Failures: 0, DuplicatesSkipped: 0, DeadLettered: 1, Redelivered: 0, failuresByReason: {},
    });
    expectExactlyOnce(consumer, s.data);
    // The handler saw each record on the shard it was read from.
    for (const r of all(s.shards)) for (const id of s.idsOf(r)) expect(consumer.seenAt.get(id)?.lane).toBe(r.shardId);
    expect(deadLetters).toEqual([malformedEntry(s.bad, s.data)]);
    await expectCompletedItems(s.tableName, s.data);
    // Per shard invocation: one claim and one complete (TransactWriteItems of ≤ 100 keys each).
    expect(s.client.apiCalls).toBe(2 * 2);
  });

  test('without a dead-letter sink the malformed record holds its shard on every redelivery; nothing after it is applied, nor lost', async () => {
    const s = await setup();
    const consumer = new Consumer();
    const handler = s.handler(consumer);
    const badShard = s.shards.get(s.bad.shardId) as StreamRecord[];
    const before = badShard.filter((r) => seq(r.sequenceNumber) < seq(s.bad.sequenceNumber)).flatMap(s.idsOf);
    const after = badShard.filter((r) => seq(r.sequenceNumber) > seq(s.bad.sequenceNumber)).flatMap(s.idsOf);
    const elsewhere = [...s.shards].filter(([id]) => id !== s.bad.shardId).flatMap(([, records]) => records.flatMap(s.idsOf));
    expect(after.length).toBeGreaterThan(0); // the test needs records behind the malformed one

    let round = await deliver(handler, s.stream.arn, s.shards);
    expect(Object.fromEntries(round.invocations.map((i) => [i.shardId, i.failures]))).toEqual(Object.fromEntries([...s.shards.keys()].map((id) => [id, id === s.bad.shardId ? [s.bad.sequenceNumber] : []])));
    expect([...consumer.applied.keys()].sort()).toEqual([...before, ...elsewhere].sort());
    // The records behind it were claimed, then released (the retry claims them at once): on its shard a claim,
    // a complete and a release; on the other a claim and a complete.
    for (const id of after) expect(await getItem(s.tableName, id)).toBeUndefined();
    expect(s.client.apiCalls).toBe(3 + 2);

    // Lambda retries from the malformed record: it is reported every time, and what follows waits.
    for (let retry = 0; retry < 2; retry++) {
      const batches = redelivery(round);
      expect([...batches.keys()]).toEqual([s.bad.shardId]);
      expect(batches.get(s.bad.shardId)?.[0]).toBe(s.bad);
      const calls = s.client.apiCalls;
      round = await deliver(handler, s.stream.arn, batches);
      expect(round.invocations.map((i) => i.failures)).toEqual([[s.bad.sequenceNumber]]);
      // Each retry claims what lies behind the malformed record and releases it again.
      expect(s.client.apiCalls - calls).toBe(2);
      expect(round.metrics).toEqual({
        Records: after.length + 1, Processed: 0, Failures: 1, DuplicatesSkipped: 0, DeadLettered: 0, Redelivered: after.length, failuresByReason: { invalid_json: 1 },
      });
      expect([...consumer.applied.values()].every((n) => n === 1)).toBe(true);
      expect(consumer.applied.size).toBe(before.length + elsewhere.length);
    }

    // With a dead-letter sink configured, the next delivery settles the shard: nothing was lost on the way.
    const deadLetters: DeadLetterEntry[] = [];
    const rest = await drain(s.handler(consumer, deadLetters), s.stream.arn, redelivery(round));
    expect(rest.map((r) => r.invocations.map((i) => i.failures))).toEqual([[[]]]);
    expect(deadLetters).toEqual([malformedEntry(s.bad, s.data)]);
    expectExactlyOnce(consumer, s.data);
    await expectCompletedItems(s.tableName, s.data);
  });

  test('a handler failure on the first delivery: redelivered from the lowest failed sequence number per shard until drained; every effect exactly once', async () => {
    const s = await setup();
    // The third event inside the first KPL aggregate, and a plain record in the middle of the other shard
    // (or, should that shard hold none, behind the aggregate), so the aggregate's first events apply.
    const aggA = all(s.shards).find((r) => s.idsOf(r)[0] === s.data.aggregated[0]) as StreamRecord;
    const plain = (r: StreamRecord): boolean => s.idsOf(r).length === 1;
    let candidates = all(s.shards).filter((r) => r.shardId !== aggA.shardId && plain(r));
    if (candidates.length < 2) candidates = (s.shards.get(aggA.shardId) as StreamRecord[]).filter((r) => plain(r) && seq(r.sequenceNumber) > seq(aggA.sequenceNumber));
    const plainX = candidates[Math.floor(candidates.length / 2)];
    expect(candidates.length).toBeGreaterThanOrEqual(2);
    const failFor = [s.idsOf(plainX)[0], s.data.aggregated[2]];
    const consumer = new Consumer(new Set(failFor));
    const deadLetters: DeadLetterEntry[] = [];
    const handler = s.handler(consumer, deadLetters);

    consumer.failing = true;
    const first = await deliver(handler, s.stream.arn, s.shards);
    consumer.failing = false;

    // Each shard reports only its lowest failure (the checkpoint), none where nothing failed.
    const lowest = new Map<string, StreamRecord>();
    for (const r of [plainX, aggA]) {
      const known = lowest.get(r.shardId);
      if (!known || seq(r.sequenceNumber) < seq(known.sequenceNumber)) lowest.set(r.shardId, r);
    }
    expect(Object.fromEntries(first.invocations.map((i) => [i.shardId, i.failures]))).toEqual(Object.fromEntries([...s.shards.keys()].map((id) => [id, lowest.has(id) ? [lowest.get(id)?.sequenceNumber] : []])));
    for (const id of failFor) expect(consumer.applied.has(id)).toBe(false);
    // The failed events' claims were released for the retry.
    for (const id of failFor) expect(await getItem(s.tableName, id)).toBeUndefined();
    // The events of the aggregate before the failed one were applied, and completed.
    for (const id of s.data.aggregated.slice(0, 2)) {
      expect(consumer.applied.get(id)).toBe(1);
      expect((await getItem(s.tableName, id))?.status).toEqual({ S: 'COMPLETED' });
    }

    const batches = redelivery(first);
    const rest = await drain(handler, s.stream.arn, batches);
    expect(rest).toHaveLength(1);
    expect(rest[0].invocations.map((i) => i.failures)).toEqual(rest[0].invocations.map(() => []));
    const redelivered = all(batches).flatMap(s.idsOf);
    // What the first delivery applied past a failure (and the aggregate's first events) is skipped, the rest applied.
    expect(rest[0].metrics.Processed + rest[0].metrics.DuplicatesSkipped).toBe(redelivered.length);
    expect(rest[0].metrics.DuplicatesSkipped).toBeGreaterThanOrEqual(2);
    expect(first.metrics.Processed + rest[0].metrics.Processed).toBe(s.data.expected.size);
    expectExactlyOnce(consumer, s.data);

    // The retries' invocations own the events they applied.
    for (const id of failFor) {
      const shardId = all(s.shards).find((r) => s.idsOf(r).includes(id))?.shardId;
      expect((await getItem(s.tableName, id))?.owner).toEqual({ S: rest[0].invocations.find((i) => i.shardId === shardId)?.requestId });
    }
    // The malformed record is dead-lettered on every delivery that carries it: once, or twice when it lay behind a checkpoint.
    const carriedTwice = all(batches).includes(s.bad);
    expect(deadLetters).toEqual(Array(carriedTwice ? 2 : 1).fill(malformedEntry(s.bad, s.data)));
    await expectCompletedItems(s.tableName, s.data);
  });

  test('replay: the same events put again get new sequence numbers and are all skipped as duplicates; one COMPLETED item per event_id', async () => {
    const s = await setup();
    const consumer = new Consumer();
    const deadLetters: DeadLetterEntry[] = [];
    const handler = s.handler(consumer, deadLetters);
    const rounds = await drain(handler, s.stream.arn, s.shards);
    expect(rounds).toHaveLength(1);
    const itemsBefore = await expectCompletedItems(s.tableName, s.data);
    const effects = { applied: new Map(consumer.applied), totals: new Map(consumer.totals) };
    const callsBefore = s.client.apiCalls;

    // The replay: the same bytes, same partition keys, put again.
    const checkpoints = new Map([...s.shards].map(([id, records]) => [id, records[records.length - 1].sequenceNumber]));
    await put(s.stream.name, s.data.entries);
    const replayed = await read(s.stream.name, checkpoints);
    expect(all(replayed)).toHaveLength(s.data.entries.length);
    for (const [shardId, records] of replayed) {
      // New sequence numbers, after the originals, on the same shard as the originals.
      for (const r of records) expect(seq(r.sequenceNumber) > seq(checkpoints.get(shardId) as string)).toBe(true);
      expect(records.map((r) => r.data.toString('hex'))).toEqual(s.shards.get(shardId)?.map((r) => r.data.toString('hex')));
    }

    const replay = await drain(handler, s.stream.arn, replayed);
    expect(replay).toHaveLength(1);
    expect(replay[0].invocations.map((i) => i.failures)).toEqual([[], []]);
    expect(replay[0].metrics).toEqual({
      Records: s.data.expected.size + 1, Processed: 0, Failures: 0, DuplicatesSkipped: s.data.expected.size, DeadLettered: 1, Redelivered: 0, failuresByReason: {},
    });
    expect(consumer.applied).toEqual(effects.applied);
    expect(consumer.totals).toEqual(effects.totals);
    expectExactlyOnce(consumer, s.data);
    // The malformed record has no key: it is dead-lettered again, as the replayed record it is.
    const badReplayed = all(replayed).find((r) => r.data.equals(s.data.malformed)) as StreamRecord;
    expect(deadLetters).toEqual([malformedEntry(s.bad, s.data), malformedEntry(badReplayed, s.data)]);
    // One request per shard invocation: the claim, cancelled with every key's COMPLETED item; nothing to complete or release.
    expect(s.client.apiCalls - callsBefore).toBe(2);
    // The table is unchanged: one COMPLETED item per event_id, still the first invocations'.
    expect(await expectCompletedItems(s.tableName, s.data)).toEqual(itemsBefore);
  });
});
