/**
 * The fraud scenario corpus against the reference model: every file's hand-derived expectations must
 * equal the model's output exactly, and every file must be well formed (so an engine test can trust it).
 */

import { createHash } from 'node:crypto';
import { fraudSpecProblems, loadFraudCorpus, type FraudCorpusFile } from './support/fraud-corpus';
import { expectedOf, runFraudModel, type FraudModelOutput } from './support/fraud-model';

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
      'interleaved-customers', 'window-boundaries',
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
