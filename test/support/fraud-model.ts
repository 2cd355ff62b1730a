/**
 * THE REFERENCE MODEL of FraudPipeline (FRAUD-CONTRACT.md sections 1-5): small, in memory, obviously
 * correct rather than fast. Every engine (the Lambda scorer now, Flink later) is checked against it.
 *
 * API
 * - `runFraudModel(spec, input)` → `FraudModelOutput`: runs a whole corpus-style input.
 * - `new FraudModel(spec)`, then `.push(item)` per input item (returns that item's `Disposition`) and
 *   `.output()` at any point: the incremental form, for comparing an engine batch by batch.
 * - `expectedOf(output)` → exactly the corpus file's `expected` block (section 9), for deep equality.
 * - `alertId`, `resultId`, `windowIso`, `windowsOf`: the contract's formulas (section 2, section 5).
 *
 * Input items are the corpus format: `{ shard, arrivalMs, data }` (data is JSON-encoded to make the
 * record's text), `{ shard, arrivalMs, raw }` (the record's text as is) or `{ shard, tick: { nowMs } }`.
 * Wall clock: the model processes each record at its `arrivalMs` and a tick at its `nowMs`; that "now"
 * only matters for state TTL (contract section 6: an item with expiresAt < now, in seconds, is absent).
 *
 * Besides the expectations, the output exposes what an engine writes elsewhere, so a comparison can
 * check that no event is lost or counted twice: `lateSink` (section 7 late-sink lines), `failures`
 * (failure-destination lines) and `dispositions` (one per input item: exactly one of applied /
 * duplicate / late (which may also have applied windows) / invalid, or tick).
 *
 * TTL, literally (section 6: an expired item is absent): an open window whose TTL passes before its
 * watermark closes it is dropped without a result (or replaced by a new item if an event comes for it);
 * `expiredOpen` counts these. It is an edge where "now" (arrival vs processing time) decides the outcome,
 * so fraud-streams.ts never produces it and its test asserts the count is 0.
 *
 * One situation the contract leaves undefined throws `ModelUndefinedError` rather than guess: an event
 * that would update a window already closed, which only a customer whose events come from two shards
 * can cause (the corpus and fraud-streams.ts key every customer to one shard).
 */

import { createHash } from 'node:crypto';
import {
  SCORE_ALERT_KEY,
  type FraudAlert,
  type FraudFeatures,
  type FraudInvalidReason,
  type FraudSpec,
  type FraudWindowResult,
  type WindowBounds,
} from '../../lambda/shared/fraud/spec';
import { parseFraudEvent, schemaPaths, type ModelEvent, type SchemaPaths } from './fraud-model-parse';
import type {
  Disposition,
  FailureRecord,
  FraudExpected,
  FraudInputItem,
  FraudModelOutput,
  IsoWindow,
  LateSinkRecord,
} from './fraud-model-types';

export type * from './fraud-model-types';

export class ModelUndefinedError extends Error {}

// ---- Section 2 and 5: windows and ids ----

/** windowIso(ms) = new Date(ms).toISOString(). */
export const windowIso = (ms: number): string => new Date(ms).toISOString();

const sha256Prefix = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);

export const alertId = (customerId: string, w: WindowBounds, key: string): string =>
  sha256Prefix(`alert|${customerId}|${w.startMs}|${w.endMs}|${key}`);

export const resultId = (customerId: string, w: WindowBounds): string => sha256Prefix(`result|${customerId}|${w.startMs}|${w.endMs}`);

/** Every [s, s+size) with s a multiple of slide and s <= t < s+size, ascending by s. */
export function windowsOf(t: number, sizeMs: number, slideMs: number): WindowBounds[] {
  const windows: WindowBounds[] = [];
  // The latest start at or before t, then step back while the window still contains t.
  for (let s = Math.floor(t / slideMs) * slideMs; s + sizeMs > t; s -= slideMs) {
    windows.unshift({ startMs: s, endMs: s + sizeMs });
  }
  return windows;
}

const isoWindow = (w: WindowBounds): IsoWindow => ({ window_start: windowIso(w.startMs), window_end: windowIso(w.endMs) });

// ---- Section 3: state of one customer-window ----

