/**
 * The Lambda engine against the reference model (test/support/fraud-model.ts):
 * - every corpus file marked for the `lambda` engine, without faults: its `expected` block exactly;
 * - seeded random streams (test/support/fraud-streams.ts) under the ESM simulator with faults
 *   (DynamoDB throttling past the time budget → partial batch failures, conditional conflicts, an
 *   invocation dying after some transactions committed, redelivery of successful batches): final
 *   results, the alert set, open windows, watermarks, late and failure lines exactly, and every input
 *   record settled once as the model decided it (applied / duplicate / late / invalid), a model-applied
 *   record reading as a duplicate (or any record as already settled) only when an earlier delivery of
 *   it failed after committing.
 *
 *   FRAUD_VS_MODEL_FIRST_SEED=n  first seed (default 1)     FRAUD_VS_MODEL_RUNS=n  streams (default 1000)
 */
import { prng } from '../bench/prng';
import type { UnitOutcome } from '../lambda/fraud-scorer/core';
import { loadFraudCorpus } from './support/fraud-corpus';
import { runEngine, NO_FAULTS, type EngineFaults, type EngineOutput } from './support/fraud-engine-run';
import { runFraudModel, type FraudModelOutput } from './support/fraud-model';
import type { FraudInputItem } from './support/fraud-model-types';
import { generateFraudStream } from './support/fraud-streams';

const FIRST = Number(process.env.FRAUD_VS_MODEL_FIRST_SEED ?? 1);
const RUNS = Number(process.env.FRAUD_VS_MODEL_RUNS ?? 1000);

const byId = <T extends { alert_id: string }>(xs: readonly T[]) => [...xs].sort((a, b) => a.alert_id.localeCompare(b.alert_id));
const sortOpen = (xs: readonly { customer_id: string; window_start: string }[]) => [...xs].sort((a, b) => a.customer_id.localeCompare(b.customer_id) || a.window_start.localeCompare(b.window_start));
const json = <T>(x: T): T => JSON.parse(JSON.stringify(x));

/** The model's disposition kind for an engine outcome. */
function kindOf(o: UnitOutcome): string {
  if (o.kind === 'window_full') return 'invalid:window_full';
  if (o.kind === 'invalid') return `invalid:${o.reason}`;
  if (o.kind === 'applied' && o.late.length > 0) return 'late';
  return o.kind;
}

/** Every difference between the engine's output and the model's, as readable lines (empty = equal). */
function differences(input: readonly FraudInputItem[], model: FraudModelOutput, engine: EngineOutput): string[] {
  const out: string[] = [];
  const same = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(json(a)) === JSON.stringify(json(b))) return;
    if (Array.isArray(a) && Array.isArray(b)) {
      // Only the elements that differ, so a long list stays readable.
      const as = a.map((x) => JSON.stringify(json(x)));
      const bs = b.map((x) => JSON.stringify(json(x)));
      out.push(`${what}: only in the engine ${as.filter((x) => !bs.includes(x)).join(' ')}\n   only in the model ${bs.filter((x) => !as.includes(x)).join(' ')}`);
    } else {
      out.push(`${what}: engine ${JSON.stringify(a)}\n   model ${JSON.stringify(b)}`);
    }
  };
  same('results', engine.results, model.results);
  same('alerts', byId(engine.alerts), byId(model.alerts));
  same('open windows', sortOpen(engine.open), sortOpen(model.open.map(({ customer_id, window_start, window_end, owner }) => ({ customer_id, window_start, window_end, owner }))));
  same('watermarks', engine.watermarks, model.watermarks);
  same('late lines', engine.late, model.lateSink.map((l) => ({ index: l.index, event_id: l.event_id, late_windows: l.late_windows })));
  same('failure lines', engine.invalid, model.invalid);
  for (const esm of engine.esm) {
    if (esm.destination.length > 0 || esm.violations.length > 0) out.push(`ESM: ${esm.destination.length} batches to the on-failure destination, violations ${esm.violations.join('; ')}`);
  }
  for (const d of model.dispositions) {
    if (d.kind === 'tick') continue;
    const got = engine.outcomes.get(d.index);
    const want = d.kind === 'invalid' ? `invalid:${d.reason}` : d.kind;
    if (got === undefined) out.push(`input ${d.index}: never settled (model: ${want})`);
    else if (kindOf(got.outcome) !== want && !(got.failedBefore && ((want === 'applied' && got.outcome.kind === 'duplicate') || got.outcome.kind === 'redelivered'))) {
      out.push(`input ${d.index}: engine ${kindOf(got.outcome)}${got.failedBefore ? ' (after a failed delivery)' : ''}, model ${want}: ${JSON.stringify(input[d.index])}`);
    }
  }
  return out;
}

