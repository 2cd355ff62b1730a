/**
 * TransactWriteItems for dynalite, for benchmarks: a copy of the test-only
 * adapter in test/integration/idempotency-dynalite.test.ts, with one change
 * (Updates are applied in-process, see below).
 *
 * dynalite 4 implements neither TransactWriteItems nor
 * ReturnValuesOnConditionCheckFailure. `DynaliteTransactions` stands in front
 * of a dynalite client so that DynamoDbIdempotencyStore sends its production
 * requests unchanged: it validates each action's expressions and evaluates
 * each condition with dynalite's own code, against the items read from
 * dynalite; then it either writes every item or throws the SDK's real
 * TransactionCanceledException (one CancellationReason per item, with the
 * ALL_OLD item). It runs one request at a time, which makes the emulated
 * transactions atomic.
 *
 * Cost at dynalite of one emulated transaction of n items: 1 BatchGetItem plus
 * ceil(n / 25) BatchWriteItem (dynalite, like DynamoDB, takes at most 25 writes
 * per BatchWriteItem). `apiCalls` counts the requests real DynamoDB would
 * receive (one per store request); the HTTP requests dynalite receives are
 * counted at the server by the benchmark.
 *
 * Change from the test's copy: an Update is applied here (dynalite's parser
 * turns the update expression into sections; SET of a top-level name to a
 * value and REMOVE of a top-level name are applied to the item read, anything
 * else is refused) and written back with the Puts, instead of one UpdateItem
 * HTTP request per item. Otherwise a 100-key `complete` would cost 100 dynalite
 * round trips, each reparsing its expression (~2 ms of dynalite CPU), and the
 * benchmark would measure the emulation rather than the store.
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
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { mapWithConcurrency } from '../lambda/shared/concurrency';
import type { DynamoDbSender } from '../lambda/shared/idempotency/dynamodb-store';

type Item = Record<string, AttributeValue>;

interface UpdateSection {
  type: 'set' | 'remove' | 'add' | 'delete';
  path: (string | number)[];
  val?: AttributeValue;
}

/** dynalite's expression validation and condition evaluation (what its PutItem/UpdateItem/DeleteItem run). */
const dynaliteValidations = require('dynalite/validations') as { validateExpressions(data: Record<string, unknown>): string | undefined };
const dynaliteDb = require('dynalite/db') as { checkConditional(data: Record<string, unknown>, item: Item | undefined): unknown };

function validation(message: string): Error {
  return Object.assign(new Error(message), { name: 'ValidationException' });
}

interface ActionExpressions {
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
}

// dynalite's parser costs ~3 ms a parse: parses are cached per distinct expression + names + values.
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

/** Applies a parsed update expression to a copy of `old` (or of the key when the item is absent, as UpdateItem does). */
function applyUpdate(old: Item | undefined, key: Item, expressions: Record<string, unknown>): Item {
  const sections = (expressions._updates as { sections: UpdateSection[] } | undefined)?.sections ?? [];
  const item: Item = { ...(old ?? key) };
  for (const s of sections) {
    const name = s.path[0];
    if (s.path.length !== 1 || typeof name !== 'string') throw validation('the shim applies top-level attributes only');
    if (s.type === 'set' && s.val !== undefined && Object.keys(s.val).length === 1) item[name] = s.val;
    else if (s.type === 'remove') delete item[name];
    else throw validation(`the shim does not apply ${s.type} sections or computed values`);
  }
  return item;
}

/** TransactWriteItems for dynalite (see the file comment); BatchGetItem goes through untouched. */
export class DynaliteTransactions implements DynamoDbSender {
  /** Requests the store sent: what DynamoDB would receive. */
  apiCalls = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly inner: DynamoDBClient) {}

  send(command: TransactWriteItemsCommand | BatchGetItemCommand): Promise<unknown> {
    this.apiCalls++;
    const run = (): Promise<unknown> => (command instanceof TransactWriteItemsCommand
      ? this.transact(command.input.TransactItems ?? [])
      : this.inner.send(command));
    // One request at a time: that is what makes the emulated transactions atomic.
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
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

    const got = (await this.inner.send(new BatchGetItemCommand({
      RequestItems: { [table]: { Keys: ops.map((o) => o.key), ConsistentRead: true } },
    }))) as BatchGetItemCommandOutput;
    if (Object.keys(got.UnprocessedKeys ?? {}).length > 0) throw validation('the shim does not retry unprocessed keys');
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

    // All conditions hold: apply, 25 writes per BatchWriteItem.
    const writes = ops.map(({ action, key, pk, expressions }): WriteRequest => {
      if (action.Put) return { PutRequest: { Item: action.Put.Item as Item } };
      if (action.Delete) return { DeleteRequest: { Key: key } };
      return { PutRequest: { Item: applyUpdate(existing.get(pk), key, expressions) } };
    });
    const batches = Array.from({ length: Math.ceil(writes.length / 25) }, (_, i) => writes.slice(i * 25, i * 25 + 25));
    await mapWithConcurrency(batches, 8, async (batch) => {
      for (let pending: WriteRequest[] = batch; pending.length > 0;) {
        const out = await this.inner.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
        pending = out.UnprocessedItems?.[table] ?? [];
      }
    });
    return {};
  }
}
