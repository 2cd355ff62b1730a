/**
 * TransactWriteItems for dynalite: the one emulation used by the integration
 * tests (test/integration/idempotency-dynalite.test.ts, end-to-end.test.ts)
 * and by the benchmark (bench/hot-path.ts).
 *
 * Why it exists: dynalite 4 implements neither TransactWriteItems (it answers
 * UnknownOperationException; idempotency-dynalite.test.ts asserts it still
 * does, so this can go once it starts failing) nor
 * ReturnValuesOnConditionCheckFailure, and DynamoDbIdempotencyStore writes
 * with nothing else. `DynaliteTransactions` stands in front of a dynalite
 * client so that the store sends its production requests unchanged and they
 * are decided by a DynamoDB implementation that is not ours.
 *
 * One TransactWriteItems, emulated:
 * 1. The whole request is validated before anything is read or written, with
 *    dynalite's own validation code where it has it: 1..100 actions, each
 *    exactly one Put, Update or Delete (ConditionCheck and ClientRequestToken
 *    are refused), one table, no two actions on one item, the key or item
 *    against the table's key (a string hash key, `pk` unless told otherwise:
 *    the schema is not read from dynalite, which would cost a request),
 *    attribute values, item size, and the expressions (syntax, undefined or
 *    unused names and values, updates of the key), and whether each Update
 *    is one this adapter applies (see 4). A failure is a ValidationException
 *    and nothing is written, as in DynamoDB.
 * 2. Every item is read with one strongly consistent BatchGetItem.
 * 3. Each ConditionExpression is evaluated against the item read, by
 *    dynalite's evaluator (the one its PutItem/UpdateItem/DeleteItem run). If
 *    any fails, the SDK's real TransactionCanceledException is thrown, with
 *    one CancellationReason per action in request order (`None`, or
 *    `ConditionalCheckFailed` carrying the old item when
 *    ReturnValuesOnConditionCheckFailure is ALL_OLD and the item exists), and
 *    nothing is written.
 * 4. Otherwise every item is written with BatchWriteItem, 25 per request (the
 *    limit of dynalite and DynamoDB): Puts as sent, Deletes as deletes, and
 *    Updates applied here to the item read, with UpdateItem's semantics (an
 *    absent item starts from its key). Only SET of a top-level attribute to a
 *    value and REMOVE of a top-level attribute are applied (all the store
 *    sends); anything else (ADD, DELETE, nested paths, attribute operands,
 *    if_not_exists, arithmetic, list_append) is refused with a
 *    ValidationException (step 1) rather than approximated. The size of an
 *    updated item is checked once it is computed, still before any write.
 *    Sending one UpdateItem per item instead would cost a dynalite round
 *    trip per key, each with its own validation and expression parse: a
 *    100-key `complete` would take 100 requests, and the benchmark would
 *    measure the emulation rather than the store.
 *
 * Atomicity: the requests sent through every DynaliteTransactions of this
 * module instance (in jest, of one test file) run one at a time, so none of
 * them sees a transaction half applied. Requests sent to dynalite directly
 * (a test's GetItem or Scan) are not queued behind them.
 *
 * Not emulated: transaction conflicts, throttling and capacity, idempotency
 * tokens, the response's ConsumedCapacity / ItemCollectionMetrics (a
 * committed transaction answers `{}`), and atomicity against dynalite
 * itself failing between two BatchWriteItem requests of one transaction.
 * BatchGetItem, Query and UpdateItem go through untouched (dynalite implements them); any other
 * command is refused.
 *
 * Cost at dynalite of one emulated transaction of n actions: 1 BatchGetItem
 * when it is cancelled; 1 BatchGetItem plus ceil(n / 25) BatchWriteItem when
 * it commits; none when it fails validation. `apiCalls` counts the requests
 * DynamoDB would receive (one per request the store sends);
 * `dynaliteCalls` counts the HTTP requests this adapter sent to dynalite,
 * emulation included.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  BatchWriteItemCommand,
  type CancellationReason,
  type DynamoDBClient,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  QueryCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { mapWithConcurrency } from '../../lambda/shared/concurrency';
import type { DynamoDbSender } from '../../lambda/shared/idempotency/dynamodb-store';

type Item = Record<string, AttributeValue>;

/** dynalite's request validation (what its actions run before touching the table). */
const dynaliteValidations = require('dynalite/validations') as {
  validateExpressionParams(data: Record<string, unknown>, expressions: string[], nonExpressions: string[]): string | undefined;
  validateExpressions(data: Record<string, unknown>): string | undefined;
  validateAttributeValue(value: AttributeValue): string | undefined;
};
/** dynalite's table-level checks and condition evaluation; errors are returned, not thrown. */
const dynaliteDb = require('dynalite/db') as {
  MAX_SIZE: number;
  checkConditional(data: Record<string, unknown>, item: Item | undefined): Error | null | undefined;
  validateKey(key: Item, table: TableSchema): Error | undefined;
  validateItem(item: Item, table: TableSchema): Error | undefined;
  validateUpdates(attributeUpdates: undefined, updates: unknown, table: TableSchema): Error | undefined;
  itemSize(item: Item): number;
};

