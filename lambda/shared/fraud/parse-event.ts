/**
 * Contract section 1: a delivered Kinesis record → its user records (KPL de-aggregated by the batch
 * runtime's decoder) → a valid event or the first failing check's reason.
 */
import { decodeUnits } from '../batch/decode-units';
import { getAtPath } from '../dotted-path';
import { parseEventTime } from '../event-time';
import { isObject } from '../unknown';
import { MAX_CUSTOMER_ID_BYTES, utf8Bytes } from './item-size';
import { MAX_EVENT_ID_LENGTH, type FraudInvalidReason } from './spec';
import type { CompiledSpec } from './validate-spec';

export interface FraudEvent {
  readonly customerId: string;
  readonly eventId: string;
  /** Event time, epoch ms (UTC). */
  readonly timeMs: number;
  readonly amount: number;
  /** Per `schema.attributes`: the value as a string, or undefined when absent. */
  readonly attributes: readonly (string | undefined)[];
}

export type ParsedEvent = { readonly ok: true; readonly event: FraudEvent } | { readonly ok: false; readonly reason: FraudInvalidReason };

/** One user record of a shard, in arrival order. */
export interface FraudUnit {
  /** Index of the delivered Kinesis record it came from (its checkpoint identity). */
  readonly record: number;
  readonly sequenceNumber: string;
  readonly subSequence: number;
  readonly arrivalMs: number;
  /** The user record's bytes (for the failure and late sinks). */
  readonly bytes: Buffer;
  readonly parsed: ParsedEvent;
}

/** A Kinesis record as the event-source mapping delivers it (standard and enhanced fan-out alike). */
export interface KinesisEventRecord {
  readonly eventID: string;
  readonly eventSourceARN: string;
  readonly kinesis: {
    readonly sequenceNumber: string;
    readonly partitionKey: string;
    readonly data: string;
    /** Epoch seconds with a fraction. */
    readonly approximateArrivalTimestamp: number;
  };
}

const fail = (reason: FraudInvalidReason): ParsedEvent => ({ ok: false, reason });

/** customerId / eventId rule: a non-empty string, or a finite number as String(n). */
function idValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

function amountValue(v: unknown): number | 'missing' | 'invalid' {
  if (v === undefined || v === null) return 'missing';
  if (typeof v === 'number') return Number.isFinite(v) ? v : 'invalid';
  if (typeof v === 'string' && DECIMAL.test(v)) {
    const n = Number(v);
    // A decimal string too long for a double would make every feature Infinity.
    return Number.isFinite(n) ? n : 'invalid';
  }
  return 'invalid';
}

function attributeValue(v: unknown): string | undefined | 'invalid' {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') return String(v);
  return 'invalid';
}

/** Checks 2..7 of contract section 1 on a parsed JSON value (check 1, the parse, is the decoder's). */
export function parseFraudEvent(value: unknown, arrivalMs: number, c: CompiledSpec): ParsedEvent {
  if (!isObject(value)) return fail('invalid_json');
  const customerId = idValue(getAtPath(value, c.customerId));
  // Past MAX_CUSTOMER_ID_BYTES the window's key would pass DynamoDB's 2 KB key limit and block the shard.
  if (customerId === undefined || utf8Bytes(customerId) > MAX_CUSTOMER_ID_BYTES) return fail('missing_customer_id');
  const eventId = idValue(getAtPath(value, c.eventId));
  if (eventId === undefined) return fail('missing_event_id');
  if (eventId.length > MAX_EVENT_ID_LENGTH) return fail('event_id_too_long');
  const time = parseEventTime(getAtPath(value, c.eventTime), c.timeFormat);
  if (!time.ok) return fail(time.reason);
  const amount = amountValue(getAtPath(value, c.amount));
  if (amount === 'missing') return fail('missing_amount');
  if (amount === 'invalid') return fail('invalid_amount');
  const attributes: (string | undefined)[] = [];
  for (const path of c.attributes) {
    const a = attributeValue(getAtPath(value, path));
    if (a === 'invalid') return fail('invalid_attribute');
    attributes.push(a);
  }
  if (time.epochMillis > arrivalMs + c.spec.futureToleranceMs) return fail('event_time_in_future');
  return { ok: true, event: { customerId, eventId, timeMs: time.epochMillis, amount, attributes } };
}

/** The decoder's failure → the contract's reason: a corrupt aggregate, or bytes that are not JSON text. */
function decodeFailure(error: string): FraudInvalidReason {
  return error === 'kpl_corrupt' ? 'kpl_decode_error' : 'invalid_json';
}

/** A shard's delivered records → its user records, in order. */
export function fraudUnits(records: readonly KinesisEventRecord[], c: CompiledSpec): FraudUnit[] {
  const units: FraudUnit[] = [];
  records.forEach((r, record) => {
    const k = r.kinesis;
    const arrivalMs = Math.round(k.approximateArrivalTimestamp * 1000);
    const item = { failureId: k.sequenceNumber, payload: k.data, encoding: 'base64' as const, orderKey: k.partitionKey, partitionKey: k.partitionKey, index: record };
    for (const u of decodeUnits(item, 'json', true)) {
      const parsed = u.error !== undefined ? fail(decodeFailure(u.error)) : parseFraudEvent(u.value, arrivalMs, c);
      units.push({ record, sequenceNumber: k.sequenceNumber, subSequence: u.subSequence, arrivalMs, bytes: u.bytes, parsed });
    }
  });
  return units;
}