interface WindowItem {
  readonly customerId: string;
  readonly bounds: WindowBounds;
  /** Shard of the event that created the item: its watermark closes the window. */
  readonly owner: string;
  /** Contract section 6: ceil((end + lateness + retention) / 1000), epoch seconds. */
  readonly expiresAt: number;
  readonly ids: Set<string>;
  readonly recent: string[];
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Per attribute (spec order): the distinct values, at most distinctCap. */
  readonly distinct: Map<string, Set<string>>;
  /** Alert keys fired, in firing order. */
  readonly fired: string[];
  closed: boolean;
}

export class FraudModel {
  private readonly paths: SchemaPaths;
  /** customerId → window start → item. TTL is checked on every read; an open item past it is removed (dropExpired). */
  private readonly items = new Map<string, Map<number, WindowItem>>();
  /** Shard → the open windows it owns (what its watermark can close). */
  private readonly openByShard = new Map<string, Set<WindowItem>>();
  /** Shard → watermark W (absent = −∞). Every shard seen in the input has an entry. */
  private readonly watermarks = new Map<string, number>();
  private readonly alerts: FraudAlert[] = [];
  private readonly results: FraudWindowResult[] = [];
  private readonly lateSink: LateSinkRecord[] = [];
  private readonly failures: FailureRecord[] = [];
  private readonly dispositions: Disposition[] = [];
  private duplicates = 0;
  private expiredOpen = 0;

  constructor(private readonly spec: FraudSpec) {
    this.paths = schemaPaths(spec);
  }

  /** Processes the next input item, in global arrival order; returns what happened to it. */
  push(item: FraudInputItem): Disposition {
    const index = this.dispositions.length;
    let d: Disposition;
    if (!this.watermarks.has(item.shard)) {
      this.watermarks.set(item.shard, -Infinity);
      this.openByShard.set(item.shard, new Set());
    }
    if ('tick' in item) {
      // Section 4: W := max(W, now − allowedLateness), then close as in step 6.
      this.advance(item.shard, item.tick.nowMs - this.spec.allowedLatenessMs, item.tick.nowMs);
      d = { index, kind: 'tick' };
    } else {
      const text = 'raw' in item ? item.raw : JSON.stringify(item.data);
      const parsed = parseFraudEvent(this.spec, this.paths, text, item.arrivalMs);
      d = parsed.ok
        ? this.onEvent(index, item.shard, item.arrivalMs, text, parsed.event)
        : this.refuse(index, item.shard, item.arrivalMs, text, parsed.reason);
    }
    this.dispositions.push(d);
    return d;
  }

  /** Section 1: invalid events go to the failure destination; no state, no watermark. */
  private refuse(index: number, shard: string, arrivalMs: number, text: string, reason: FraudInvalidReason): Disposition {
    this.failures.push({
      index,
      reason,
      shard_id: shard,
      arrival: new Date(arrivalMs).toISOString(),
      payload_base64: Buffer.from(text, 'utf8').toString('base64'),
    });
    return { index, kind: 'invalid', reason };
  }

  /** Section 3, steps 1-6, for one valid event. */
  private onEvent(index: number, shard: string, nowMs: number, text: string, e: ModelEvent): Disposition {
    const { sizeMs, slideMs } = this.spec.window;
    const W = this.watermarks.get(shard)!;
    const open: WindowBounds[] = [];
    const late: WindowBounds[] = [];
    const dup: WindowBounds[] = [];
    // Step 1: classify every window of the event.
    for (const w of windowsOf(e.t, sizeMs, slideMs)) {
      const item = this.read(e.customerId, w, nowMs);
      if (item !== undefined && item.ids.has(e.eventId)) dup.push(w);
      else if (w.endMs <= W) late.push(w);
      else if (this.items.get(e.customerId)?.get(w.startMs)?.closed === true) {
        // Closed (TTL-expired or not) yet not late for this shard: only a customer on two shards gets here.
        throw new ModelUndefinedError(`event ${e.eventId} (shard ${shard}) would update closed window ${windowIso(w.startMs)} of ${e.customerId}`);
      } else open.push(w);
    }
    let d: Disposition;
    if (open.length === 0 && late.length === 0) {
      // Step 2: every window already has the id.
      this.duplicates += 1;
      d = { index, kind: 'duplicate', eventId: e.eventId };
    } else if (open.some((w) => (this.read(e.customerId, w, nowMs)?.ids.size ?? 0) >= this.spec.maxEventsPerWindow)) {
      // Step 3: refuse the whole event, no window updated.
      d = this.refuse(index, shard, nowMs, text, 'window_full');
    } else {
      // Step 4: apply to every open window; one late-sink record listing the late ones.
      for (const w of open) this.apply(shard, e, w, nowMs);
      if (late.length > 0) {
        this.lateSink.push({
          index,
          event_id: e.eventId,
          customer_id: e.customerId,
          event_time: windowIso(e.t),
          late_windows: late.map(isoWindow),
          watermark: W === -Infinity ? null : windowIso(W),
          shard_id: shard,
          payload: e.payload,
        });
      }
      d = { index, kind: late.length > 0 ? 'late' : 'applied', eventId: e.eventId, applied: open, late, duplicate: dup };
    }
    // Steps 5 and 6, for every valid event (duplicates, late and window_full ones too).
    this.advance(shard, e.t - this.spec.allowedLatenessMs, nowMs);
    return d;
  }

