/**
 * The pure half of bench/fraud-naive.ts: the FraudPipeline contract (/work FRAUD-CONTRACT.md sections 1-5)
 * written out as plainly as possible: parsing an event, its windows, applying it to a window's state,
 * alerts, and the closed window's result. No I/O; the naive engine does one read and one write around it.
 */
import { createHash } from 'node:crypto';
import { getAtPath, parseDottedPath, type DottedPath } from '../lambda/shared/dotted-path';
import { parseEventTime } from '../lambda/shared/event-time';
import {
  type FraudAlert, type FraudFeatures, type FraudInvalidReason, type FraudRuleSpec, type FraudSpec,
  type FraudWindowResult, MAX_EVENT_ID_LENGTH, SCORE_ALERT_KEY, type WindowBounds,
} from '../lambda/shared/fraud/spec';
import { isObject } from '../lambda/shared/unknown';

export interface FraudEvent {
  readonly customerId: string;
  readonly eventId: string;
  readonly t: number;
  readonly amount: number;
  /** Per schema attribute (same order): its value, or undefined when absent. */
  readonly attributes: readonly (string | undefined)[];
}

export type Parsed = { ok: true; event: FraudEvent } | { ok: false; reason: FraudInvalidReason };

export interface Paths {
  readonly customerId: DottedPath;
  readonly eventId: DottedPath;
  readonly eventTime: DottedPath;
  readonly amount: DottedPath;
  readonly attributes: readonly DottedPath[];
}

export function compilePaths(spec: FraudSpec): Paths {
  return {
    customerId: parseDottedPath(spec.schema.customerId, 'customerId'),
    eventId: parseDottedPath(spec.schema.eventId, 'eventId'),
    eventTime: parseDottedPath(spec.schema.eventTime.field, 'eventTime'),
    amount: parseDottedPath(spec.schema.amount, 'amount'),
    attributes: spec.schema.attributes.map((a) => parseDottedPath(a, 'attribute')),
  };
}

const AMOUNT_TEXT = /^-?\d+(\.\d+)?$/;

/** An id field: a non-empty string, or a finite number as its String(). */
function idOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Contract section 1, checks in order; the first failing one is the reason. */
export function parseEvent(data: Buffer, arrivalMs: number, spec: FraudSpec, paths: Paths): Parsed {
  const fail = (reason: FraudInvalidReason): Parsed => ({ ok: false, reason });
  let doc: unknown;
  try {
    doc = JSON.parse(data.toString('utf8'));
  } catch {
    return fail('invalid_json');
  }
  if (!isObject(doc)) return fail('invalid_json');
  const customerId = idOf(getAtPath(doc, paths.customerId));
  if (customerId === undefined) return fail('missing_customer_id');
  const eventId = idOf(getAtPath(doc, paths.eventId));
  if (eventId === undefined) return fail('missing_event_id');
  if (eventId.length > MAX_EVENT_ID_LENGTH) return fail('event_id_too_long');
  const time = parseEventTime(getAtPath(doc, paths.eventTime), spec.schema.eventTime.format);
  if (!time.ok) return fail(time.reason);
  const rawAmount = getAtPath(doc, paths.amount);
  let amount: number;
  if (rawAmount === undefined || rawAmount === null) return fail('missing_amount');
  if (typeof rawAmount === 'number' && Number.isFinite(rawAmount)) amount = rawAmount;
  else if (typeof rawAmount === 'string' && AMOUNT_TEXT.test(rawAmount)) amount = Number(rawAmount);
  else return fail('invalid_amount');
  const attributes: (string | undefined)[] = [];
  for (const path of paths.attributes) {
    const v = getAtPath(doc, path);
    if (v === undefined || v === null) attributes.push(undefined);
    else if (typeof v === 'string') attributes.push(v);
    else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') attributes.push(String(v));
    else return fail('invalid_attribute');
  }
  if (time.epochMillis > arrivalMs + spec.futureToleranceMs) return fail('event_time_in_future');
  return { ok: true, event: { customerId, eventId, t: time.epochMillis, amount, attributes } };
}

/** Contract section 2: every [s, s+size) with s a multiple of slide holding t, ascending. */
export function windowsOf(t: number, spec: FraudSpec): WindowBounds[] {
  const { sizeMs, slideMs } = spec.window;
  const out: WindowBounds[] = [];
  for (let s = Math.floor(t / slideMs) * slideMs; s + sizeMs > t; s -= slideMs) out.unshift({ startMs: s, endMs: s + sizeMs });
  return out;
}

