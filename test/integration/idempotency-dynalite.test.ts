/**
 * DynamoDbIdempotencyStore against dynalite on 127.0.0.1.
 *
 * dynalite 4 implements neither TransactWriteItems (it answers
 * UnknownOperationException, asserted below) nor
 * ReturnValuesOnConditionCheckFailure. The store's production requests are
 * kept as they are: `DynaliteTransactions` (test/support/dynalite-transactions.ts,
 * shared with the benchmark) stands in front of the dynalite client and
 * emulates TransactWriteItems, deciding each condition with dynalite's own
 * evaluator against the items read from dynalite, and either writing every
 * item or throwing the SDK's real TransactionCanceledException with one
 * CancellationReason per item and the ALL_OLD item, as DynamoDB does.
 *
 * So these tests run the store's real requests, condition expressions and
 * cancellation handling against a DynamoDB implementation that is not ours.
 * Request counts are taken at the store's client: they are the requests
 * DynamoDB would receive, not the adapter's emulation calls (those are
 * checked against the adapter's documented cost once, below).
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDbIdempotencyStore,
  type DynamoDbIdempotencyStoreOptions,
  type DynamoDbOperation,
} from '../../lambda/shared/idempotency/dynamodb-store';
import { payloadHash } from '../../lambda/shared/idempotency/payload-hash';
import type { ClaimOutcome, ClaimRequest } from '../../lambda/shared/idempotency/store';
import { DynaliteTransactions } from '../support/dynalite-transactions';
import { createHashKeyTable, dynamoClient, localAwsEndpoints } from './local-aws';

type Item = Record<string, AttributeValue>;

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const TTL = 7 * 24 * 3600;
const HOLD = 60_000;

let ddb: DynamoDBClient;
let tableCounter = 0;

beforeAll(() => {
  ddb = dynamoClient(localAwsEndpoints().dynamodb);
});

afterAll(() => {
  ddb.destroy();
});

async function createTable(): Promise<string> {
  return createHashKeyTable(ddb, `idempotency-${process.pid}-${Date.now()}-${tableCounter++}`);
}

interface Env {
  tableName: string;
  adapter: DynaliteTransactions;
  clock: { now: number };
  requests: DynamoDbOperation[];
  store: (owner: string, extra?: Partial<DynamoDbIdempotencyStoreOptions>) => DynamoDbIdempotencyStore;
  count: () => number;
}

async function env(): Promise<Env> {
  const tableName = await createTable();
  const adapter = new DynaliteTransactions(ddb);
  const clock = { now: T0 };
  const requests: DynamoDbOperation[] = [];
  return {
    tableName, adapter, clock, requests,
    count: () => requests.splice(0).length,
    store: (owner, extra = {}) => new DynamoDbIdempotencyStore({
      client: adapter,
      tableName,
      ttlSeconds: TTL,
      owner,
      now: () => clock.now,
      sleep: async () => undefined,
      onRequest: (op) => requests.push(op),
      onError: (info) => { throw new Error(`unexpected store error: ${JSON.stringify(info)}`); },
      ...extra,
    }),
  };
}

const events = (n: number, prefix = 'evt'): ClaimRequest[] =>
  Array.from({ length: n }, (_, i) => {
    const key = `${prefix}-${String(i).padStart(5, '0')}`;
    return { key, payloadHash: payloadHash(JSON.stringify({ event_id: key, amount: i })) };
  });
const tally = (outcomes: ClaimOutcome[]): Record<string, number> => outcomes.reduce<Record<string, number>>((t, o) => ({ ...t, [o]: (t[o] ?? 0) + 1 }), {});

async function item(tableName: string, key: string): Promise<Item | undefined> {
  return (await ddb.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: key } }, ConsistentRead: true }))).Item;
}

describe('dynalite capabilities', () => {
  test('dynalite does not implement TransactWriteItems (hence DynaliteTransactions; drop it if this starts failing)', async () => {
    const tableName = await createTable();
    await expect(ddb.send(new TransactWriteItemsCommand({
      TransactItems: [{ Put: { TableName: tableName, Item: { pk: { S: 'k' } }, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } }],
    }))).rejects.toMatchObject({ name: 'UnknownOperationException' });
  });
});

describe('DynaliteTransactions (the emulation the store runs against)', () => {
  const put = (TableName: string, pk: string, extra: Item = {}, condition?: string): TransactWriteItem => ({
    Put: {
      TableName,
      Item: { pk: { S: pk }, ...extra },
      ...(condition ? { ConditionExpression: condition, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
    },
  });

  test('a failed condition cancels every action: reasons in order, ALL_OLD item, nothing written', async () => {
    const tableName = await createTable();
    const adapter = new DynaliteTransactions(ddb);
    await adapter.send(new TransactWriteItemsCommand({ TransactItems: [put(tableName, 'taken', { v: { N: '1' } })] }));
    const error = await adapter.send(new TransactWriteItemsCommand({
      TransactItems: [
        put(tableName, 'fresh', { v: { N: '2' } }, 'attribute_not_exists(pk)'),
        put(tableName, 'taken', { v: { N: '3' } }, 'attribute_not_exists(pk)'),
        { Delete: { TableName: tableName, Key: { pk: { S: 'gone' } } } },
      ],
    })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect((error as TransactionCanceledException).CancellationReasons).toEqual([
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: { pk: { S: 'taken' }, v: { N: '1' } } },
      { Code: 'None' },
    ]);
    expect(await item(tableName, 'fresh')).toBeUndefined();
    expect(await item(tableName, 'taken')).toEqual({ pk: { S: 'taken' }, v: { N: '1' } });
  });

  test('Updates follow UpdateItem (an absent item starts from its key) and Deletes delete', async () => {
    const tableName = await createTable();
    const adapter = new DynaliteTransactions(ddb);
    await adapter.send(new TransactWriteItemsCommand({ TransactItems: [put(tableName, 'old', { a: { S: 'x' }, b: { N: '1' } }), put(tableName, 'doomed')] }));
    await adapter.send(new TransactWriteItemsCommand({
      TransactItems: [
        { Update: { TableName: tableName, Key: { pk: { S: 'old' } }, UpdateExpression: 'SET #a = :a REMOVE #b', ConditionExpression: 'attribute_exists(#b)', ExpressionAttributeNames: { '#a': 'a', '#b': 'b' }, ExpressionAttributeValues: { ':a': { M: { k: { L: [{ S: 'y' }] } } } } } },
        { Update: { TableName: tableName, Key: { pk: { S: 'new' } }, UpdateExpression: 'SET #a = :a', ExpressionAttributeNames: { '#a': 'a' }, ExpressionAttributeValues: { ':a': { BOOL: true } } } },
        { Delete: { TableName: tableName, Key: { pk: { S: 'doomed' } } } },
      ],
    }));
    expect(await item(tableName, 'old')).toEqual({ pk: { S: 'old' }, a: { M: { k: { L: [{ S: 'y' }] } } } });
    expect(await item(tableName, 'new')).toEqual({ pk: { S: 'new' }, a: { BOOL: true } });
    expect(await item(tableName, 'doomed')).toBeUndefined();
  });

  test('what DynamoDB rejects, or the adapter cannot apply exactly, is a ValidationException before any request to dynalite', async () => {
    const tableName = await createTable();
    const adapter = new DynaliteTransactions(ddb);
    const update = (UpdateExpression: string, values: Item = { ':v': { N: '1' } }): TransactWriteItem =>
      ({ Update: { TableName: tableName, Key: { pk: { S: 'u' } }, UpdateExpression, ExpressionAttributeNames: { '#n': 'n' }, ExpressionAttributeValues: values } });
    const rejected: [string, TransactWriteItem[], RegExp][] = [
      ['a computed SET', [update('SET #n = #n + :v')], /SET of a value and REMOVE only/],
      ['ADD', [update('ADD #n :v')], /not add sections/],
      ['a nested path', [update('SET #n.x = :v')], /top-level attributes only/],
      ['an unused value', [update('SET #n = :v', { ':v': { N: '1' }, ':w': { N: '2' } })], /unused/],
      ['names without an expression', [{ Put: { TableName: tableName, Item: { pk: { S: 'n' } }, ExpressionAttributeNames: { '#n': 'n' } } }], /only be specified when using expressions/],
      ['an update of the key', [{ Update: { TableName: tableName, Key: { pk: { S: 'u' } }, UpdateExpression: 'SET #k = :v', ExpressionAttributeNames: { '#k': 'pk' }, ExpressionAttributeValues: { ':v': { S: 'x' } } } }], /part of the key/],
      ['an empty key, after a valid Put', [put(tableName, 'fine'), put(tableName, '')], /empty string/],
      ['two actions on one item', [put(tableName, 'twice'), put(tableName, 'twice')], /multiple operations on one item/],
      ['a ConditionCheck', [{ ConditionCheck: { TableName: tableName, Key: { pk: { S: 'c' } }, ConditionExpression: 'attribute_exists(pk)' } }], /ConditionCheck/],
    ];
    for (const [what, TransactItems, message] of rejected) {
      await expect(adapter.send(new TransactWriteItemsCommand({ TransactItems }))).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringMatching(message) });
      expect({ what, dynaliteCalls: adapter.dynaliteCalls }).toEqual({ what, dynaliteCalls: 0 });
    }
    expect(await item(tableName, 'fine')).toBeUndefined();
  });
});

describe('DynamoDbIdempotencyStore on dynalite', () => {
  test('1,000 new records: claimed and completed in 20 requests (≤ 25), replays are all duplicate in 10', async () => {
    const e = await env();
    const batch = events(1000);
    const outcomes = await e.store('inv-1').claim(batch, { inProgressExpiryMs: HOLD });
    expect(tally(outcomes)).toEqual({ claimed: 1000 });
    const claimRequests = e.count();
    expect(await e.store('inv-1').complete(batch.map((r) => r.key))).toEqual({ failed: [] });
    const completeRequests = e.count();
    expect({ claimRequests, completeRequests }).toEqual({ claimRequests: 10, completeRequests: 10 });
    expect(claimRequests + completeRequests).toBeLessThanOrEqual(25);
    // The adapter's documented cost: a committed transaction of 100 is 1 BatchGetItem + 4 BatchWriteItem.
    expect({ apiCalls: e.adapter.apiCalls, dynaliteCalls: e.adapter.dynaliteCalls }).toEqual({ apiCalls: 20, dynaliteCalls: 20 * 5 });
    expect(await item(e.tableName, 'evt-00042')).toEqual({
      pk: { S: 'evt-00042' },
      status: { S: 'COMPLETED' },
      expiresAt: { N: String(Math.floor(T0 / 1000) + TTL) },
      owner: { S: 'inv-1' },
      payloadHash: { S: batch[42].payloadHash as string },
    });

    // A replay (or a producer retry) of the same events, by a later invocation.
    const replay = await e.store('inv-2').claim(batch, { inProgressExpiryMs: HOLD });
    expect(tally(replay)).toEqual({ duplicate: 1000 });
    expect(e.count()).toBe(10);
    // A cancelled transaction costs dynalite its read only.
    expect(e.adapter.dynaliteCalls).toBe(100 + 10);

    // With precheck the replay costs 10 reads and no write.
    expect(tally(await e.store('inv-3', { precheck: true }).claim(batch, { inProgressExpiryMs: HOLD }))).toEqual({ duplicate: 1000 });
    expect(e.requests).toEqual(Array(10).fill('BatchGetItem'));
    e.count();

    // Past the TTL the markers are logically gone although dynalite never deletes them.
    e.clock.now = T0 + (TTL + 1) * 1000;
    expect(tally(await e.store('inv-4').claim(batch.slice(0, 100), { inProgressExpiryMs: HOLD }))).toEqual({ claimed: 100 });
  });

  test('10% held by a live invocation: in_progress (20 requests per 1,000) until inProgressExpiry passes', async () => {
    const e = await env();
    const batch = events(1000);
    const held = batch.filter((_, i) => i % 10 === 7);
    expect(tally(await e.store('inv-holder').claim(held, { inProgressExpiryMs: HOLD }))).toEqual({ claimed: 100 });
    e.count();

    e.clock.now = T0 + HOLD; // the holder's claim expires at T0 + HOLD: still live
    const outcomes = await e.store('inv-2').claim(batch, { inProgressExpiryMs: HOLD });
    expect(tally(outcomes)).toEqual({ claimed: 900, in_progress: 100 });
    expect(outcomes.filter((_, i) => i % 10 === 7)).toEqual(Array(100).fill('in_progress'));
    expect(e.count()).toBe(20);
    expect((await item(e.tableName, held[0].key))?.owner).toEqual({ S: 'inv-holder' });

    e.clock.now = T0 + HOLD + 1; // the holder crashed: its claims lapse
    expect(tally(await e.store('inv-3').claim(held, { inProgressExpiryMs: HOLD }))).toEqual({ claimed: 100 });
    expect(e.count()).toBe(1);
    expect((await item(e.tableName, held[0].key))?.owner).toEqual({ S: 'inv-3' });
  });

  test('a key reused with a different payload is hash_mismatch, whether claimed or completed', async () => {
    const e = await env();
    const first = [{ key: 'order-1', payloadHash: payloadHash('{"event_id":"order-1","amount":10}') }, { key: 'order-2', payloadHash: payloadHash('{"event_id":"order-2","amount":20}') }];
    await e.store('inv-1').claim(first, { inProgressExpiryMs: HOLD });
    await e.store('inv-1').complete(['order-1']);
    const reused = [{ key: 'order-1', payloadHash: payloadHash('{"event_id":"order-1","amount":99}') }, { key: 'order-2', payloadHash: payloadHash('{"event_id":"order-2","amount":99}') }];
    expect(await e.store('inv-2').claim(reused, { inProgressExpiryMs: HOLD })).toEqual(['hash_mismatch', 'hash_mismatch']);
    expect(await e.store('inv-2').claim(first, { inProgressExpiryMs: HOLD })).toEqual(['duplicate', 'in_progress']);
    expect(await e.store('inv-2', { precheck: true }).claim(reused, { inProgressExpiryMs: HOLD })).toEqual(['hash_mismatch', 'hash_mismatch']);
  });

  test('release gives the key back at once, and only the owner’s claims', async () => {
    const e = await env();
    await e.store('inv-1').claim([{ key: 'a' }, { key: 'b' }, { key: 'done' }], { inProgressExpiryMs: HOLD });
    await e.store('inv-1').complete(['done']);
    // Another invocation may not release inv-1's claims.
    expect(await e.store('inv-2').release(['a', 'b', 'done'])).toEqual({ failed: [] });
    expect(await e.store('inv-2').claim([{ key: 'a' }], { inProgressExpiryMs: HOLD })).toEqual(['in_progress']);
    // inv-1 failed to apply a and b: it releases them (done stays COMPLETED).
    expect(await e.store('inv-1').release(['a', 'b', 'done'])).toEqual({ failed: [] });
    expect(await item(e.tableName, 'a')).toBeUndefined();
    expect((await item(e.tableName, 'done'))?.status).toEqual({ S: 'COMPLETED' });
    // Lambda's retry claims them without waiting for inProgressExpiry.
    expect(await e.store('inv-2').claim([{ key: 'a' }, { key: 'b' }, { key: 'done' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed', 'claimed', 'duplicate']);
  });

  test('keys repeated within a batch: the first occurrence claims, the others are duplicate_in_batch', async () => {
    const e = await env();
    const h = payloadHash('{"event_id":"x"}');
    const outcomes = await e.store('inv-1').claim([
      { key: 'x', payloadHash: h }, { key: 'y' }, { key: 'x', payloadHash: h }, { key: 'x' }, { key: 'x', payloadHash: payloadHash('{"event_id":"x","v":2}') },
    ], { inProgressExpiryMs: HOLD });
    expect(outcomes).toEqual(['claimed', 'claimed', 'duplicate_in_batch', 'duplicate_in_batch', 'hash_mismatch']);
    expect(e.count()).toBe(1);
  });

  test('the same owner retrying a claim that already committed gets it again', async () => {
    const e = await env();
    await e.store('inv-1').claim([{ key: 'k' }], { inProgressExpiryMs: HOLD });
    expect(await e.store('inv-1').claim([{ key: 'k' }], { inProgressExpiryMs: HOLD })).toEqual(['claimed']);
  });
});