  /** The item of (customer, window), or undefined when absent or TTL-expired at `nowMs`. */
  private read(customerId: string, w: WindowBounds, nowMs: number): WindowItem | undefined {
    const item = this.items.get(customerId)?.get(w.startMs);
    if (item === undefined) return undefined;
    // Section 6: "an item whose expiresAt < now (seconds)" is absent; now in whole epoch seconds.
    return this.expired(item, nowMs) ? undefined : item;
  }

  /** Section 6: "an item whose expiresAt < now (seconds)" is absent; now in whole epoch seconds. */
  private expired(item: WindowItem, nowMs: number): boolean {
    return item.expiresAt < Math.floor(nowMs / 1000);
  }

  /** An open item reached its TTL before closing: it is gone, and yields no result. */
  private dropExpired(item: WindowItem): void {
    this.openByShard.get(item.owner)!.delete(item);
    this.items.get(item.customerId)!.delete(item.bounds.startMs);
    this.expiredOpen += 1;
  }

  /** Section 3, "Applying e to window w", then the alert decisions for that window. */
  private apply(shard: string, e: ModelEvent, w: WindowBounds, nowMs: number): void {
    let byStart = this.items.get(e.customerId);
    if (byStart === undefined) this.items.set(e.customerId, (byStart = new Map()));
    let item = byStart.get(w.startMs);
    if (item !== undefined && this.expired(item, nowMs)) {
      // Only an open item can be here: a closed one is never applied to (see onEvent).
      this.dropExpired(item);
      item = undefined;
    }
    if (item === undefined) {
      item = {
        customerId: e.customerId,
        bounds: w,
        owner: shard,
        expiresAt: Math.ceil((w.endMs + this.spec.allowedLatenessMs + this.spec.stateRetentionMs) / 1000),
        ids: new Set(),
        recent: [],
        count: 0,
        sum: 0,
        min: Infinity,
        max: -Infinity,
        distinct: new Map(this.spec.schema.attributes.map((a) => [a, new Set<string>()])),
        fired: [],
        closed: false,
      };
      byStart.set(w.startMs, item);
      this.openByShard.get(shard)!.add(item);
    }
    item.count += 1;
    item.sum += e.amount; // IEEE double, in arrival order
    item.min = Math.min(item.min, e.amount);
    item.max = Math.max(item.max, e.amount);
    for (const [attr, value] of e.attributes) {
      const set = item.distinct.get(attr)!;
      if (set.size < this.spec.distinctCap) set.add(value); // past the cap: not added (saturated)
    }
    item.ids.add(e.eventId);
    item.recent.push(e.eventId);
    if (item.recent.length > this.spec.evidenceEventIds) item.recent.shift();
    this.decideAlerts(item, e.eventId);
  }

  /** Rules holding on the item's current features, in spec order, and their score. */
  private holding(item: WindowItem): { rules: string[]; score: number } {
    const rules: string[] = [];
    let score = 0;
    for (const rule of this.spec.rules) {
      const value =
        rule.feature === 'count' ? item.count
        : rule.feature === 'sum' ? item.sum
        : rule.feature === 'max' ? item.max
        : item.distinct.get(rule.attribute!)!.size;
      if (value > rule.threshold) {
        rules.push(rule.id);
        score += rule.weight;
      }
    }
    return { rules, score };
  }

