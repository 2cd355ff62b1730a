/**
 * The fraud scenario corpus against the reference model: every file's hand-derived expectations must
 * equal the model's output exactly, and every file must be well formed (so an engine test can trust it).
 */

import { createHash } from 'node:crypto';
import type { FraudSpec } from '../lambda/shared/fraud/spec';
import { fraudSpecProblems, loadFraudCorpus, type FraudCorpusFile } from './support/fraud-corpus';
import {
  alertId,
  expectedOf,
  FraudModel,
  ModelUndefinedError,
  resultId,
  runFraudModel,
  windowIso,
  windowsOf,
  type FraudInputItem,
  type FraudModelOutput,
} from './support/fraud-model';

const corpus = loadFraudCorpus();
const cases = corpus.map((c) => [c.name, c] as const);

/** Every non-tick input item has exactly one disposition, and the sinks agree with them. */
function expectConservation(input: FraudCorpusFile['input'], out: FraudModelOutput): void {
  expect(out.dispositions.map((d) => d.index)).toEqual(input.map((_, i) => i));
  for (const [i, item] of input.entries()) expect(out.dispositions[i].kind === 'tick').toBe('tick' in item);
  const kinds = (k: string): number[] => out.dispositions.filter((d) => d.kind === k).map((d) => d.index);
  expect(out.failures.map((f) => f.index)).toEqual(kinds('invalid'));
  expect(out.lateSink.map((l) => l.index)).toEqual(kinds('late'));
  expect(kinds('duplicate')).toHaveLength(out.duplicates);
}

describe('fraud corpus: files are well formed', () => {
  test('the corpus has every required scenario', () => {
    expect(corpus.map((c) => c.name)).toEqual(expect.arrayContaining([
      'in-order', 'out-of-order-within-lateness', 'late-beyond-lateness', 'duplicates', 'replay-after-close',
      'interleaved-customers', 'window-boundaries', 'hopping-windows', 'quiet-shard-tick', 'distinct-cap', 'future-timestamps',
      'invalid-records', 'score-at-least', 'sum-crosses-twice', 'window-full', 'hopping-partial-late',
    ]));
  });

  test.each(cases)('%s: description, engines and spec are valid', (_, c) => {
    expect(Object.keys(c).sort()).toEqual(['description', 'engines', 'expected', 'input', 'name', 'spec']);
    expect(c.description.length).toBeGreaterThan(40);
    expect(c.engines.length).toBeGreaterThan(0);
    for (const e of c.engines) expect(['lambda', 'flink']).toContain(e);
    expect(fraudSpecProblems(c.spec)).toEqual([]);
  });

  test.each(cases)('%s: input items are records or ticks, in arrival order per shard', (_, c) => {
    expect(c.input.length).toBeGreaterThanOrEqual(5);
    expect(c.input.length).toBeLessThanOrEqual(40);
    const lastArrival = new Map<string, number>();
    for (const item of c.input) {
      expect(typeof item.shard).toBe('string');
      const keys = Object.keys(item).sort();
      if ('tick' in item) {
        expect(keys).toEqual(['shard', 'tick']);
        expect(Number.isSafeInteger(item.tick.nowMs)).toBe(true);
        continue;
      }
      expect([['arrivalMs', 'data', 'shard'], ['arrivalMs', 'raw', 'shard']]).toContainEqual(keys);
      expect(Number.isSafeInteger(item.arrivalMs)).toBe(true);
      // Kinesis arrival timestamps do not go backwards within a shard.
      expect(item.arrivalMs).toBeGreaterThanOrEqual(lastArrival.get(item.shard) ?? 0);
      lastArrival.set(item.shard, item.arrivalMs);
    }
  });

  test.each(cases)('%s: expected ids follow the contract formulas', (_, c) => {
    const sha = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 32);
    const ms = (iso: string): number => Date.parse(iso);
    for (const a of c.expected.alerts) {
      expect(a.alert_id).toBe(sha(`alert|${a.customer_id}|${ms(a.window_start)}|${ms(a.window_end)}|${a.alert_key}`));
      expect(a.evidence_event_ids[a.evidence_event_ids.length - 1]).toBe(a.triggering_event_id);
      expect(a.evidence_event_ids.length).toBeLessThanOrEqual(c.spec.evidenceEventIds);
    }
    for (const r of c.expected.results) {
      expect(r.result_id).toBe(sha(`result|${r.customer_id}|${ms(r.window_start)}|${ms(r.window_end)}`));
      expect(ms(r.window_end) - ms(r.window_start)).toBe(c.spec.window.sizeMs);
      expect(Object.keys(r.distinct)).toEqual(c.spec.schema.attributes);
    }
    for (const i of c.expected.invalid) expect('tick' in c.input[i.index]).toBe(false);
  });
});

describe('fraud corpus: the reference model gives exactly the expected output', () => {
  test.each(cases)('%s', (_, c) => {
    const out = runFraudModel(c.spec, c.input);
    expect(expectedOf(out)).toEqual(c.expected);
    expectConservation(c.input, out);
  });
});

