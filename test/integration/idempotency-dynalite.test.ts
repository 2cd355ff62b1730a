/**
 * DynamoDbIdempotencyStore against dynalite on 127.0.0.1.
 *
 * dynalite 4 implements neither TransactWriteItems (it answers
 * UnknownOperationException, asserted below) nor
 * ReturnValuesOnConditionCheckFailure. The store's production requests are
 * kept as they are: `TransactShim` stands in front of the dynalite client and
 * emulates TransactWriteItems. It validates each action's expressions and
 * evaluates each condition with dynalite's own code (the functions dynalite's
 * PutItem runs), against the items as read from dynalite. It then either
 * applies all the writes to dynalite or throws the SDK's real
 * TransactionCanceledException, with one CancellationReason per item and the
 * ALL_OLD item, as DynamoDB does. The shim runs one request at a time, which
 * makes the emulated transactions atomic.
 *
 * So these tests run the store's real requests, condition expressions and
 * cancellation handling against a DynamoDB implementation that is not ours.
 * Request counts are taken at the store's client: they are the requests
 * DynamoDB would receive, not the shim's emulation calls.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type CancellationReason,
  type DynamoDBClient,
  GetItemCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { mapWithConcurrency } from '../../lambda/shared/concurrency';
import {
  DynamoDbIdempotencyStore,
  type DynamoDbIdempotencyStoreOptions,
  type DynamoDbOperation,
  type DynamoDbSender,
} from '../../lambda/shared/idempotency/dynamodb-store';
import { payloadHash } from '../../lambda/shared/idempotency/payload-hash';
import type { ClaimOutcome, ClaimRequest } from '../../lambda/shared/idempotency/store';
import { createHashKeyTable, dynamoClient, localAwsEndpoints } from './local-aws';

type Item = Record<string, AttributeValue>;

function validation(message: string): Error {
  return Object.assign(new Error(message), { name: 'ValidationException' });
}

/**
 * dynalite's own expression validation and condition evaluation: the two
 * functions its PutItem/UpdateItem/DeleteItem actions run. Called in-process
 * because dynalite's expression parser costs ~3 ms a parse, and a 1,000-key
 * claim would otherwise take 1,000 HTTP round trips; parses are cached per
 * distinct expression + names + values.
 */
const dynaliteValidations = require('dynalite/validations') as { validateExpressions(data: Record<string, unknown>): string | undefined };
const dynaliteDb = require('dynalite/db') as { checkConditional(data: Record<string, unknown>, item: Item | undefined): unknown };

interface ActionExpressions {
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
}

const parsed = new Map<string, Record<string, unknown>>();
function parseExpressions(op: ActionExpressions, updateExpression: string | undefined): Record<string, unknown> {
  const data = {
    ConditionExpression: op.ConditionExpression,
    UpdateExpression: updateExpression,
    ExpressionAttributeNames: op.ExpressionAttributeNames,
    ExpressionAttributeValues: op.ExpressionAttributeValues,
  };
  const cacheKey = JSON.stringify(data);
  let result = parsed.get(cacheKey);
  if (result === undefined) {
    result = { ...data };
    // Rejects, as DynamoDB does, bad syntax and undefined or unused names/values.
    const message = dynaliteValidations.validateExpressions(result);
    if (message) throw validation(message);
    parsed.set(cacheKey, result);
  }
  return result;
}

