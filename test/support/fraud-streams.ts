/**
 * Seeded random FraudPipeline streams, for comparing an engine with the reference model
 * (test/support/fraud-model.ts) on inputs nobody wrote by hand.
 *
 * API
 * - `generateFraudStream(seed)` → `{ seed, spec, input, shards, categories }`: the same seed always gives
 *   the same stream (mulberry32 from bench/prng.ts). `input` is the corpus input format (section 9).
 * - `FRAUD_STREAM_CATEGORIES`: what a stream may contain; `categories[c]` counts how often this one does.
 *
 * Typical use (engine-vs-model):
 *   for (let seed = FIRST; seed < FIRST + N; seed++) {
 *     const { spec, input } = generateFraudStream(seed);
 *     const expected = runFraudModel(spec, input);  // then feed `input` to the engine and compare
 *   }
 *
 * What a stream is made of (all arrival times increase; a tick's nowMs is the wall clock then):
 * - spec: tumbling or hopping (size 2-4x slide), lateness 0-30 s, distinctCap, maxEventsPerWindow (small
 *   sometimes, so windows fill), 1-4 rules of every feature, anyRule or scoreAtLeast, one of the three time
 *   formats, two payload layouts (nested or flat fields);
 * - 1-4 shards, each customer always on the same shard (its partition key), a few hot customers;
 * - in-order, out-of-order (within and beyond lateness), times on window boundaries, duplicates in the same
 *   batch, replays of earlier events later (new sequence numbers, same payload), invalid records of every
 *   parse reason, future times (beyond tolerance, and exactly at it), quiet stretches on one shard ended by
 *   an idle tick, and sometimes closer ticks on every shard and a final tick closing everything.
 *
 * Guarantees the model relies on (see fraud-model.ts, "contract gaps"): a customer never changes shard, and
 * no open window's state can reach its TTL: retention is either longer than the whole stream, or short
 * (window size + 90-150 s, so replays meet expired state) with closer ticks on every shard at most 45 s apart,
 * and no event is backdated by more than lateness + size + 30 s. No replay
 * arrives within 1.5 s of a TTL boundary, so whole-second rounding of "now" cannot change its outcome.
 * The engine harness must use each record's `arrivalMs` as its approximate arrival time and as the clock.
 */

import { prng } from '../../bench/prng';
import type { FraudRuleSpec, FraudSpec, FraudTimeFormat } from '../../lambda/shared/fraud/spec';
import type { FraudInputItem } from './fraud-model';

export const FRAUD_STREAM_CATEGORIES = [
  'in_order', 'out_of_order', 'beyond_lateness', 'boundary_time', 'duplicate_same_batch', 'replay', 'invalid',
  'future', 'future_boundary', 'quiet_shard_tick', 'closer_tick', 'final_tick', 'hopping', 'score_at_least',
  'short_retention', 'small_window_cap', 'small_distinct_cap', 'negative_amount', 'string_amount', 'numeric_ids',
] as const;
export type FraudStreamCategory = (typeof FRAUD_STREAM_CATEGORIES)[number];

export interface FraudStream {
  readonly seed: number;
  readonly spec: FraudSpec;
  readonly input: FraudInputItem[];
  readonly shards: string[];
  readonly categories: Record<FraudStreamCategory, number>;
}

type Rand = () => number;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const chance = (r: Rand, p: number): boolean => r() < p;

/** A spec with every knob drawn from `r`. */
function randomSpec(r: Rand, shortRetention: boolean): FraudSpec {
  const slideMs = pick(r, [10_000, 30_000, 60_000]);
  const sizeMs = chance(r, 0.35) ? slideMs * int(r, 2, 4) : slideMs;
  const attributes = pick(r, [['merchant', 'device'], ['merchant'], ['device', 'merchant'], []]);
  const nested = chance(r, 0.5);
  const format = pick<FraudTimeFormat>(r, ['iso8601', 'iso8601', 'epoch_millis', 'epoch_seconds']);
  const rule = (feature: FraudRuleSpec['feature'], threshold: number, attribute?: string): FraudRuleSpec => ({
    id: `${attribute ?? feature}_above_${threshold}`,
    feature,
    ...(attribute === undefined ? {} : { attribute }),
    threshold,
    weight: int(r, 1, 3),
  });
  const pool = [
    rule('count', int(r, 2, 8)),
    rule('sum', int(r, 2, 20) * 100),
    rule('max', int(r, 100, 450)),
    ...attributes.map((a) => rule('distinct', int(r, 1, 4), a)),
  ];
  const rules = pool.filter(() => chance(r, 0.6));
  if (rules.length === 0) rules.push(pool[0]);
  const totalWeight = rules.reduce((s, x) => s + x.weight, 0);
  return {
    version: 1,
    schema: {
      customerId: nested ? 'customer.id' : 'customerId',
      eventId: nested ? 'meta.eventId' : 'eventId',
      eventTime: { field: nested ? 'meta.ts' : 'ts', format },
      amount: 'amount',
      attributes,
    },
    window: { sizeMs, slideMs },
    allowedLatenessMs: pick(r, [0, 5_000, 15_000, 30_000]),
    futureToleranceMs: pick(r, [5_000, 30_000, 60_000]),
    distinctCap: pick(r, [2, 3, 5, 100]),
    evidenceEventIds: pick(r, [1, 3, 5]),
    maxEventsPerWindow: pick(r, [4, 8, 50, 1000]),
    rules,
    alert: chance(r, 0.35) ? { kind: 'scoreAtLeast', score: int(r, 1, totalWeight) } : { kind: 'anyRule' },
    // Short: replays meet expired state. At least size + 90 s, so no event this generator backdates (at most
    // lateness + size + 30 s) finds its open window expired before the next closer tick (<= 45 s) closes it.
    stateRetentionMs: shortRetention ? sizeMs + pick(r, [90_000, 120_000, 150_000]) : pick(r, [1_800_000, 3_600_000]),
    idleTimeoutMs: pick(r, [30_000, 60_000, 120_000]),
  };
}

