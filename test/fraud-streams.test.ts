/**
 * The seeded stream generator (test/support/fraud-streams.ts): deterministic per seed, well formed,
 * and over 1,000 seeds it produces every category and the model meets every outcome on it.
 */

import { getAtPath, parseDottedPath } from '../lambda/shared/dotted-path';
import type { FraudInvalidReason } from '../lambda/shared/fraud/spec';
import { fraudSpecProblems } from './support/fraud-corpus';
import { runFraudModel, type FraudModelOutput } from './support/fraud-model';
import { FRAUD_STREAM_CATEGORIES, generateFraudStream, type FraudStream } from './support/fraud-streams';

const FIRST_SEED = 1;
const SEEDS = 1000;
const LAST_SEED = FIRST_SEED + SEEDS - 1;

describe('generateFraudStream', () => {
  test('the same seed gives the same stream; different seeds differ', () => {
    for (const seed of [1, 42, 999_983]) expect(generateFraudStream(seed)).toEqual(generateFraudStream(seed));
    expect(generateFraudStream(1).input).not.toEqual(generateFraudStream(2).input);
  });

  describe(`seeds ${FIRST_SEED}-${LAST_SEED}`, () => {
    let streams: FraudStream[];
    let outputs: FraudModelOutput[];
    let modelMs: number;

    beforeAll(() => {
      streams = [];
      for (let seed = FIRST_SEED; seed <= LAST_SEED; seed++) streams.push(generateFraudStream(seed));
      const started = performance.now();
      outputs = streams.map((s) => runFraudModel(s.spec, s.input));
      modelMs = performance.now() - started;
      const events = streams.reduce((n, s) => n + s.input.length, 0);
      console.log(`fraud streams: seeds ${FIRST_SEED}-${LAST_SEED}, ${events} input items, model ${Math.round(modelMs)} ms`);
    });

    test('every spec is valid and every stream is well formed', () => {
      // Collected, then asserted once: 240,000 expect calls would take a minute.
      const problems: string[] = [];
      for (const s of streams) {
        const bad = (what: string): number => problems.push(`seed ${s.seed}: ${what}`);
        for (const p of fraudSpecProblems(s.spec)) bad(p);
        const records = s.input.filter((i) => !('tick' in i)).length;
        if (records < 50 || records > 440) bad(`${records} records`);
        if (s.shards.length < 1 || s.shards.length > 4) bad(`${s.shards.length} shards`);
        const customerPath = parseDottedPath(s.spec.schema.customerId, 'customerId');
        const shardOf = new Map<unknown, string>();
        let last = -Infinity;
        for (const item of s.input) {
          if (!s.shards.includes(item.shard)) bad(`unknown shard ${item.shard}`);
          if ('tick' in item) continue;
          if (item.arrivalMs < last) bad(`arrival goes back at ${item.arrivalMs}`);
          last = item.arrivalMs;
          if (!('data' in item)) continue;
          const c = getAtPath(item.data, customerPath);
          if (typeof c !== 'string' || c === '') continue;
          // A customer is its partition key: always the same shard.
          if ((shardOf.get(c) ?? item.shard) !== item.shard) bad(`customer ${c} on two shards`);
          shardOf.set(c, item.shard);
        }
      }
      expect(problems).toEqual([]);
    });

    test('every category occurs', () => {
      const seen = Object.fromEntries(FRAUD_STREAM_CATEGORIES.map((c) => [c, streams.filter((s) => s.categories[c] > 0).length]));
      console.log(`fraud streams: seeds ${FIRST_SEED}-${LAST_SEED} with each category: ${JSON.stringify(seen)}`);
      expect(Object.entries(seen).filter(([, n]) => n === 0)).toEqual([]);
    });

    test('the model meets every outcome: each failure reason, duplicates, late (also after TTL), alerts, results', () => {
      const reasons = new Set(outputs.flatMap((o) => o.invalid.map((i) => i.reason)));
      const expectedReasons: FraudInvalidReason[] = [
        'invalid_json', 'missing_customer_id', 'missing_event_id', 'event_id_too_long', 'invalid_event_time', 'event_time_out_of_range',
        'event_time_in_future', 'missing_amount', 'invalid_amount', 'invalid_attribute', 'window_full',
      ];
      expect([...reasons].sort()).toEqual([...expectedReasons].sort());
      expect(outputs.filter((o) => o.duplicates > 0).length).toBeGreaterThan(50);
      expect(outputs.filter((o) => o.late.length > 0).length).toBeGreaterThan(50);
      expect(outputs.filter((o) => o.alerts.some((a) => a.alert_key === '*score')).length).toBeGreaterThan(20);
      expect(outputs.filter((o) => o.alerts.length > 0).length).toBeGreaterThan(500);
      expect(outputs.filter((o) => o.results.some((r) => r.distinct_saturated.length > 0)).length).toBeGreaterThan(20);
      // A replayed event that met expired state: late, though its id was applied before.
      const lateAfterTtl = outputs.filter((o, k) => {
        const applied = new Set(o.dispositions.flatMap((d) => (d.kind === 'applied' ? [d.eventId] : [])));
        return streams[k].categories.short_retention > 0 && o.lateSink.some((l) => applied.has(l.event_id));
      });
      expect(lateAfterTtl.length).toBeGreaterThan(5);
    });

    test('a final idle period lets the closer tick every shard until no window is left open', () => {
      const finals = outputs.filter((_, k) => streams[k].categories.final_tick > 0);
      expect(finals.length).toBeGreaterThan(100);
      expect(finals.filter((o) => o.open.length > 0)).toEqual([]);
    });

    test('no input item is lost or counted twice', () => {
      for (const [k, o] of outputs.entries()) {
        const input = streams[k].input;
        expect(o.dispositions).toHaveLength(input.length);
        const count = (kind: string): number => o.dispositions.filter((d) => d.kind === kind).length;
        expect(count('tick')).toBe(input.filter((i) => 'tick' in i).length);
        expect(count('invalid')).toBe(o.failures.length);
        expect(count('late')).toBe(o.lateSink.length);
        expect(count('duplicate')).toBe(o.duplicates);
        expect(count('applied') + count('late') + count('invalid') + count('duplicate') + count('tick')).toBe(input.length);
        // Generated streams stay clear of the TTL edge (an open window expiring before it closes).
        expect(o.expiredOpen).toBe(0);
      }
    });

    test('the model runs all of them quickly', () => {
      // 3-7 s outside jest on this shared 2-core machine, 7-25 s inside it under load; generous on purpose.
      expect(modelMs).toBeLessThan(90_000);
    });
  });
});