describe('reference model: rules the corpus states only in passing', () => {
  const T0 = Date.parse('2026-12-03T12:00:00Z');
  const spec: FraudSpec = loadFraudCorpus().find((c) => c.name === 'in-order')!.spec;
  const ev = (id: string | number, t: number, amount: unknown, arrivalMs = t + 100, shard = 's-0', customer: unknown = 'c1'): FraudInputItem => ({
    shard, arrivalMs, data: { id, customer: { id: customer }, ts: new Date(t).toISOString(), amount, merchant: 'm1' },
  });

  test('windowsOf: half-open, ascending, size/slide windows per event, epoch-aligned', () => {
    expect(windowsOf(T0, 60000, 60000)).toEqual([{ startMs: T0, endMs: T0 + 60000 }]);
    expect(windowsOf(T0 + 59999, 60000, 60000)).toEqual([{ startMs: T0, endMs: T0 + 60000 }]);
    expect(windowsOf(T0 + 60000, 60000, 60000)).toEqual([{ startMs: T0 + 60000, endMs: T0 + 120000 }]);
    expect(windowsOf(T0 + 150000, 180000, 60000).map((w) => w.startMs)).toEqual([T0, T0 + 60000, T0 + 120000]);
    expect(windowsOf(T0 + 120000, 180000, 60000).map((w) => w.startMs)).toEqual([T0, T0 + 60000, T0 + 120000]);
    // Near the epoch windows may start before it (k is any integer).
    expect(windowsOf(0, 180000, 60000).map((w) => w.startMs)).toEqual([-120000, -60000, 0]);
  });

  test('a tick never moves a watermark back, and closes only the windows its shard owns', () => {
    const m = new FraudModel(spec);
    m.push(ev('a', T0 + 1000, 1, undefined, 's-0', 'c1'));
    m.push(ev('b', T0 + 2000, 1, undefined, 's-1', 'c2'));
    m.push(ev('c', T0 + 200000, 1, undefined, 's-0', 'c1'));
    m.push({ shard: 's-0', tick: { nowMs: T0 + 30000 } });
    expect(m.output().watermarks['s-0']).toBe(windowIso(T0 + 190000));
    expect(m.output().results.map((r) => r.customer_id)).toEqual(['c1']);
    m.push({ shard: 's-1', tick: { nowMs: T0 + 70000 } });
    expect(m.output().watermarks['s-1']).toBe(windowIso(T0 + 60000));
    expect(m.output().results.map((r) => r.customer_id)).toEqual(['c1', 'c2']);
  });

  test('hopping: an event late for one window is applied to its open ones and listed late for that one only', () => {
    const hop: FraudSpec = { ...spec, window: { sizeMs: 180000, slideMs: 60000 } };
    const m = new FraudModel(hop);
    m.push(ev('a', T0 + 150000, 1)); // W = T0 + 140 s
    m.push(ev('b', T0 + 190000, 1)); // W = T0 + 180 s: [T0, T0+180 s) closes
    const d = m.push(ev('late1', T0 + 130000, 5, T0 + 191000)); // windows T0 (late), T0+60 s, T0+120 s (open)
    expect(d).toMatchObject({ kind: 'late', applied: [{ startMs: T0 + 60000 }, { startMs: T0 + 120000 }], late: [{ startMs: T0 }] });
    // Re-delivered: its open windows hold the id, but the late one does not, so it is late again, not a duplicate.
    const again = m.push(ev('late1', T0 + 130000, 5, T0 + 192000));
    expect(again).toMatchObject({ kind: 'late', applied: [], late: [{ startMs: T0 }], duplicate: [{ startMs: T0 + 60000 }, { startMs: T0 + 120000 }] });
    const out = m.output();
    expect(out.duplicates).toBe(0);
    expect(out.late.map((l) => l.event_id)).toEqual(['late1', 'late1']);
    expect(out.lateSink[0].watermark).toBe(windowIso(T0 + 180000));
  });

  test('window_full refuses the whole event when any one of its windows is full', () => {
    const hop: FraudSpec = { ...spec, window: { sizeMs: 120000, slideMs: 60000 }, maxEventsPerWindow: 2 };
    const m = new FraudModel(hop);
    m.push(ev('a', T0 + 10000, 1)); // windows T0-60 s, T0
    m.push(ev('b', T0 + 20000, 1)); // both now hold 2
    m.push(ev('c', T0 + 70000, 1)); // windows T0 (full) and T0+60 s (new): refused, T0+60 s is not created
    const out = m.output();
    expect(out.invalid).toEqual([{ index: 2, reason: 'window_full' }]);
    // Its watermark step still ran (W = T0+60 s closes [T0-60 s, T0+60 s)).
    expect(out.results.map((r) => [r.window_start, r.event_count])).toEqual([[windowIso(T0 - 60000), 2]]);
    expect(out.open.map((w) => [w.window_start])).toEqual([[windowIso(T0)]]);
  });

  test('sums are IEEE doubles added in arrival order', () => {
    const m = new FraudModel({ ...spec, rules: [{ id: 'sum_above_1', feature: 'sum', threshold: 1e300, weight: 1 }] });
    for (const [i, a] of [0.1, 0.2, 1e16, 1, 1, -1e16].entries()) m.push(ev(`e${i}`, T0 + i, a));
    m.push(ev('close', T0 + 80000, 0, undefined, 's-0', 'c2'));
    // 0.1 + 0.2 = 0.30000000000000004; 1e16 + 1 rounds back to 1e16 twice; minus 1e16 leaves 0.
    expect(out(m).results[0].amount_sum).toBe(0);
    const m2 = new FraudModel(spec);
    m2.push(ev('x', T0, 0.1));
    m2.push(ev('y', T0 + 1, 0.2));
    m2.push(ev('close', T0 + 80000, 0, undefined, 's-0', 'c2'));
    expect(out(m2).results[0].amount_sum).toBe(0.30000000000000004);
  });

  test('a numeric event id is its String(n): 12 and "12" are the same event', () => {
    const m = new FraudModel(spec);
    m.push(ev(12, T0, 1));
    expect(m.push(ev('12', T0 + 5, 1))).toMatchObject({ kind: 'duplicate' });
  });

  test('epoch_seconds times go through parseEventTime (fractions to whole ms)', () => {
    const secSpec: FraudSpec = { ...spec, schema: { ...spec.schema, eventTime: { field: 'ts', format: 'epoch_seconds' } } };
    const m = new FraudModel(secSpec);
    const t = (T0 + 1500) / 1000;
    m.push({ shard: 's-0', arrivalMs: T0 + 2000, data: { id: 'a', customer: { id: 'c1' }, ts: String(t), amount: 1 } });
    m.push({ shard: 's-0', arrivalMs: T0 + 2000, data: { id: 'b', customer: { id: 'c1' }, ts: t, amount: 1 } });
    expect(m.output().watermarks['s-0']).toBe(windowIso(T0 + 1500 - spec.allowedLatenessMs));
  });

  test('state TTL: an item is absent once its expiresAt (s) is below now (whole seconds)', () => {
    const short: FraudSpec = { ...spec, stateRetentionMs: 60000 };
    // [T0, T0+60 s): expiresAt = (T0 + 60 s + 10 s + 60 s) / 1000.
    const expiresMs = T0 + 130000;
    const m = new FraudModel(short);
    m.push(ev('a', T0, 1));
    m.push(ev('z', T0 + 75000, 1));
    expect(m.push(ev('a', T0, 1, expiresMs + 999))).toMatchObject({ kind: 'duplicate' });
    expect(m.push(ev('a', T0, 1, expiresMs + 1000))).toMatchObject({ kind: 'late' });
  });

  test('the contract gap (a customer on two shards updating a closed window) throws instead of guessing', () => {
    const m = new FraudModel(spec);
    m.push(ev('a', T0, 1, undefined, 's-0'));
    m.push(ev('b', T0 + 80000, 1, undefined, 's-0'));
    // Same customer on another shard whose watermark is still −∞: the window is closed but not late there.
    expect(() => m.push(ev('c', T0 + 5, 1, T0 + 80200, 's-1'))).toThrow(ModelUndefinedError);
  });

  test('an open window whose TTL passes before it closes is dropped without a result (contract 6: expired = absent)', () => {
    const m = new FraudModel({ ...spec, stateRetentionMs: 0 });
    m.push(ev('a', T0, 1)); // expiresAt = T0/1000 + 70 s
    m.push(ev('z', T0 + 80000, 1, T0 + 80100)); // W = T0 + 70 s would close it, but at now = T0 + 80.1 s it has expired
    expect(m.output()).toMatchObject({ results: [], expiredOpen: 1 });
  });

  test('alerts and results are JSON values: an amount of -0 reads back as 0', () => {
    const m = new FraudModel(spec);
    m.push(ev('a', T0, '-0.00'));
    m.push(ev('z', T0 + 80000, 1));
    const r = m.output().results[0];
    expect(Object.is(r.amount_min, 0)).toBe(true);
    expect(Object.is(r.amount_avg, 0)).toBe(true);
  });

  test('alertId and resultId are the first 32 hex chars of sha256 over the contract strings', () => {
    const w = { startMs: T0, endMs: T0 + 60000 };
    expect(alertId('c1', w, '*score')).toBe(createHash('sha256').update(`alert|c1|${T0}|${T0 + 60000}|*score`).digest('hex').slice(0, 32));
    expect(resultId('c1', w)).toMatch(/^[0-9a-f]{32}$/);
    expect(windowIso(T0)).toBe('2026-12-03T12:00:00.000Z');
  });
});

const out = (m: FraudModel): FraudModelOutput => m.output();
