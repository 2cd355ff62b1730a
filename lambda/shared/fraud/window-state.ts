/**
 * One customer-window's state (contract section 3): features, capped distinct sets, the event-id
 * dedup set, the recent ids ring and the fired alert keys; applying an event, deciding its alerts
 * and closing it into a FraudWindowResult.
 */
import { alertId, resultId, valueHash, windowIso } from './ids';
import { SCORE_ALERT_KEY, type FraudAlert, type FraudFeatures, type FraudSpec, type FraudWindowResult, type WindowBounds } from './spec';
import type { FraudEvent } from './parse-event';
import { windowPk } from './windows';

export interface WindowState {
  readonly pk: string;
  readonly customerId: string;
  readonly bounds: WindowBounds;
  /** Shard key of the shard whose first event created it: its watermark closes it. */
  readonly owner: string;
  status: 'open' | 'closed';
  /** Stored version; 0 when the item does not exist yet (or expired). */
  readonly v: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** 8-byte hashes of the accepted event ids. */
  readonly ids: Set<string>;
  /** Per attribute: 8-byte hashes of its distinct values, at most distinctCap. */
  readonly distinct: Set<string>[];
  /** The last evidenceEventIds accepted ids, oldest first. */
  recent: string[];
  /** Alert keys fired, in firing order. */
  readonly fired: string[];
  /** The result JSON once closed. */
  result?: string;
}

export function newWindow(spec: FraudSpec, customerId: string, bounds: WindowBounds, owner: string): WindowState {
  return {
    pk: windowPk(customerId, bounds), customerId, bounds, owner, status: 'open', v: 0,
    count: 0, sum: 0, min: Infinity, max: -Infinity, ids: new Set(),
    distinct: spec.schema.attributes.map(() => new Set<string>()), recent: [], fired: [],
  };
}

/** A copy the scorer may mutate without touching what was read. */
export function cloneWindow(w: WindowState): WindowState {
  return { ...w, ids: new Set(w.ids), distinct: w.distinct.map((d) => new Set(d)), recent: [...w.recent], fired: [...w.fired] };
}

export function features(spec: FraudSpec, w: WindowState): FraudFeatures {
  const distinct: Record<string, number> = {};
  spec.schema.attributes.forEach((a, i) => (distinct[a] = w.distinct[i].size));
  return { count: w.count, sum: w.sum, min: w.min, max: w.max, avg: w.sum / w.count, distinct };
}

/** The rules holding on `f` (spec order) and the sum of their weights. */
export function evaluateRules(spec: FraudSpec, f: FraudFeatures): { hits: string[]; score: number } {
  const hits: string[] = [];
  let score = 0;
  for (const r of spec.rules) {
    const value = r.feature === 'distinct' ? f.distinct[r.attribute as string] : f[r.feature];
    if (value > r.threshold) {
      hits.push(r.id);
      score += r.weight;
    }
  }
  return { hits, score };
}

/** Applies a valid event to an open window (the caller has checked dup, late and full). */
export function applyEvent(spec: FraudSpec, w: WindowState, e: FraudEvent, idHash: string): void {
  w.count += 1;
  w.sum += e.amount;
  if (e.amount < w.min) w.min = e.amount;
  if (e.amount > w.max) w.max = e.amount;
  e.attributes.forEach((value, i) => {
    const set = w.distinct[i];
    if (value !== undefined && set.size < spec.distinctCap) set.add(valueHash(value));
  });
  w.ids.add(idHash);
  w.recent.push(e.eventId);
  if (w.recent.length > spec.evidenceEventIds) w.recent = w.recent.slice(w.recent.length - spec.evidenceEventIds);
}

/** The alerts `triggering` decides on `w` right after it was applied; records their keys as fired. */
export function decideAlerts(spec: FraudSpec, w: WindowState, triggering: string): FraudAlert[] {
  const f = features(spec, w);
  const { hits, score } = evaluateRules(spec, f);
  let keys: string[];
  if (spec.alert.kind === 'anyRule') keys = hits.filter((id) => !w.fired.includes(id));
  else keys = score >= spec.alert.score && !w.fired.includes(SCORE_ALERT_KEY) ? [SCORE_ALERT_KEY] : [];
  return keys.map((key) => {
    w.fired.push(key);
    return {
      alert_id: alertId(w.customerId, w.bounds, key), customer_id: w.customerId,
      window_start: windowIso(w.bounds.startMs), window_end: windowIso(w.bounds.endMs), alert_key: key,
      rules_hit: hits, score, features: f, triggering_event_id: triggering, evidence_event_ids: [...w.recent],
    };
  });
}

/** The window's one final result, on its final features. */
export function windowResult(spec: FraudSpec, w: WindowState): FraudWindowResult {
  const f = features(spec, w);
  const { hits, score } = evaluateRules(spec, f);
  return {
    result_id: resultId(w.customerId, w.bounds), customer_id: w.customerId,
    window_start: windowIso(w.bounds.startMs), window_end: windowIso(w.bounds.endMs),
    event_count: f.count, amount_sum: f.sum, amount_min: f.min, amount_max: f.max, amount_avg: f.avg,
    distinct: f.distinct,
    distinct_saturated: spec.schema.attributes.filter((_a, i) => w.distinct[i].size >= spec.distinctCap),
    score, rules_hit: hits, alerted: [...w.fired],
  };
}

/** Closes `w` (status closed, result set) and returns its result. */
export function closeWindow(spec: FraudSpec, w: WindowState): FraudWindowResult {
  const result = windowResult(spec, w);
  w.status = 'closed';
  w.result = JSON.stringify(result);
  return result;
}