describe('corpus files (no faults)', () => {
  for (const file of loadFraudCorpus().filter((f) => f.engines.includes('lambda'))) {
    test(`${file.name}: the engine gives the expected block exactly`, async () => {
      const engine = await runEngine(file.spec, file.input, NO_FAULTS, prng(1));
      const model = runFraudModel(file.spec, file.input);
      expect(differences(file.input, model, engine)).toEqual([]);
      expect(json(engine.results)).toEqual(json(file.expected.results));
      expect(byId(engine.alerts)).toEqual(byId(file.expected.alerts));
      expect(engine.watermarks).toEqual(file.expected.watermarks);
      expect(engine.invalid).toEqual(file.expected.invalid);
      expect(engine.late.map(({ event_id, late_windows }) => ({ event_id, late_windows }))).toEqual(file.expected.late);
      const duplicates = [...engine.outcomes.values()].filter((o) => o.outcome.kind === 'duplicate').length;
      expect(duplicates).toBe(file.expected.duplicates);
    });
  }
});

/** Faults drawn per stream: a third run clean, the rest with throttling, conflicts, deaths and redelivery. */
function faultsFor(r: () => number): EngineFaults {
  const level = Math.floor(r() * 3);
  if (level === 0) return { ...NO_FAULTS, batchSize: 1 + Math.floor(r() * 100) };
  return {
    throttle: level === 1 ? 0.05 : 0.4, conflict: 0.1 * level, die: 0.08 * level, redeliver: 0.05 * level,
    batchSize: 1 + Math.floor(r() * 40), budgetMs: 300,
  };
}

test(`seeded streams ${FIRST}..${FIRST + RUNS - 1}: the engine under faults matches the model`, async () => {
  console.log(`fraud engine vs model: seeds ${FIRST}..${FIRST + RUNS - 1} (FRAUD_VS_MODEL_FIRST_SEED / FRAUD_VS_MODEL_RUNS)`);
  const failures: string[] = [];
  const totals = { records: 0, partial: 0, errors: 0, redeliveries: 0 };
  for (let seed = FIRST; seed < FIRST + RUNS && failures.length < 3; seed++) {
    const { spec, input } = generateFraudStream(seed);
    const model = runFraudModel(spec, input);
    const r = prng(seed ^ 0x5eed);
    const faults = faultsFor(r);
    const engine = await runEngine(spec, input, faults, r);
    const diff = differences(input, model, engine);
    if (diff.length > 0) failures.push(`seed ${seed} (faults ${JSON.stringify(faults)}):\n  ${diff.slice(0, 8).join('\n  ')}`);
    totals.records += input.length;
    for (const e of engine.esm) {
      totals.partial += e.stats.partialFailures;
      totals.errors += e.stats.functionErrors;
      totals.redeliveries += e.stats.redeliveries;
    }
  }
  console.log(`fraud engine vs model: ${JSON.stringify(totals)}`);
  expect(failures).toEqual([]);
  // The faults did happen: partial batch failures, function errors (deaths) and redeliveries.
  expect(totals.partial).toBeGreaterThan(0);
  expect(totals.errors).toBeGreaterThan(0);
  expect(totals.redeliveries).toBeGreaterThan(0);
});
