/**
 * Packing a batch's writes into TransactWriteItems calls: at most 100 actions and 4 MB of items per
 * call (DynamoDB's limits); a window item and the alert items it decided stay in one call, so an
 * alert exists exactly when the window state that decided it does. Every Put is conditional: a window
 * on the version read (or on not existing, or having expired), an alert on not existing, the shard
 * item on its version.
 */
import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { encodeAlert, encodeShard, encodeWindow, itemSize, nowSeconds, type Item, type ShardState } from './item-codec';
import type { FraudAlert, FraudSpec } from './spec';
import type { WindowState } from './window-state';

export const MAX_TRANSACTION_ACTIONS = 100;
/** DynamoDB's 4 MB per transaction, less room for the request's own overhead. */
export const MAX_TRANSACTION_BYTES = 4_000_000;

export interface PendingWrite {
  readonly state: WindowState;
  readonly expectedV: number;
  readonly firstUnit: number;
  readonly alerts: readonly FraudAlert[];
}

export type ActionKind = 'window' | 'alert' | 'shard';

/** One TransactWriteItems call, and what its actions are. */
export interface Transaction {
  readonly actions: TransactWriteItem[];
  readonly kinds: ActionKind[];
  /** The pending writes whose window is in it. */
  readonly writes: PendingWrite[];
  bytes: number;
}

const ABSENT = 'attribute_not_exists(pk) OR expiresAt < :now';

function put(table: string, item: Item, condition: string, values: Item): TransactWriteItem {
  return { Put: { TableName: table, Item: item, ConditionExpression: condition, ExpressionAttributeValues: values } };
}

function windowPut(spec: FraudSpec, table: string, w: PendingWrite, nowMs: number): TransactWriteItem {
  const item = encodeWindow(spec, w.state, w.expectedV + 1);
  // An expired item may still be there (TTL deletes lazily): it counts as absent.
  if (w.expectedV === 0) return put(table, item, ABSENT, { ':now': { N: String(nowSeconds(nowMs)) } });
  return put(table, item, 'v = :v', { ':v': { N: String(w.expectedV) } });
}

export function alertPut(table: string, alert: FraudAlert, nowMs: number): TransactWriteItem {
  return put(table, encodeAlert(alert, nowMs), ABSENT, { ':now': { N: String(nowSeconds(nowMs)) } });
}

/** The shard item at version v+1, conditional on version v (or on not existing). */
export function shardPut(table: string, shard: ShardState): TransactWriteItem {
  const item = encodeShard(shard, shard.v + 1);
  if (shard.v === 0) return { Put: { TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } };
  return put(table, item, 'v = :v', { ':v': { N: String(shard.v) } });
}

function sizeOf(action: TransactWriteItem): number {
  return itemSize(action.Put?.Item ?? {});
}

/**
 * The writes (in order) in as few calls as the limits allow; the shard item, when given, rides in the
 * last call when it fits there (written last, and one call fewer per batch), else in a call of its own.
 */
export function packTransactions(spec: FraudSpec, table: string, writes: readonly PendingWrite[], nowMs: number, shard?: ShardState): Transaction[] {
  const out: Transaction[] = [];
  let cur: Transaction | undefined;
  for (const w of writes) {
    const actions = [windowPut(spec, table, w, nowMs), ...w.alerts.map((a) => alertPut(table, a, nowMs))];
    const bytes = actions.reduce((n, a) => n + sizeOf(a), 0);
    if (cur === undefined || cur.actions.length + actions.length > MAX_TRANSACTION_ACTIONS || cur.bytes + bytes > MAX_TRANSACTION_BYTES) {
      cur = { actions: [], kinds: [], writes: [], bytes: 0 };
      out.push(cur);
    }
    cur.actions.push(...actions);
    cur.kinds.push('window', ...w.alerts.map((): ActionKind => 'alert'));
    cur.writes.push(w);
    cur.bytes += bytes;
  }
  if (shard !== undefined) {
    const action = shardPut(table, shard);
    const bytes = sizeOf(action);
    if (cur === undefined || cur.actions.length + 1 > MAX_TRANSACTION_ACTIONS || cur.bytes + bytes > MAX_TRANSACTION_BYTES) {
      cur = { actions: [], kinds: [], writes: [], bytes: 0 };
      out.push(cur);
    }
    cur.actions.push(action);
    cur.kinds.push('shard');
    cur.bytes += bytes;
  }
  return out;
}
