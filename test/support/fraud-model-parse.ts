/**
 * The reference model's event parsing: FRAUD-CONTRACT.md section 1, checks 1-7 in order.
 *
 * Uses the project's own parsers (lambda/shared/dotted-path.ts, lambda/shared/event-time.ts) where the
 * contract names them, so the model and every engine read a payload identically; everything else is
 * written out here from the contract, independently of any engine.
 */

import { getAtPath, parseDottedPath, type DottedPath } from '../../lambda/shared/dotted-path';
import { parseEventTime } from '../../lambda/shared/event-time';
import { MAX_EVENT_ID_LENGTH, type FraudInvalidReason, type FraudSpec } from '../../lambda/shared/fraud/spec';
import { isObject } from '../../lambda/shared/unknown';

/** A valid event: what the windowing step needs. */
export interface ModelEvent {
  readonly customerId: string;
  readonly eventId: string;
  /** Event time, UTC epoch ms. */
  readonly t: number;
  readonly amount: number;
  /** Attribute values present in the event (absent ones are not keys), as strings. */
  readonly attributes: ReadonlyMap<string, string>;
  /** The parsed payload (the late sink carries it). */
  readonly payload: Record<string, unknown>;
}

export type ParseOutcome = { readonly ok: true; readonly event: ModelEvent } | { readonly ok: false; readonly reason: FraudInvalidReason };

/** Contract 1.5: a decimal string amount (no exponent, no `+`, no leading dot). */
const AMOUNT_STRING = /^-?\d+(\.\d+)?$/;

/** The spec's dotted paths, parsed once (a bad path throws, as an engine's init would). */
export interface SchemaPaths {
  readonly customerId: DottedPath;
  readonly eventId: DottedPath;
  readonly eventTime: DottedPath;
  readonly amount: DottedPath;
  readonly attributes: readonly { readonly name: string; readonly path: DottedPath }[];
}

export function schemaPaths(spec: FraudSpec): SchemaPaths {
  const s = spec.schema;
  return {
    customerId: parseDottedPath(s.customerId, 'schema.customerId'),
    eventId: parseDottedPath(s.eventId, 'schema.eventId'),
    eventTime: parseDottedPath(s.eventTime.field, 'schema.eventTime.field'),
    amount: parseDottedPath(s.amount, 'schema.amount'),
    attributes: s.attributes.map((name, i) => ({ name, path: parseDottedPath(name, `schema.attributes[${i}]`) })),
  };
}

/** Contract 1.2/1.3: a non-empty string, or a finite number as `String(n)`; anything else is missing. */
function identity(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * Contract 1.5. A decimal string too long for a double (`Number` gives Infinity) is `invalid_amount`:
 * the contract asks for a finite amount everywhere else, and Infinity would poison every sum.
 */
function amountOf(value: unknown): number | FraudInvalidReason {
  if (value === undefined || value === null) return 'missing_amount';
  if (typeof value === 'number') return Number.isFinite(value) ? value : 'invalid_amount';
  if (typeof value === 'string' && AMOUNT_STRING.test(value)) {
    const n = Number(value);
    return Number.isFinite(n) ? n : 'invalid_amount';
  }
  return 'invalid_amount';
}

/** Contract 1.6: absent (undefined), the value as a string, or invalid (null return). */
function attributeOf(value: unknown): { readonly value?: string } | null {
  if (value === undefined || value === null) return {};
  if (typeof value === 'string') return { value };
  if (typeof value === 'number' && Number.isFinite(value)) return { value: String(value) };
  if (typeof value === 'boolean') return { value: String(value) };
  return null;
}

/**
 * Parses one record's text (the UTF-8 data of one de-aggregated Kinesis record) arriving at `arrivalMs`.
 * The first failing check, in the contract's order, is the reason.
 */
export function parseFraudEvent(spec: FraudSpec, paths: SchemaPaths, text: string, arrivalMs: number): ParseOutcome {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'invalid_json' };
  }
  if (!isObject(root)) return { ok: false, reason: 'invalid_json' };

  const customerId = identity(getAtPath(root, paths.customerId));
  if (customerId === undefined) return { ok: false, reason: 'missing_customer_id' };

  const eventId = identity(getAtPath(root, paths.eventId));
  if (eventId === undefined) return { ok: false, reason: 'missing_event_id' };
  // "Characters" are JavaScript string length (UTF-16 code units), as every Node engine measures it.
  if (eventId.length > MAX_EVENT_ID_LENGTH) return { ok: false, reason: 'event_id_too_long' };

  const time = parseEventTime(getAtPath(root, paths.eventTime), spec.schema.eventTime.format);
  if (!time.ok) return { ok: false, reason: time.reason };

  const amount = amountOf(getAtPath(root, paths.amount));
  if (typeof amount === 'string') return { ok: false, reason: amount };

  const attributes = new Map<string, string>();
  for (const { name, path } of paths.attributes) {
    const attr = attributeOf(getAtPath(root, path));
    if (attr === null) return { ok: false, reason: 'invalid_attribute' };
    if (attr.value !== undefined) attributes.set(name, attr.value);
  }

  if (time.epochMillis > arrivalMs + spec.futureToleranceMs) return { ok: false, reason: 'event_time_in_future' };

  return { ok: true, event: { customerId, eventId, t: time.epochMillis, amount, attributes, payload: root } };
}