/** The part of a DescribeTable result dynalite's validation reads. */
interface TableSchema {
  readonly KeySchema: { AttributeName: string; KeyType: 'HASH' }[];
  readonly AttributeDefinitions: { AttributeName: string; AttributeType: 'S' }[];
}

/** A section of dynalite's parsed update expression. */
interface UpdateSection {
  readonly type: 'set' | 'remove' | 'add' | 'delete';
  readonly path: (string | number)[];
  /** For `set`: an AttributeValue, or an operand to compute (an attribute path array or `{ type, ... }`). */
  readonly val?: unknown;
}

const ATTRIBUTE_TYPES = new Set(['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL']);

function validation(message: string): Error {
  return Object.assign(new Error(message), { name: 'ValidationException' });
}

function check(error: Error | string | undefined | null): void {
  if (error) throw validation(typeof error === 'string' ? error : error.message);
}

interface ActionExpressions {
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
}

/**
 * dynalite's parser costs up to ~3 ms a parse (the claim condition): parses
 * are cached per distinct expression + names + values (the values are part of
 * the parse, so claims carrying payload hashes each parse once). The cached
 * objects are only read, never mutated.
 */
const parsed = new Map<string, Record<string, unknown>>();
const MAX_PARSED = 50_000;
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
    // Rejects, as DynamoDB does, names or values without expressions, bad syntax, invalid values and undefined or unused names/values.
    check(dynaliteValidations.validateExpressionParams(result, ['UpdateExpression', 'ConditionExpression'], []));
    check(dynaliteValidations.validateExpressions(result));
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(cacheKey, result);
  }
  return result;
}

function isAttributeValue(val: unknown): val is AttributeValue {
  if (typeof val !== 'object' || val === null || Array.isArray(val)) return false;
  const types = Object.keys(val);
  return types.length === 1 && ATTRIBUTE_TYPES.has(types[0]);
}

function updateSections(expressions: Record<string, unknown>): UpdateSection[] {
  return (expressions._updates as { sections: UpdateSection[] } | undefined)?.sections ?? [];
}

/** Refuses the update sections {@link applyUpdate} cannot apply exactly. */
function checkApplicable(expressions: Record<string, unknown>): void {
  for (const s of updateSections(expressions)) {
    if (s.path.length !== 1 || typeof s.path[0] !== 'string') throw validation('DynaliteTransactions applies updates of top-level attributes only');
    if (!(s.type === 'remove' || (s.type === 'set' && isAttributeValue(s.val)))) {
      throw validation(`DynaliteTransactions applies SET of a value and REMOVE only, not ${s.type} sections or computed values`);
    }
  }
}

/** Applies a checked update expression to a copy of `old`, or of the key when the item is absent (as UpdateItem does). */
function applyUpdate(old: Item | undefined, key: Item, expressions: Record<string, unknown>): Item {
  const item: Item = structuredClone(old ?? key);
  for (const s of updateSections(expressions)) {
    const name = s.path[0] as string;
    if (s.type === 'remove') delete item[name];
    else item[name] = structuredClone(s.val as AttributeValue);
  }
  return item;
}

/** Requests of every adapter in this process, one at a time: what makes the emulated transactions atomic. */
let queue: Promise<unknown> = Promise.resolve();

export interface DynaliteTransactionsOptions {
  /** The tables' hash key (a string attribute). @default 'pk' (createHashKeyTable's default) */
  readonly hashKey?: string;
}

/** TransactWriteItems for dynalite (see the file comment); BatchGetItem goes through untouched. */
export class DynaliteTransactions implements DynamoDbSender {
  /** Requests received (from the store): what DynamoDB would receive. */
  apiCalls = 0;
  /** HTTP requests sent to dynalite, emulation included. */
  dynaliteCalls = 0;
  private readonly hashKey: string;
  private readonly schema: TableSchema;

  constructor(private readonly inner: DynamoDBClient, options: DynaliteTransactionsOptions = {}) {
    this.hashKey = options.hashKey ?? 'pk';
    this.schema = {
      KeySchema: [{ AttributeName: this.hashKey, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: this.hashKey, AttributeType: 'S' }],
    };
  }

