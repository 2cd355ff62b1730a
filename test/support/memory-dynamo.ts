/**
 * An in-memory DynamoDB for the fraud engine's tests: one table with a string hash key `pk`, the
 * sparse GSI `open` (openShard, end), and the calls the engine sends (BatchGetItem, Query on the GSI,
 * TransactWriteItems of conditional Puts, UpdateItem ADD of a string set). Transactions are checked as
 * DynamoDB checks them (1..100 actions, one action per item, 4 MB of items, 400 KB per item) and
 * honour their conditions: any failing one cancels all, with one CancellationReason per action.
 * Only the condition forms the engine writes are understood; any other expression throws, so a new
 * form cannot be silently approximated.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  QueryCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { itemSize, type Item } from '../../lambda/shared/fraud/item-codec';
import type { DynamoSender } from '../../lambda/shared/fraud/state-store';

export type DynamoOperation = 'BatchGetItem' | 'Query' | 'TransactWriteItems' | 'UpdateItem';

function validation(message: string): Error {
  return Object.assign(new Error(message), { name: 'ValidationException' });
}

/** Evaluates the engine's condition forms against the stored item (undefined = absent). */
export function conditionHolds(expression: string, values: Item | undefined, old: Item | undefined): boolean {
  return expression.split(' OR ').some((part) => {
    const p = part.trim();
    if (p === 'attribute_not_exists(pk)') return old === undefined;
    let m = /^(\w+) = (:\w+)$/.exec(p);
    if (m) return old?.[m[1]]?.N !== undefined && Number(old[m[1]].N) === Number(values?.[m[2]]?.N);
    m = /^(\w+) < (:\w+)$/.exec(p);
    if (m) return old?.[m[1]]?.N !== undefined && Number(old[m[1]].N) < Number(values?.[m[2]]?.N);
    throw validation(`memory-dynamo does not understand the condition '${p}'`);
  });
}

export class MemoryDynamo implements DynamoSender {
  readonly items = new Map<string, Item>();
  readonly calls: Record<DynamoOperation, number> = { BatchGetItem: 0, Query: 0, TransactWriteItems: 0, UpdateItem: 0 };

  get totalCalls(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0);
  }

  async send(command: object): Promise<unknown> {
    if (command instanceof BatchGetItemCommand) return this.batchGet(command);
    if (command instanceof QueryCommand) return this.query(command);
    if (command instanceof TransactWriteItemsCommand) return this.transact(command.input.TransactItems ?? []);
    if (command instanceof UpdateItemCommand) return this.update(command);
    throw validation(`memory-dynamo: unsupported command ${command.constructor.name}`);
  }

  private batchGet(command: BatchGetItemCommand): unknown {
    this.calls.BatchGetItem++;
    const [[table, request]] = Object.entries(command.input.RequestItems ?? {});
    const keys = request.Keys ?? [];
    if (keys.length === 0 || keys.length > 100) throw validation(`BatchGetItem takes 1..100 keys, got ${keys.length}`);
    const ids = keys.map((k) => k.pk.S as string);
    if (new Set(ids).size !== ids.length) throw validation('Provided list of item keys contains duplicates');
    const found = ids.flatMap((id) => (this.items.has(id) ? [structuredClone(this.items.get(id) as Item)] : []));
    return { Responses: { [table]: found }, UnprocessedKeys: {} };
  }

  private query(command: QueryCommand): unknown {
    this.calls.Query++;
    const input = command.input;
    if (input.IndexName !== 'open' || input.KeyConditionExpression !== 'openShard = :s AND #end <= :w') throw validation(`memory-dynamo: unsupported query ${JSON.stringify(input)}`);
    const shard = input.ExpressionAttributeValues?.[':s'].S;
    const w = Number(input.ExpressionAttributeValues?.[':w'].N);
    const rows = [...this.items.values()].filter((i) => i.openShard?.S === shard && i.end?.N !== undefined && Number(i.end.N) <= w);
    rows.sort((a, b) => Number(a.end.N) - Number(b.end.N) || (a.pk.S as string).localeCompare(b.pk.S as string));
    return { Items: rows.map((i) => ({ pk: i.pk, openShard: i.openShard, end: i.end })) };
  }

  private update(command: UpdateItemCommand): unknown {
    this.calls.UpdateItem++;
    const input = command.input;
    if (input.UpdateExpression !== 'ADD #keys :k') throw validation(`memory-dynamo: unsupported update ${input.UpdateExpression}`);
    const pk = input.Key?.pk.S as string;
    const item = this.items.get(pk) ?? { pk: { S: pk } };
    const set = new Set([...(item.keys?.SS ?? []), ...(input.ExpressionAttributeValues?.[':k'].SS ?? [])]);
    this.items.set(pk, { ...item, keys: { SS: [...set] } });
    return {};
  }

  /** Validates, evaluates every condition, then applies every Put, or none. */
  transact(actions: TransactWriteItem[]): unknown {
    this.calls.TransactWriteItems++;
    if (actions.length === 0 || actions.length > 100) throw validation(`TransactItems must have 1..100 items, got ${actions.length}`);
    const puts = actions.map((a) => {
      if (!a.Put || a.Update || a.Delete || a.ConditionCheck) throw validation('memory-dynamo applies Put actions only');
      const item = a.Put.Item as Item;
      if (itemSize(item) > 400 * 1024) throw validation('Item size has exceeded the maximum allowed size');
      return a.Put;
    });
    const ids = puts.map((p) => p.Item?.pk.S as string);
    if (new Set(ids).size !== ids.length) throw validation('Transaction request cannot include multiple operations on one item');
    if (puts.reduce((n, p) => n + itemSize(p.Item as Item), 0) > 4 * 1024 * 1024) throw validation('Transaction size exceeds 4 MB');
    const reasons = puts.map((p, i) => {
      const ok = p.ConditionExpression === undefined || conditionHolds(p.ConditionExpression, p.ExpressionAttributeValues as Item | undefined, this.items.get(ids[i]));
      return ok ? { Code: 'None' } : { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' };
    });
    if (reasons.some((r) => r.Code !== 'None')) {
      throw new TransactionCanceledException({ message: `Transaction cancelled [${reasons.map((r) => r.Code).join(', ')}]`, $metadata: {}, CancellationReasons: reasons });
    }
    puts.forEach((p, i) => this.items.set(ids[i], structuredClone(p.Item as Record<string, AttributeValue>)));
    return {};
  }
}
