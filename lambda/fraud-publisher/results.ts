/**
 * A closed window's result, as the results table row and as the lake stream record (contract
 * section 7).
 */
import { createHash } from 'node:crypto';
import type { FraudWindowResult } from '../shared/fraud/spec';
import type { PutRecordsEntry } from '../shared/put-records-packer';
import { isObject } from '../shared/unknown';

/** A DynamoDB attribute value as the SDK sends it. */
export type AttributeValue =
  | { S: string } | { N: string } | { BOOL: boolean } | { NULL: true }
  | { L: AttributeValue[] } | { M: Record<string, AttributeValue> };

/** DynamoDB numbers: magnitude in [1e-130, 1e126), and 0. */
const DDB_MAX = 9.9999999999999999e125;
const DDB_MIN = 1e-130;

/**
 * Plain JSON value → attribute value. A number DynamoDB cannot hold (magnitude past 1e126 or under
 * 1e-130, only reachable with absurd amounts) is stored as its JSON text (S) rather than refused,
 * so one freak window cannot block the stream. Lists stay lists (L), never sets: a set cannot be
 * empty and loses order.
 */
export function marshallValue(value: unknown): AttributeValue {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'boolean') return { BOOL: value };
  if (typeof value === 'number') {
    const magnitude = Math.abs(value);
    if (!Number.isFinite(value)) return { NULL: true };
    return value === 0 || (magnitude >= DDB_MIN && magnitude <= DDB_MAX) ? { N: String(value) } : { S: String(value) };
  }
  if (Array.isArray(value)) return { L: value.map(marshallValue) };
  if (isObject(value)) return { M: marshallItem(value) };
  throw new Error(`cannot store a ${typeof value} in DynamoDB`);
}

export function marshallItem(value: Record<string, unknown>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, marshallValue(v)]));
}

/** The results table's sort key: `${window_start}/${window_end}`. */
export const resultWindowKey = (result: FraudWindowResult): string => `${result.window_start}/${result.window_end}`;

/**
 * The results table row: hash key `customer_id`, range key `window`, then every field of the result
 * (distinct as a map of counts, the lists as lists).
 */
export function resultItem(result: FraudWindowResult): Record<string, AttributeValue> {
  return marshallItem({ ...result, customer_id: result.customer_id, window: resultWindowKey(result) });
}

/**
 * The lake record: the result with `distinct` flattened into one `distinct_<attr>` column per
 * attribute (in spec order, where `distinct` was), so the lake's table has plain numeric columns.
 * Returns an error string when a flattened name would collide with another field (an attribute
 * named `saturated`): the construct refuses such a spec, this keeps the row honest if one slips by.
 */
export function lakeRow(result: FraudWindowResult): Record<string, unknown> | string {
  const row: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(result)) {
    if (field !== 'distinct') {
      row[field] = value;
      continue;
    }
    for (const [attr, count] of Object.entries(value as Record<string, number>)) {
      const column = `distinct_${attr}`;
      if (column in result) return `lake column ${column} is both a field and a flattened distinct attribute`;
      row[column] = count;
    }
  }
  return row;
}

/** Kinesis partition keys are 1..256 characters (JS length counts UTF-16 units: never fewer). */
const MAX_PARTITION_KEY = 256;

/** The customer id, or its sha256 hex when it is too long to be a partition key (still one key per customer). */
export function lakePartitionKey(customerId: string): string {
  return customerId.length >= 1 && customerId.length <= MAX_PARTITION_KEY ? customerId : createHash('sha256').update(customerId, 'utf8').digest('hex');
}

export function lakeEntry(row: Record<string, unknown>, customerId: string): PutRecordsEntry {
  return { data: Buffer.from(JSON.stringify(row), 'utf8'), partitionKey: lakePartitionKey(customerId) };
}