  send(command: TransactWriteItemsCommand | BatchGetItemCommand | QueryCommand | UpdateItemCommand): Promise<unknown> {
    this.apiCalls++;
    const run = (): Promise<unknown> => {
      if (command instanceof TransactWriteItemsCommand) return this.transact(command.input);
      // dynalite implements these itself (the fraud engine's GSI Query and registry UpdateItem among them).
      if (command instanceof BatchGetItemCommand || command instanceof QueryCommand || command instanceof UpdateItemCommand) {
        return this.call(() => this.inner.send(command as BatchGetItemCommand));
      }
      return Promise.reject(validation(`DynaliteTransactions passes through BatchGetItem, Query and UpdateItem only, got ${(command as object).constructor.name}`));
    };
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
  }

  private call<T>(send: () => Promise<T>): Promise<T> {
    this.dynaliteCalls++;
    return send();
  }

  private async transact(input: TransactWriteItemsCommand['input']): Promise<unknown> {
    const actions: TransactWriteItem[] = input.TransactItems ?? [];
    if (input.ClientRequestToken !== undefined) throw validation('DynaliteTransactions does not emulate ClientRequestToken');
    if (actions.length === 0 || actions.length > 100) throw validation(`TransactItems must have 1..100 items, got ${actions.length}`);

    // 1. Validate everything before reading or writing anything.
    const ops = actions.map((action) => {
      const kinds = (['Put', 'Update', 'Delete', 'ConditionCheck'] as const).filter((k) => action[k] !== undefined);
      if (kinds.length !== 1) throw validation('TransactItems can only contain one of Check, Put, Update or Delete');
      if (kinds[0] === 'ConditionCheck') throw validation('DynaliteTransactions does not emulate ConditionCheck');
      const op = (action.Put ?? action.Update ?? action.Delete) as NonNullable<TransactWriteItem['Put' | 'Update' | 'Delete']>;
      if (!op.TableName) throw validation('TableName is required');
      if (action.Update && !action.Update.UpdateExpression) throw validation('UpdateExpression is required');
      let key: Item;
      if (action.Put) {
        const item = action.Put.Item ?? {};
        for (const value of Object.values(item)) check(dynaliteValidations.validateAttributeValue(value));
        check(dynaliteDb.validateItem(item, this.schema));
        if (dynaliteDb.itemSize(item) > dynaliteDb.MAX_SIZE) throw validation('Item size has exceeded the maximum allowed size');
        key = { [this.hashKey]: item[this.hashKey] };
      } else {
        key = (op as { Key?: Item }).Key ?? {};
        check(dynaliteDb.validateKey(key, this.schema));
      }
      const expressions = parseExpressions(op, action.Update?.UpdateExpression);
      if (action.Update) {
        check(dynaliteDb.validateUpdates(undefined, expressions._updates, this.schema));
        checkApplicable(expressions);
      }
      return { action, op, table: op.TableName, key, id: key[this.hashKey].S as string, expressions };
    });
    const table = ops[0].table;
    if (ops.some((o) => o.table !== table)) throw validation('DynaliteTransactions handles one table per transaction');
    if (new Set(ops.map((o) => o.id)).size !== ops.length) throw validation('Transaction request cannot include multiple operations on one item');

    // 2. Read every item.
    const got = (await this.call(() => this.inner.send(new BatchGetItemCommand({
      RequestItems: { [table]: { Keys: ops.map((o) => o.key), ConsistentRead: true } },
    })))) as BatchGetItemCommandOutput;
    if (Object.keys(got.UnprocessedKeys ?? {}).length > 0) throw validation('DynaliteTransactions does not retry unprocessed keys');
    const existing = new Map((got.Responses?.[table] ?? []).map((item) => [item[this.hashKey].S as string, item]));

    // 3. Evaluate every condition; one failure cancels the whole transaction.
    const reasons = ops.map(({ op, id, expressions }): CancellationReason => {
      const old = existing.get(id);
      if (op.ConditionExpression === undefined || !dynaliteDb.checkConditional(expressions, old)) return { Code: 'None' };
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

    // 4. All conditions hold: write, 25 per BatchWriteItem.
    const writes = ops.map(({ action, key, id, expressions }): WriteRequest => {
      if (action.Put) return { PutRequest: { Item: action.Put.Item as Item } };
      if (action.Delete) return { DeleteRequest: { Key: key } };
      const item = applyUpdate(existing.get(id), key, expressions);
      if (dynaliteDb.itemSize(item) > dynaliteDb.MAX_SIZE) throw validation('Item size to update has exceeded the maximum allowed size');
      return { PutRequest: { Item: item } };
    });
    const batches = Array.from({ length: Math.ceil(writes.length / 25) }, (_, i) => writes.slice(i * 25, i * 25 + 25));
    await mapWithConcurrency(batches, 8, async (batch) => {
      for (let pending: WriteRequest[] = batch; pending.length > 0;) {
        const out = await this.call(() => this.inner.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } })));
        pending = out.UnprocessedItems?.[table] ?? [];
      }
    });
    return {};
  }
}