  private features(item: WindowItem): FraudFeatures {
    const distinct: Record<string, number> = {};
    for (const [attr, set] of item.distinct) distinct[attr] = set.size;
    return { count: item.count, sum: item.sum, min: item.min, max: item.max, avg: item.sum / item.count, distinct };
  }

  /** Alerts right after an update: each key fires at most once per customer-window, ever. */
  private decideAlerts(item: WindowItem, eventId: string): void {
    const { rules, score } = this.holding(item);
    const keys =
      this.spec.alert.kind === 'anyRule' ? rules
      : score >= this.spec.alert.score ? [SCORE_ALERT_KEY]
      : [];
    for (const key of keys) {
      if (item.fired.includes(key)) continue;
      item.fired.push(key);
      this.alerts.push({
        alert_id: alertId(item.customerId, item.bounds, key),
        customer_id: item.customerId,
        ...isoWindow(item.bounds),
        alert_key: key,
        rules_hit: rules,
        score,
        features: this.features(item),
        triggering_event_id: eventId,
        evidence_event_ids: [...item.recent],
      });
    }
  }

  /** Step 5 (or a tick): W := max(W, candidate); step 6: close the shard's windows with end <= W. */
  private advance(shard: string, candidate: number, nowMs: number): void {
    const W = Math.max(this.watermarks.get(shard)!, candidate);
    this.watermarks.set(shard, W);
    const open = this.openByShard.get(shard)!;
    for (const item of open) {
      if (item.bounds.endMs > W) continue;
      if (this.expired(item, nowMs)) {
        this.dropExpired(item);
      } else {
        open.delete(item);
        this.close(item);
      }
    }
  }

  /** Section 5: a closed window yields exactly one result, on its final features. */
  private close(item: WindowItem): void {
    item.closed = true;
    const { rules, score } = this.holding(item);
    const f = this.features(item);
    this.results.push({
      result_id: resultId(item.customerId, item.bounds),
      customer_id: item.customerId,
      ...isoWindow(item.bounds),
      event_count: f.count,
      amount_sum: f.sum,
      amount_min: f.min,
      amount_max: f.max,
      amount_avg: f.avg,
      distinct: f.distinct,
      distinct_saturated: this.spec.schema.attributes.filter((a) => item.distinct.get(a)!.size >= this.spec.distinctCap),
      score,
      rules_hit: rules,
      alerted: [...item.fired],
    });
  }

  /** Everything so far. Results sorted by customer_id then window start; alerts in decision order. */
  output(): FraudModelOutput {
    const byCustomerThenStart = <T extends { customer_id: string; window_start: string }>(a: T, b: T): number =>
      a.customer_id < b.customer_id ? -1
      : a.customer_id > b.customer_id ? 1
      : Date.parse(a.window_start) - Date.parse(b.window_start);
    const watermarks: Record<string, string | null> = {};
    for (const [shard, W] of this.watermarks) watermarks[shard] = W === -Infinity ? null : windowIso(W);
    const open = [...this.items.values()]
      .flatMap((m) => [...m.values()])
      .filter((i) => !i.closed)
      .map((i) => ({ customer_id: i.customerId, ...isoWindow(i.bounds), owner: i.owner }))
      .sort(byCustomerThenStart);
    // Alerts and results as consumers see them: JSON (so an amount of -0 reads back as 0).
    const asJson = <T>(x: T): T => JSON.parse(JSON.stringify(x));
    return {
      alerts: asJson(this.alerts),
      results: asJson([...this.results].sort(byCustomerThenStart)),
      late: this.lateSink.map((l) => ({ event_id: l.event_id, late_windows: l.late_windows })),
      invalid: this.failures.map((f) => ({ index: f.index, reason: f.reason })),
      duplicates: this.duplicates,
      watermarks,
      lateSink: [...this.lateSink],
      failures: [...this.failures],
      dispositions: [...this.dispositions],
      open,
      expiredOpen: this.expiredOpen,
    };
  }
}

/** Runs the model over a whole input list. */
export function runFraudModel(spec: FraudSpec, input: readonly FraudInputItem[]): FraudModelOutput {
  const model = new FraudModel(spec);
  for (const item of input) model.push(item);
  return model.output();
}

/** The part of an output a corpus file's `expected` block states. */
export function expectedOf(output: FraudModelOutput): FraudExpected {
  const { alerts, results, late, invalid, duplicates, watermarks } = output;
  return { alerts, results, late, invalid, duplicates, watermarks };
}
