/**
 * The example consumer's pure core: validates an order event and says which
 * running total it moves. No AWS here; index.ts applies the update.
 */
import { PoisonRecordError } from 'cdk-streaming-pipelines/runtime';

/** One order's contribution to a customer's running total. */
export interface TotalUpdate {
  /** The customer whose total moves (the table's partition key). */
  readonly customerId: string;
  /** The order amount in cents: integers keep the DynamoDB ADD exact. */
  readonly amountCents: number;
}

/**
 * Reads `customer_id` (integer) and `amount` (a number with at most 2 decimals)
 * from a clickstream event. A record that can never succeed throws
 * PoisonRecordError, so the runtime fails it once instead of retrying it.
 */
export function totalUpdateOf(record: unknown): TotalUpdate {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new PoisonRecordError('event must be a JSON object');
  }
  const { customer_id: customer, amount } = record as Record<string, unknown>;
  if (typeof customer !== 'number' || !Number.isSafeInteger(customer)) {
    throw new PoisonRecordError(`customer_id must be an integer, got ${JSON.stringify(customer)}`);
  }
  if (typeof amount !== 'number' || !Number.isFinite(amount)) {
    throw new PoisonRecordError(`amount must be a number, got ${JSON.stringify(amount)}`);
  }
  const cents = Math.round(amount * 100);
  if (Math.abs(cents - amount * 100) > 1e-6 * Math.max(1, Math.abs(amount))) {
    throw new PoisonRecordError(`amount must have at most 2 decimals, got ${amount}`);
  }
  return { customerId: String(customer), amountCents: cents };
}