/** Sets `value` at a dotted path, creating objects on the way. */
function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const segs = path.split('.');
  let o = root;
  for (const s of segs.slice(0, -1)) o = (o[s] ??= {}) as Record<string, unknown>;
  o[segs[segs.length - 1]] = value;
}

/** The event time as the spec's format writes it (sometimes as a string, sometimes with a zone offset). */
function encodeTime(r: Rand, t: number, format: FraudTimeFormat): unknown {
  if (format === 'epoch_millis') return chance(r, 0.2) ? String(t) : t;
  if (format === 'epoch_seconds') return chance(r, 0.2) ? (t / 1000).toFixed(3) : t / 1000;
  if (!chance(r, 0.2)) return new Date(t).toISOString();
  const offsetH = int(r, -11, 12);
  const local = new Date(t + offsetH * 3_600_000).toISOString().slice(0, 23);
  const sign = offsetH < 0 ? '-' : '+';
  return `${local}${sign}${String(Math.abs(offsetH)).padStart(2, '0')}:00`;
}

/** Invalid payload mutations: each breaks one check of contract section 1. */
const BREAKERS: readonly ((spec: FraudSpec, d: Record<string, unknown>) => void)[] = [
  (s, d) => setPath(d, s.schema.customerId, ''),
  (s, d) => setPath(d, s.schema.customerId, null),
  (s, d) => setPath(d, s.schema.eventId, 'x'.repeat(257)),
  (s, d) => setPath(d, s.schema.eventId, { nested: true }),
  (s, d) => setPath(d, s.schema.eventTime.field, s.schema.eventTime.format === 'iso8601' ? '2026-02-30T00:00:00Z' : 'soon'),
  (s, d) => setPath(d, s.schema.eventTime.field, s.schema.eventTime.format === 'iso8601' ? '2026-06-01T10:00:00' : -5),
  (s, d) => setPath(d, s.schema.amount, null),
  (s, d) => setPath(d, s.schema.amount, '1e3'),
  (s, d) => setPath(d, s.schema.amount, [12]),
  (s, d) => (s.schema.attributes.length > 0 ? setPath(d, s.schema.attributes[0], { id: 1 }) : setPath(d, s.schema.amount, true)),
];

