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
 *   parse reason, future times (beyond tolerance, and exactly at it), quiet stretches on one shard, idle ticks.
 *
 * Ticks are the Lambda closer's: it runs every wall-clock minute and ticks each shard that has had records but
 * none for more than idleTimeoutMs (a quiet stretch on shard 0 lasts longer than that; a final idle period
 * sometimes lets every shard be ticked until all windows close).
 *
 * Guarantees (see fraud-model.ts): a customer never changes shard, and no open window reaches its state TTL
 * before closing (`expiredOpen` = 0, asserted over 1,000 seeds): retention is longer than the stream, or
 * "short" = size + lateness + idle timeout + 2-4 min, so replays of older events meet expired state. No replay
 * arrives within 1.5 s of a TTL boundary, so whole-second rounding of "now" cannot change its outcome.
 * The engine harness must use each record's `arrivalMs` as its approximate arrival time and as the clock.
 */

import { prng } from '../../bench/prng';
import type { FraudRuleSpec, FraudSpec, FraudTimeFormat } from '../../lambda/shared/fraud/spec';
import type { FraudInputItem } from './fraud-model';

export const FRAUD_STREAM_CATEGORIES = [
  'in_order', 'out_of_order', 'beyond_lateness', 'boundary_time', 'duplicate_same_batch', 'replay', 'invalid',
  'future', 'future_boundary', 'quiet_shard_tick', 'idle_tick', 'final_tick', 'hopping', 'score_at_least',
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
  const lateness = pick(r, [0, 5_000, 15_000, 30_000]);
  const idleTimeoutMs = pick(r, shortRetention ? [30_000, 60_000] : [30_000, 60_000, 120_000]);
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
    allowedLatenessMs: lateness,
    futureToleranceMs: pick(r, [5_000, 30_000, 60_000]),
    distinctCap: pick(r, [2, 3, 5, 100]),
    evidenceEventIds: pick(r, [1, 3, 5]),
    maxEventsPerWindow: pick(r, [4, 8, 50, 1000]),
    rules,
    alert: chance(r, 0.35) ? { kind: 'scoreAtLeast', score: int(r, 1, totalWeight) } : { kind: 'anyRule' },
    // Short: replays of older events meet expired state. Long enough that no open window expires before its
    // shard's watermark (events, or idle ticks once idle) closes it: the stream test asserts expiredOpen = 0.
    stateRetentionMs: shortRetention ? sizeMs + lateness + idleTimeoutMs + pick(r, [120_000, 180_000, 240_000]) : pick(r, [1_800_000, 3_600_000]),
    idleTimeoutMs,
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

/** Builds one stream: the wall clock, the records, the closer's idle ticks, and what went in. */
class StreamBuilder {
  readonly input: FraudInputItem[] = [];
  readonly categories = Object.fromEntries(FRAUD_STREAM_CATEGORIES.map((c) => [c, 0])) as Record<FraudStreamCategory, number>;
  /** Accepted-looking records so far (what a replay re-puts). */
  readonly sent: { shard: string; data: Record<string, unknown>; t: number }[] = [];
  /** Wall clock (ms): arrival of the next record. */
  now: number;
  /** Each shard's last record arrival (the closer's `lastSeenAt`). */
  private readonly lastSeen = new Map<string, number>();
  private nextCloserRun: number;
  private eventNo = 0;

  constructor(
    readonly r: Rand,
    readonly seed: number,
    readonly spec: FraudSpec,
    readonly shards: string[],
    readonly numericIds: boolean,
  ) {
    // A random instant of 2026 (UTC).
    this.now = Date.UTC(2026, 0, 1) + int(r, 0, 360) * 86_400_000 + int(r, 0, 86_399) * 1000 + int(r, 0, 999);
    this.nextCloserRun = this.now + 60_000;
  }

  note(c: FraudStreamCategory): void {
    this.categories[c] += 1;
  }

  put(shard: string, record: { data: Record<string, unknown> } | { raw: string }): void {
    this.input.push({ shard, arrivalMs: this.now, ...record });
    this.lastSeen.set(shard, this.now);
  }

  /** Moves the clock on, running the closer (every minute) in between: contract section 4. */
  advance(ms: number, quiet: string | undefined): void {
    this.now += ms;
    for (; this.nextCloserRun <= this.now; this.nextCloserRun += 60_000) {
      for (const shard of this.shards) {
        const seen = this.lastSeen.get(shard);
        if (seen === undefined || this.nextCloserRun - seen <= this.spec.idleTimeoutMs) continue;
        this.input.push({ shard, tick: { nowMs: this.nextCloserRun } });
        this.note(shard === quiet ? 'quiet_shard_tick' : 'idle_tick');
      }
    }
  }

  /** A valid payload for customer `c` at event time `t`. */
  event(c: string, t: number): Record<string, unknown> {
    const { r, spec } = this;
    const d: Record<string, unknown> = {};
    this.eventNo += 1;
    setPath(d, spec.schema.customerId, c);
    setPath(d, spec.schema.eventId, this.numericIds && chance(r, 0.5) ? this.seed * 100_000 + this.eventNo : `ev-${this.seed}-${this.eventNo}`);
    setPath(d, spec.schema.eventTime.field, encodeTime(r, t, spec.schema.eventTime.format));
    let amount: number | string = Math.round((chance(r, 0.1) ? -r() * 200 : r() * 500) * 100) / 100;
    if (amount < 0) this.note('negative_amount');
    if (chance(r, 0.15)) {
      amount = amount.toFixed(2);
      this.note('string_amount');
    }
    setPath(d, spec.schema.amount, amount);
    for (const a of spec.schema.attributes) {
      const v = chance(r, 0.1) ? null : a === 'merchant' ? pick(r, MERCHANTS) : pick(r, ['d-1', 'd-2', 'd-3', true]);
      if (!chance(r, 0.05)) setPath(d, a, v); // sometimes absent
    }
    return d;
  }

  /** Whether `at` is within 1.5 s of the TTL boundary of a window of `t` (whole-second rounding could decide it). */
  nearTtl(t: number, at: number): boolean {
    const { sizeMs, slideMs } = this.spec.window;
    for (let s = Math.floor(t / slideMs) * slideMs; s + sizeMs > t; s -= slideMs) {
      const expiresMs = Math.ceil((s + sizeMs + this.spec.allowedLatenessMs + this.spec.stateRetentionMs) / 1000) * 1000;
      if (Math.abs(at - expiresMs) < 1500) return true;
    }
    return false;
  }
}

const MERCHANTS: readonly (string | number)[] = ['m-100', 'm-101', 'm-102', 'm-103', 'm-104', 'm-105', 7, 8];

/** One record of customer `c` (or a replay, or an invalid one), chosen by a roll of the dice. */
function nextRecord(b: StreamBuilder, c: { id: string; shard: string }): void {
  const { r, spec } = b;
  const { sizeMs, slideMs } = spec.window;
  const lateness = spec.allowedLatenessMs;
  const now = b.now;
  const roll = r();
  if (roll < 0.06 && b.sent.length > 0) {
    // Replay: an earlier record re-put now (new sequence number, same payload).
    const old = pick(r, b.sent);
    if (b.nearTtl(old.t, now)) b.now += 3000;
    b.put(old.shard, { data: old.data });
    b.note('replay');
    return;
  }
  if (roll < 0.12) {
    const d = b.event(c.id, now - int(r, 0, 2000));
    pick(r, BREAKERS)(spec, d);
    b.put(c.shard, chance(r, 0.15) ? { raw: pick(r, ['not json', '{"a":', '[1,2]', '"str"', '']) } : { data: d });
    b.note('invalid');
    return;
  }
  let t: number;
  if (roll < 0.16) {
    t = now + spec.futureToleranceMs + (chance(r, 0.3) ? 0 : int(r, 1, 3_600_000));
    b.note(t === now + spec.futureToleranceMs ? 'future_boundary' : 'future');
  } else if (roll < 0.28) {
    t = now - int(r, 0, lateness + slideMs);
    b.note('out_of_order');
  } else if (roll < 0.34) {
    t = now - lateness - sizeMs - int(r, 0, 30_000);
    b.note('beyond_lateness');
  } else if (roll < 0.42) {
    const s = Math.floor((now - 1000) / slideMs) * slideMs;
    t = pick(r, [s, s - 1, s + 1, s - slideMs]);
    b.note('boundary_time');
  } else {
    t = now - int(r, 0, 2000);
    b.note('in_order');
  }
  const data = b.event(c.id, t);
  b.put(c.shard, { data });
  if (t <= now + spec.futureToleranceMs) b.sent.push({ shard: c.shard, data, t });
  if (chance(r, 0.05)) {
    b.now += int(r, 0, 5);
    b.put(c.shard, { data });
    b.note('duplicate_same_batch');
  }
}

export function generateFraudStream(seed: number): FraudStream {
  const r = prng(seed);
  const shortRetention = chance(r, 0.25);
  const spec = randomSpec(r, shortRetention);
  const shards = Array.from({ length: int(r, 1, 4) }, (_, i) => `shardId-00000000000${i}`);
  const b = new StreamBuilder(r, seed, spec, shards, chance(r, 0.2));
  if (b.numericIds) b.note('numeric_ids');
  if (shortRetention) b.note('short_retention');
  if (spec.window.sizeMs !== spec.window.slideMs) b.note('hopping');
  if (spec.alert.kind === 'scoreAtLeast') b.note('score_at_least');
  if (spec.maxEventsPerWindow <= 8) b.note('small_window_cap');
  if (spec.distinctCap <= 3) b.note('small_distinct_cap');

  const customers = Array.from({ length: int(r, 2, 12) }, (_, i) => ({ id: `cust-${seed}-${i}`, shard: shards[i % shards.length] }));
  const hot = customers.slice(0, Math.min(2, customers.length));
  // A quiet stretch: shard 0 gets nothing for longer than the idle timeout, so the closer ticks it.
  const quiet = shards.length > 1 && chance(r, 0.4) ? shards[0] : undefined;
  const total = int(r, 50, 400);
  const quietFrom = Math.floor(total * 0.3);
  const quietTo = Math.floor(total * 0.7);
  const quietStep = Math.ceil((spec.idleTimeoutMs + int(r, 60_000, 180_000)) / (quietTo - quietFrom));

  for (let i = 0; i < total; i++) {
    const inQuiet = quiet !== undefined && i >= quietFrom && i < quietTo;
    b.advance(inQuiet ? quietStep : int(r, 0, 1500), quiet);
    const eligible = inQuiet ? customers.filter((c) => c.shard !== quiet) : customers;
    const hotHere = hot.filter((h) => eligible.includes(h));
    nextRecord(b, chance(r, 0.4) && hotHere.length > 0 ? pick(r, hotHere) : pick(r, eligible));
  }
  if (chance(r, 0.3)) {
    // Let every shard go idle long enough for the closer's ticks to close every window.
    const { sizeMs } = spec.window;
    b.advance(spec.futureToleranceMs + sizeMs + spec.allowedLatenessMs + spec.idleTimeoutMs + 120_000, quiet);
    b.note('final_tick');
  }
  return { seed, spec, input: b.input, shards, categories: b.categories };
}