/** A customer-window's state, as the naive engine stores it (JSON in one attribute). */
export interface WindowState {
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Per schema attribute: its distinct values (at most distinctCap). */
  distinct: string[][];
  /** Every accepted event id (dedup). */
  ids: string[];
  /** The last evidenceEventIds accepted ids, oldest first. */
  recent: string[];
  /** Alert keys fired, in firing order. */
  fired: string[];
}

export function emptyState(spec: FraudSpec): WindowState {
  return { count: 0, sum: 0, min: Infinity, max: -Infinity, distinct: spec.schema.attributes.map(() => []), ids: [], recent: [], fired: [] };
}

export function features(state: WindowState, spec: FraudSpec): FraudFeatures {
  return {
    count: state.count,
    sum: state.sum,
    min: state.min,
    max: state.max,
    avg: state.sum / state.count,
    distinct: Object.fromEntries(spec.schema.attributes.map((a, i) => [a, state.distinct[i].length])),
  };
}

function featureValue(rule: FraudRuleSpec, f: FraudFeatures): number {
  if (rule.feature === 'distinct') return f.distinct[rule.attribute as string];
  return f[rule.feature];
}

export function rulesHolding(f: FraudFeatures, spec: FraudSpec): FraudRuleSpec[] {
  return spec.rules.filter((r) => featureValue(r, f) > r.threshold);
}

const sha32 = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 32);
export const alertId = (c: string, w: WindowBounds, key: string): string => sha32(`alert|${c}|${w.startMs}|${w.endMs}|${key}`);
export const resultId = (c: string, w: WindowBounds): string => sha32(`result|${c}|${w.startMs}|${w.endMs}`);
const iso = (ms: number): string => new Date(ms).toISOString();

/** Applies e to w's state (mutating it) and returns the alerts it fires (contract section 3, "Applying e to window w"). */
export function applyEvent(state: WindowState, e: FraudEvent, w: WindowBounds, spec: FraudSpec): FraudAlert[] {
  state.count += 1;
  state.sum += e.amount;
  state.min = Math.min(state.min, e.amount);
  state.max = Math.max(state.max, e.amount);
  e.attributes.forEach((v, i) => {
    const set = state.distinct[i];
    if (v !== undefined && set.length < spec.distinctCap && !set.includes(v)) set.push(v);
  });
  state.ids.push(e.eventId);
  state.recent.push(e.eventId);
  if (state.recent.length > spec.evidenceEventIds) state.recent.splice(0, state.recent.length - spec.evidenceEventIds);

  const f = features(state, spec);
  const holding = rulesHolding(f, spec);
  const score = holding.reduce((n, r) => n + r.weight, 0);
  const keys = spec.alert.kind === 'anyRule'
    ? holding.map((r) => r.id).filter((id) => !state.fired.includes(id))
    : (score >= spec.alert.score && !state.fired.includes(SCORE_ALERT_KEY) ? [SCORE_ALERT_KEY] : []);
  return keys.map((key): FraudAlert => {
    state.fired.push(key);
    return {
      alert_id: alertId(e.customerId, w, key),
      customer_id: e.customerId,
      window_start: iso(w.startMs),
      window_end: iso(w.endMs),
      alert_key: key,
      rules_hit: holding.map((r) => r.id),
      score,
      features: f,
      triggering_event_id: e.eventId,
      evidence_event_ids: [...state.recent],
    };
  });
}

/** The one result of a closed customer-window (contract section 5). */
export function windowResult(customerId: string, w: WindowBounds, state: WindowState, spec: FraudSpec): FraudWindowResult {
  const f = features(state, spec);
  const holding = rulesHolding(f, spec);
  return {
    result_id: resultId(customerId, w),
    customer_id: customerId,
    window_start: iso(w.startMs),
    window_end: iso(w.endMs),
    event_count: f.count,
    amount_sum: f.sum,
    amount_min: f.min,
    amount_max: f.max,
    amount_avg: f.avg,
    distinct: f.distinct,
    distinct_saturated: spec.schema.attributes.filter((_, i) => state.distinct[i].length >= spec.distinctCap),
    score: holding.reduce((n, r) => n + r.weight, 0),
    rules_hit: holding.map((r) => r.id),
    alerted: [...state.fired],
  };
}