export function generateFraudStream(seed: number): FraudStream {
  const r = prng(seed);
  const categories = Object.fromEntries(FRAUD_STREAM_CATEGORIES.map((c) => [c, 0])) as Record<FraudStreamCategory, number>;
  const note = (c: FraudStreamCategory): void => void (categories[c] += 1);
  const shortRetention = chance(r, 0.25);
  const spec = randomSpec(r, shortRetention);
  if (shortRetention) note('short_retention');
  if (spec.window.sizeMs !== spec.window.slideMs) note('hopping');
  if (spec.alert.kind === 'scoreAtLeast') note('score_at_least');
  if (spec.maxEventsPerWindow <= 8) note('small_window_cap');
  if (spec.distinctCap <= 3) note('small_distinct_cap');
  const { sizeMs, slideMs } = spec.window;
  const lateness = spec.allowedLatenessMs;

  const shards = Array.from({ length: int(r, 1, 4) }, (_, i) => `shardId-00000000000${i}`);
  const customers = Array.from({ length: int(r, 2, 12) }, (_, i) => ({ id: `cust-${seed}-${i}`, shard: shards[i % shards.length] }));
  const hot = customers.slice(0, Math.min(2, customers.length));
  const merchants = ['m-100', 'm-101', 'm-102', 'm-103', 'm-104', 'm-105', 7, 8];
  const numericIds = chance(r, 0.2);
  if (numericIds) note('numeric_ids');

  // Wall clock: a random instant of 2026 (UTC).
  let now = Date.UTC(2026, 0, 1) + int(r, 0, 360) * 86_400_000 + int(r, 0, 86_399) * 1000 + int(r, 0, 999);
  const quiet = shards.length > 1 && chance(r, 0.4) ? shards[0] : undefined;
  const total = int(r, 50, 400);
  const quietFrom = Math.floor(total * 0.3);
  const quietTo = Math.floor(total * 0.7);
  const input: FraudInputItem[] = [];
  const valid: { shard: string; data: Record<string, unknown>; t: number }[] = [];
  let lastCloserTick = now;
  let eventNo = 0;

  const makeEvent = (c: { id: string }, t: number): Record<string, unknown> => {
    const d: Record<string, unknown> = {};
    eventNo += 1;
    setPath(d, spec.schema.customerId, c.id);
    setPath(d, spec.schema.eventId, numericIds && chance(r, 0.5) ? seed * 100_000 + eventNo : `ev-${seed}-${eventNo}`);
    setPath(d, spec.schema.eventTime.field, encodeTime(r, t, spec.schema.eventTime.format));
    let amount: number | string = Math.round((chance(r, 0.1) ? -r() * 200 : r() * 500) * 100) / 100;
    if (amount < 0) note('negative_amount');
    if (chance(r, 0.15)) {
      amount = amount.toFixed(2);
      note('string_amount');
    }
    setPath(d, spec.schema.amount, amount);
    for (const a of spec.schema.attributes) {
      const v = chance(r, 0.1) ? null : a === 'merchant' ? pick(r, merchants) : pick(r, ['d-1', 'd-2', 'd-3', true]);
      if (!chance(r, 0.05)) setPath(d, a, v); // sometimes absent
    }
    return d;
  };

  /** A replay must not land within 1.5 s of a TTL boundary of any of its windows (whole-second rounding). */
  const nearTtl = (t: number, at: number): boolean => {
    for (let s = Math.floor(t / slideMs) * slideMs; s + sizeMs > t; s -= slideMs) {
      const expiresMs = Math.ceil((s + sizeMs + lateness + spec.stateRetentionMs) / 1000) * 1000;
      if (Math.abs(at - expiresMs) < 1500) return true;
    }
    return false;
  };

  for (let i = 0; i < total; i++) {
    now += int(r, 0, 1500);
    if (shortRetention && now - lastCloserTick >= 40_000) {
      for (const shard of shards) input.push({ shard, tick: { nowMs: now } });
      lastCloserTick = now;
      note('closer_tick');
    }
    if (quiet !== undefined && i === quietTo) {
      input.push({ shard: quiet, tick: { nowMs: now } });
      note('quiet_shard_tick');
    }
    const eligible = quiet !== undefined && i >= quietFrom && i < quietTo ? customers.filter((c) => c.shard !== quiet) : customers;
    const c = chance(r, 0.4) ? pick(r, hot.filter((h) => eligible.includes(h)).concat(eligible.slice(0, 1))) : pick(r, eligible);
    const roll = r();
    if (roll < 0.06 && valid.length > 0) {
      // Replay: an earlier accepted record re-put now (new sequence number, same payload).
      const old = pick(r, valid);
      if (nearTtl(old.t, now)) now += 3000;
      input.push({ shard: old.shard, arrivalMs: now, data: old.data });
      note('replay');
      continue;
    }
    if (roll < 0.12) {
      const d = makeEvent(c, now - int(r, 0, 2000));
      pick(r, BREAKERS)(spec, d);
      input.push(chance(r, 0.15) ? { shard: c.shard, arrivalMs: now, raw: pick(r, ['not json', '{"a":', '[1,2]', '"str"', '']) } : { shard: c.shard, arrivalMs: now, data: d });
      note('invalid');
      continue;
    }
    let t: number;
    if (roll < 0.16) {
      t = now + spec.futureToleranceMs + (chance(r, 0.3) ? 0 : int(r, 1, 3_600_000));
      note(t === now + spec.futureToleranceMs ? 'future_boundary' : 'future');
    } else if (roll < 0.28) {
      t = now - int(r, 0, lateness + slideMs);
      note('out_of_order');
    } else if (roll < 0.34) {
      t = now - lateness - sizeMs - int(r, 0, 30_000);
      note('beyond_lateness');
    } else if (roll < 0.42) {
      const s = Math.floor((now - 1000) / slideMs) * slideMs;
      t = pick(r, [s, s - 1, s + 1, s - slideMs]);
      note('boundary_time');
    } else {
      t = now - int(r, 0, 2000);
      note('in_order');
    }
    const data = makeEvent(c, t);
    input.push({ shard: c.shard, arrivalMs: now, data });
    if (t <= now + spec.futureToleranceMs) valid.push({ shard: c.shard, data, t });
    if (chance(r, 0.05)) {
      now += int(r, 0, 5);
      input.push({ shard: c.shard, arrivalMs: now, data });
      note('duplicate_same_batch');
    }
  }
  if (chance(r, 0.3)) {
    // The closer's final tick: wall time far enough on that every window closes.
    now += sizeMs + lateness + spec.futureToleranceMs + 1000;
    for (const shard of shards) input.push({ shard, tick: { nowMs: now } });
    note('final_tick');
  }
  return { seed, spec, input, shards, categories };
}
