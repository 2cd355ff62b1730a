/**
 * The state table's I/O for the scorer and the closer: batched reads, the GSI Query, transactions
 * and the shard registry, with throttling retried (backoff with full jitter) until the caller's
 * deadline. The client is injected (anything with the SDK's `send`), so tests count calls and inject
 * faults; build the SDK client with `maxAttempts: 1` to leave the retry budget to this store.
 */
import {
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  QueryCommand,
  type QueryCommandOutput,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { backoffDelayMs, realSleep } from '../retry';
import { errorName } from '../unknown';
import { isExpired, type Item } from './item-codec';
import { OPEN_INDEX } from './windows';

export interface DynamoSender {
  send(command: object): Promise<unknown>;
}

export interface StateStoreOptions {
  readonly client: DynamoSender;
  readonly table: string;
  /** Epoch ms past which no retry starts (the invocation's time budget). */
  readonly deadlineMs: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  /** Called for each throttled or transiently failed request. */
  readonly onThrottle?: () => void;
}

/** The time budget ran out while DynamoDB kept throttling. */
export class BudgetExhaustedError extends Error {
  override readonly name = 'BudgetExhaustedError';
  constructor(readonly last: unknown) {
    super(`DynamoDB kept failing until the time budget ran out: ${errorName(last)}`);
  }
}

const RETRYABLE = new Set([
  'ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'TransactionConflictException',
  'TransactionInProgressException', 'InternalServerError', 'ServiceUnavailable', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException',
]);
const RETRYABLE_REASONS = new Set(['ThrottlingError', 'TransactionConflict', 'ProvisionedThroughputExceeded']);

export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return RETRYABLE.has(errorName(error)) || code === 'ECONNRESET' || code === 'ETIMEDOUT';
}

/** A transaction's outcome: committed, or cancelled by conditions (the indexes of the actions whose condition failed). */
export type TransactOutcome = { readonly ok: true } | { readonly ok: false; readonly failed: number[] };

const BATCH_GET_KEYS = 100;

export class StateStore {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  constructor(private readonly o: StateStoreOptions) {
    this.now = o.now ?? Date.now;
    this.sleep = o.sleep ?? realSleep;
  }

  /** Calls `fn` until it succeeds, retrying retryable errors with backoff until the deadline. */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (let retry = 1; ; retry++) {
      try {
        return await fn();
      } catch (e) {
        if (!isRetryable(e)) throw e;
        await this.backoff(retry, e);
      }
    }
  }

  private async backoff(retry: number, last: unknown): Promise<void> {
    this.o.onThrottle?.();
    const delay = backoffDelayMs(retry, { baseMs: 25, maxMs: 1000, random: this.o.random });
    if (this.now() + delay > this.o.deadlineMs) throw new BudgetExhaustedError(last);
    await this.sleep(delay);
  }

  /** Strongly consistent reads of `pks`, 100 per call, unprocessed keys resent; expired items are left out. */
  async getItems(pks: readonly string[]): Promise<Map<string, Item>> {
    const out = new Map<string, Item>();
    const table = this.o.table;
    for (let i = 0; i < pks.length; i += BATCH_GET_KEYS) {
      let keys = pks.slice(i, i + BATCH_GET_KEYS).map((pk) => ({ pk: { S: pk } }));
      for (let retry = 1; keys.length > 0; retry++) {
        const res = (await this.retrying(() => this.o.client.send(new BatchGetItemCommand({
          RequestItems: { [table]: { Keys: keys, ConsistentRead: true } },
        })))) as BatchGetItemCommandOutput;
        for (const item of res.Responses?.[table] ?? []) {
          if (!isExpired(item as Item, this.now())) out.set(item.pk.S as string, item as Item);
        }
        keys = (res.UnprocessedKeys?.[table]?.Keys ?? []) as typeof keys;
        if (keys.length > 0) await this.backoff(retry, new Error('UnprocessedKeys'));
      }
    }
    return out;
  }

  /** The pks the GSI lists as open windows of `shardKey` with end <= maxEnd (all pages). */
  async openWindows(shardKey: string, maxEnd: number): Promise<string[]> {
    const pks: string[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = (await this.retrying(() => this.o.client.send(new QueryCommand({
        TableName: this.o.table, IndexName: OPEN_INDEX,
        KeyConditionExpression: 'openShard = :s AND #end <= :w',
        // END is a DynamoDB reserved word.
        ExpressionAttributeNames: { '#end': 'end', '#pk': 'pk' },
        ExpressionAttributeValues: { ':s': { S: shardKey }, ':w': { N: String(maxEnd) } },
        ProjectionExpression: '#pk',
        ExclusiveStartKey: start as QueryCommandOutput['LastEvaluatedKey'],
      })))) as QueryCommandOutput;
      for (const item of res.Items ?? []) pks.push(item.pk.S as string);
      start = res.LastEvaluatedKey;
    } while (start !== undefined);
    return pks;
  }

  /**
   * One TransactWriteItems: throttling and transaction conflicts are resent after a backoff;
   * cancellation by a condition comes back as the failed actions' indexes.
   */
  async transact(actions: TransactWriteItem[]): Promise<TransactOutcome> {
    for (let retry = 1; ; retry++) {
      try {
        await this.o.client.send(new TransactWriteItemsCommand({ TransactItems: actions }));
        return { ok: true };
      } catch (e) {
        const reasons = (e as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
        if (errorName(e) === 'TransactionCanceledException' && reasons !== undefined) {
          const failed = reasons.flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : []));
          if (failed.length > 0) return { ok: false, failed };
          if (!reasons.some((r) => RETRYABLE_REASONS.has(r.Code ?? ''))) throw e;
        } else if (!isRetryable(e)) {
          throw e;
        }
        await this.backoff(retry, e);
      }
    }
  }

  /** Adds the shard to the registry the closer reads (idempotent). */
  async register(shardKey: string, registryPk: string): Promise<void> {
    await this.retrying(() => this.o.client.send(new UpdateItemCommand({
      TableName: this.o.table, Key: { pk: { S: registryPk } },
      UpdateExpression: 'ADD #keys :k', ExpressionAttributeNames: { '#keys': 'keys' },
      ExpressionAttributeValues: { ':k': { SS: [shardKey] } },
    })));
  }
}