/** TransactWriteItems for dynalite (see the file comment); every other command goes through untouched. */
class TransactShim implements DynamoDbSender {
  /** dynalite requests made to emulate the store's requests (for information: DynamoDB would see only the store's). */
  emulationCalls = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly inner: DynamoDBClient) {}

  send(command: TransactWriteItemsCommand | BatchGetItemCommand): Promise<unknown> {
    const run = (): Promise<unknown> => (command instanceof TransactWriteItemsCommand
      ? this.transact(command.input.TransactItems ?? [])
      : this.call(() => this.inner.send(command)));
    // One request at a time: that is what makes the emulated transactions atomic.
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private call<T>(send: () => Promise<T>): Promise<T> {
    this.emulationCalls++;
    return send();
  }

  private async transact(actions: TransactWriteItem[]): Promise<unknown> {
    if (actions.length === 0 || actions.length > 100) throw validation(`TransactItems must have 1..100 items, got ${actions.length}`);
    const ops = actions.map((action) => {
      const op = action.Put ?? action.Update ?? action.Delete;
      if (op === undefined || op.TableName === undefined) throw validation('unsupported transaction action');
      const key: Item = action.Put ? { pk: action.Put.Item?.pk as AttributeValue } : (op as { Key: Item }).Key;
      return { action, op, table: op.TableName, key, pk: key.pk?.S as string, expressions: parseExpressions(op, action.Update?.UpdateExpression) };
    });
    const table = ops[0].table;
    if (ops.some((o) => o.table !== table)) throw validation('the shim handles one table per transaction');
    if (new Set(ops.map((o) => o.pk)).size !== ops.length) throw validation('Transaction request cannot include multiple operations on one item');

    const got = await this.call(() => this.inner.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: ops.map((o) => o.key), ConsistentRead: true } } })));
    const existing = new Map((got.Responses?.[table] ?? []).map((item) => [item.pk.S as string, item]));

    const reasons = ops.map(({ op, pk, expressions }): CancellationReason => {
      const old = existing.get(pk);
      if (op.ConditionExpression === undefined || dynaliteDb.checkConditional(expressions, old) === null) return { Code: 'None' };
      return {
        Code: 'ConditionalCheckFailed',
        Message: 'The conditional request failed',
        ...(op.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && old ? { Item: old } : {}),
      };
    });
    if (reasons.some((r) => r.Code !== 'None')) {
      throw new TransactionCanceledException({
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
        $metadata: {},
        CancellationReasons: reasons,
      });
    }

    // All conditions hold: apply. Puts and Deletes 25 per BatchWriteItem; Updates need UpdateItem.
    const writes = ops.flatMap(({ action, key }): WriteRequest[] => (action.Put
      ? [{ PutRequest: { Item: action.Put.Item as Item } }]
      : action.Delete ? [{ DeleteRequest: { Key: key } }] : []));
    const batches = Array.from({ length: Math.ceil(writes.length / 25) }, (_, i) => writes.slice(i * 25, i * 25 + 25));
    await mapWithConcurrency(batches, 8, async (batch) => {
      for (let pending: WriteRequest[] = batch; pending.length > 0;) {
        const out = await this.call(() => this.inner.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } })));
        pending = out.UnprocessedItems?.[table] ?? [];
      }
    });
    await mapWithConcurrency(ops.filter((o) => o.action.Update), 16, async ({ action, key }) => {
      const u = action.Update as NonNullable<TransactWriteItem['Update']>;
      await this.call(() => this.inner.send(new UpdateItemCommand({
        TableName: table,
        Key: key,
        UpdateExpression: u.UpdateExpression,
        ConditionExpression: u.ConditionExpression,
        ExpressionAttributeNames: u.ExpressionAttributeNames,
        ExpressionAttributeValues: u.ExpressionAttributeValues,
      })));
    });
    return {};
  }
}

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
  shim: TransactShim;
  clock: { now: number };
  requests: DynamoDbOperation[];
  store: (owner: string, extra?: Partial<DynamoDbIdempotencyStoreOptions>) => DynamoDbIdempotencyStore;
  count: () => number;
}

async function env(): Promise<Env> {
  const tableName = await createTable();
  const shim = new TransactShim(ddb);
  const clock = { now: T0 };
  const requests: DynamoDbOperation[] = [];
  return {
    tableName, shim, clock, requests,
    count: () => requests.splice(0).length,
    store: (owner, extra = {}) => new DynamoDbIdempotencyStore({
      client: shim,
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
  test('dynalite does not implement TransactWriteItems (hence the shim; drop it if this starts failing)', async () => {
    const tableName = await createTable();
    await expect(ddb.send(new TransactWriteItemsCommand({
      TransactItems: [{ Put: { TableName: tableName, Item: { pk: { S: 'k' } }, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } }],
    }))).rejects.toMatchObject({ name: 'UnknownOperationException' });
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
