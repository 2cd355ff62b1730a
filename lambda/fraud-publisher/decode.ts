/**
 * Decoding the state table's stream (contract section 6): which records carry an alert to publish,
 * which a window closure whose result to publish, and which are none of the publisher's business.
 */
import type { FraudAlert, FraudWindowResult } from '../shared/fraud/spec';
import { isObject } from '../shared/unknown';

/** A DynamoDB attribute value as it arrives in a Lambda stream event (B as base64 text). */
export type StreamAttribute =
  | { S: string } | { N: string } | { B: string } | { BOOL: boolean } | { NULL: true }
  | { SS: string[] } | { NS: string[] } | { BS: string[] }
  | { L: StreamAttribute[] } | { M: Record<string, StreamAttribute> };

/** One record of a DynamoDB Streams event (the parts the publisher reads). */
export interface StreamRecord {
  readonly eventID?: string;
  readonly eventName?: string;
  readonly dynamodb?: {
    readonly SequenceNumber?: string;
    readonly Keys?: Record<string, unknown>;
    readonly NewImage?: Record<string, unknown>;
  };
}

/** Decodes an attribute value to plain JS: N → number, B → Buffer, sets → arrays. */
export function unmarshallValue(value: unknown): unknown {
  if (!isObject(value)) throw new Error('attribute value is not an object');
  const [type, v] = Object.entries(value)[0] ?? [];
  switch (type) {
    case 'S': return String(v);
    case 'N': return Number(v);
    case 'B': return Buffer.from(String(v), 'base64');
    case 'BOOL': return v === true;
    case 'NULL': return null;
    case 'SS': return (v as unknown[]).map(String);
    case 'NS': return (v as unknown[]).map(Number);
    case 'BS': return (v as unknown[]).map((b) => Buffer.from(String(b), 'base64'));
    case 'L': return (v as unknown[]).map(unmarshallValue);
    case 'M': return unmarshallImage(v);
    default: throw new Error(`unknown attribute type ${String(type)}`);
  }
}

/** Decodes an item image (attribute name → attribute value). */
export function unmarshallImage(image: unknown): Record<string, unknown> {
  if (!isObject(image)) throw new Error('image is not an object');
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, unmarshallValue(value)]));
}

/** What a stream record means to the publisher. */
export type Classified =
  | { readonly kind: 'alert'; readonly pk: string; readonly alert: FraudAlert }
  | { readonly kind: 'result'; readonly pk: string; readonly result: FraudWindowResult }
  /** Not ours: TTL REMOVEs, open windows, shard and registry items, our own deliveredAt MODIFYs. */
  | { readonly kind: 'ignored'; readonly why: string }
  /** Ours, but it can never be published (broken JSON, missing fields): retrying cannot fix it. */
  | { readonly kind: 'malformed'; readonly pk: string; readonly why: string };

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v !== '';
/** JSON turns a non-finite double (a sum that overflowed) into null; keep such a result publishable. */
const isNumberOrNull = (v: unknown): boolean => v === null || isFiniteNumber(v);
const isCountMap = (v: unknown): v is Record<string, number> => isObject(v) && Object.values(v).every(isFiniteNumber);

/** Why `value` is not a FraudAlert, or undefined when it is one. */
export function alertProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'alert is not a JSON object';
  for (const f of ['alert_id', 'customer_id', 'alert_key', 'triggering_event_id'] as const) {
    if (!isNonEmptyString(value[f])) return `alert.${f} is not a non-empty string`;
  }
  for (const f of ['window_start', 'window_end'] as const) {
    if (typeof value[f] !== 'string' || !ISO.test(value[f])) return `alert.${f} is not an ISO-8601 UTC time`;
  }
  if (!isStringArray(value.rules_hit)) return 'alert.rules_hit is not a list of strings';
  if (!isStringArray(value.evidence_event_ids)) return 'alert.evidence_event_ids is not a list of strings';
  if (!isFiniteNumber(value.score)) return 'alert.score is not a number';
  if (!isObject(value.features) || !isCountMap(value.features.distinct)) return 'alert.features is not a feature object';
  return undefined;
}

/** Why `value` is not a FraudWindowResult, or undefined when it is one. */
export function resultProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'result is not a JSON object';
  for (const f of ['result_id', 'customer_id'] as const) {
    if (!isNonEmptyString(value[f])) return `result.${f} is not a non-empty string`;
  }
  for (const f of ['window_start', 'window_end'] as const) {
    if (typeof value[f] !== 'string' || !ISO.test(value[f])) return `result.${f} is not an ISO-8601 UTC time`;
  }
  if (!isFiniteNumber(value.event_count)) return 'result.event_count is not a number';
  for (const f of ['amount_sum', 'amount_min', 'amount_max', 'amount_avg', 'score'] as const) {
    if (!isNumberOrNull(value[f])) return `result.${f} is not a number`;
  }
  if (!isCountMap(value.distinct)) return 'result.distinct is not a map of counts';
  for (const f of ['distinct_saturated', 'rules_hit', 'alerted'] as const) {
    if (!isStringArray(value[f])) return `result.${f} is not a list of strings`;
  }
  return undefined;
}

function parseJson(text: unknown): { value?: unknown; error?: string } {
  if (typeof text !== 'string') return { error: 'not a string attribute' };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    return { error: `not JSON (${(e as Error).message})` };
  }
}

/**
 * Classifies one stream record. Alert outbox items count on INSERT only (the publisher's own
 * `deliveredAt` update is a MODIFY of the same item, and must not publish it again); a window counts
 * when its image says `closed`, on INSERT or MODIFY (a window closed by the item that opened it is
 * an INSERT). The checks mirror the ESM filter (contract section 6), so a mapping without the filter
 * behaves the same.
 */
export function classify(record: StreamRecord): Classified {
  const eventName = record.eventName;
  const rawImage = record.dynamodb?.NewImage;
  if (eventName === 'REMOVE') return { kind: 'ignored', why: 'REMOVE' };
  if (rawImage === undefined) return { kind: 'ignored', why: 'no NewImage' };
  let image: Record<string, unknown>;
  try {
    image = unmarshallImage(rawImage);
  } catch (e) {
    return { kind: 'malformed', pk: '', why: `undecodable image: ${(e as Error).message}` };
  }
  const pk = typeof image.pk === 'string' ? image.pk : '';
  if (image.kind === 'alert') {
    if (eventName !== 'INSERT') return { kind: 'ignored', why: `alert ${String(eventName)}` };
    const parsed = parseJson(image.alert);
    const problem = parsed.error ? `alert attribute ${parsed.error}` : alertProblem(parsed.value);
    if (problem) return { kind: 'malformed', pk, why: problem };
    return { kind: 'alert', pk, alert: parsed.value as FraudAlert };
  }
  if (image.status === 'closed' && (eventName === 'INSERT' || eventName === 'MODIFY')) {
    const parsed = parseJson(image.result);
    const problem = parsed.error ? `result attribute ${parsed.error}` : resultProblem(parsed.value);
    if (problem) return { kind: 'malformed', pk, why: problem };
    return { kind: 'result', pk, result: parsed.value as FraudWindowResult };
  }
  return { kind: 'ignored', why: `kind ${String(image.kind)}${image.status !== undefined ? `/${String(image.status)}` : ''}` };
}
