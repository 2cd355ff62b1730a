import { Duration, Stack } from 'aws-cdk-lib';
import { newApp } from './support/nag';
import type { FraudSpec } from '../lambda/shared/fraud/spec';
import { FRAUD_SPEC_VERSION, SCORE_ALERT_KEY } from '../lambda/shared/fraud/spec';
import { compileFraudSpec as engineCompile } from '../lambda/shared/fraud/validate-spec';
import { AlertPolicy, EventTimeFormat, FraudRule, FraudWindow, type FraudSpecProps } from '../lib';
import { MAX_ITEM_BYTES, windowItemSizeBound } from '../lambda/shared/fraud/item-size';
import { compileFraudSpec, type CompiledFraudSpec, FRAUD_SPEC_MAX_BYTES } from '../lib/fraud-pipeline/fraud-spec';

// One truth: the compiler's output type and the engines' input type must be the same shape.
const toEngine = (s: CompiledFraudSpec): FraudSpec => s;
const fromEngine = (s: FraudSpec): CompiledFraudSpec => ({ ...s, schema: { ...s.schema, attributes: [...s.schema.attributes] }, rules: [...s.rules] });

const scope = () => new Stack(newApp(), 'S');
const base: FraudSpecProps = {
  schema: { customerId: 'customer_id', eventId: 'event_id', eventTime: { field: 'ts', format: EventTimeFormat.ISO_8601 }, amount: 'amount', attributes: ['merchant_id', 'country'] },
  window: FraudWindow.tumbling(Duration.seconds(30)),
  allowedLateness: Duration.minutes(2),
  rules: [FraudRule.countAbove(10), FraudRule.sumAbove(5000), FraudRule.distinctAbove('merchant_id', 4), FraudRule.maxAbove(2500)],
};
const compile = (over: Partial<FraudSpecProps> = {}, retention?: Duration) => compileFraudSpec(scope(), { ...base, ...over }, retention);
const schemaWith = (over: object) => ({ ...base.schema, ...over });

test('compiles the README example to the engines\' FraudSpec with every default', () => {
  const spec = compile();
  expect(toEngine(spec)).toEqual({
    version: FRAUD_SPEC_VERSION,
    schema: { customerId: 'customer_id', eventId: 'event_id', eventTime: { field: 'ts', format: 'iso8601' }, amount: 'amount', attributes: ['merchant_id', 'country'] },
    window: { sizeMs: 30_000, slideMs: 30_000 },
    allowedLatenessMs: 120_000,
    futureToleranceMs: 300_000,
    distinctCap: 100,
    evidenceEventIds: 10,
    maxEventsPerWindow: 20_000,
    rules: [
      { id: 'count_above_10', feature: 'count', threshold: 10, weight: 1 },
      { id: 'sum_above_5000', feature: 'sum', threshold: 5000, weight: 1 },
      { id: 'distinct_merchant_id_above_4', feature: 'distinct', attribute: 'merchant_id', threshold: 4, weight: 1 },
      { id: 'max_above_2500', feature: 'max', threshold: 2500, weight: 1 },
    ],
    alert: { kind: 'anyRule' },
    stateRetentionMs: 7 * 86_400_000,
    idleTimeoutMs: 60_000,
  });
  expect(fromEngine(toEngine(spec))).toEqual(spec);
});

test('hopping windows, rule ids and weights, a score policy and every option compile as given', () => {
  const spec = compile({
    schema: { customerId: 'c.id', eventId: 'id', eventTime: { field: 't', format: EventTimeFormat.EPOCH_MILLIS }, amount: 'a' },
    window: FraudWindow.hopping(Duration.minutes(5), Duration.minutes(1)),
    rules: [FraudRule.countAbove(3, { id: 'burst', weight: 2 }), FraudRule.sumAbove(99.5, { weight: 0.5 })],
    alertWhen: AlertPolicy.scoreAtLeast(2.5),
    futureTolerance: Duration.seconds(30), distinctCap: 10, evidenceEventIds: 3, maxEventsPerWindow: 500,
    stateRetention: Duration.days(2), idleTimeout: Duration.minutes(3),
  });
  expect(spec).toMatchObject({
    schema: { eventTime: { field: 't', format: 'epoch_millis' }, attributes: [] },
    window: { sizeMs: 300_000, slideMs: 60_000 },
    rules: [{ id: 'burst', feature: 'count', threshold: 3, weight: 2 }, { id: 'sum_above_99.5', feature: 'sum', threshold: 99.5, weight: 0.5 }],
    alert: { kind: 'scoreAtLeast', score: 2.5 },
    futureToleranceMs: 30_000, distinctCap: 10, evidenceEventIds: 3, maxEventsPerWindow: 500, stateRetentionMs: 2 * 86_400_000, idleTimeoutMs: 180_000,
  });
  expect(SCORE_ALERT_KEY).toBe('*score'); // no rule id can take the score alert's key: ids never contain '*'
});

test('ISO_8601_UTC and EPOCH_SECONDS map to the engines\' format names', () => {
  expect(compile({ schema: schemaWith({ eventTime: { field: 'ts', format: EventTimeFormat.ISO_8601_UTC } }) }).schema.eventTime.format).toBe('iso8601');
  expect(compile({ schema: schemaWith({ eventTime: { field: 'ts', format: EventTimeFormat.EPOCH_SECONDS } }) }).schema.eventTime.format).toBe('epoch_seconds');
  expect(compile({ schema: schemaWith({ eventTime: { field: 'ts' } }) }).schema.eventTime.format).toBe('iso8601');
});

test('the default maxEventsPerWindow keeps a window item well under 400 KB', () => {
  // The engines' bound (item-size.ts), which synth enforces through their own check.
  const bound = windowItemSizeBound(compile() as unknown as FraudSpec);
  expect(bound).toBeLessThan(MAX_ITEM_BYTES / 2);
});

describe('validation names the prop, its value and the rule', () => {
  test.each([
    ['window size 0', { window: FraudWindow.tumbling(Duration.seconds(0)) }, /`window.size` \(0 ms\) must be a whole number of seconds, greater than 0/],
    ['window size not whole seconds', { window: FraudWindow.tumbling(Duration.millis(1500)) }, /`window.size` \(1500 ms\) must be a whole number of seconds/],
    ['slide not dividing size', { window: FraudWindow.hopping(Duration.seconds(60), Duration.seconds(25)) }, /`window.slide` \(25000 ms\) must divide window.size \(60000 ms\)/],
    ['slide 0', { window: FraudWindow.hopping(Duration.seconds(60), Duration.seconds(0)) }, /`window.slide` \(0 ms\) must be a whole number of seconds, greater than 0/],
    ['slide not whole seconds', { window: FraudWindow.hopping(Duration.seconds(60), Duration.millis(500)) }, /`window.slide` \(500 ms\) must be a whole number of seconds/],
    ['slide longer than size', { window: FraudWindow.hopping(Duration.seconds(30), Duration.seconds(60)) }, /`window.slide` \(60000 ms\) must divide window.size/],
    ['a rule on an attribute not in schema.attributes', { rules: [FraudRule.distinctAbove('device_id', 2)] }, /`rules\[0\].attribute` \('device_id'\) is not one of `schema.attributes` \(merchant_id, country\)/],
    ['a threshold that is not finite', { rules: [FraudRule.sumAbove(Infinity)] }, /`rules\[0\].threshold` \(Infinity\) must be a finite number/],
    ['a NaN threshold', { rules: [FraudRule.countAbove(NaN, { id: 'c' })] }, /`rules\[0\].threshold` \(NaN\) must be a finite number/],
    ['duplicate rules', { rules: [FraudRule.countAbove(10), FraudRule.sumAbove(5), FraudRule.countAbove(10)] }, /`rules\[2\].id` \('count_above_10'\) duplicates rules\[0\]/],
    ['duplicate rule ids', { rules: [FraudRule.countAbove(10, { id: 'x' }), FraudRule.sumAbove(5, { id: 'x' })] }, /`rules\[1\].id` \('x'\) duplicates rules\[0\]/],
    ['a rule id the alerts cannot carry', { rules: [FraudRule.countAbove(1, { id: '*score' })] }, /`rules\[0\].id` \('\*score'\) must be 1-64 letters/],
    ['a distinct threshold at the cap', { rules: [FraudRule.distinctAbove('country', 100)] }, /`rules\[0\].threshold` \(100\) must be below distinctCap \(100\)/],
    ['a distinct threshold above a lowered cap', { distinctCap: 5, rules: [FraudRule.distinctAbove('country', 7)] }, /`rules\[0\].threshold` \(7\) must be below distinctCap \(5\)/],
    ['a weight of 0', { rules: [FraudRule.countAbove(1, { weight: 0 })] }, /`rules\[0\].weight` \(0\) must be a finite number greater than 0/],
    ['a negative weight', { rules: [FraudRule.countAbove(1, { weight: -1 })] }, /`rules\[0\].weight` \(-1\) must be a finite number greater than 0/],
    ['a weight that is not finite', { rules: [FraudRule.countAbove(1, { weight: Infinity })] }, /`rules\[0\].weight` \(Infinity\) must be a finite number/],
    ['empty rules', { rules: [] }, /`rules` \(empty\) must hold at least one rule/],
    ['scoreAtLeast 0', { alertWhen: AlertPolicy.scoreAtLeast(0) }, /`alertWhen.score` \(0\) must be a finite number greater than 0/],
    ['scoreAtLeast not finite', { alertWhen: AlertPolicy.scoreAtLeast(NaN) }, /`alertWhen.score` \(NaN\) must be a finite number greater than 0/],
    ['scoreAtLeast above the sum of weights', { alertWhen: AlertPolicy.scoreAtLeast(4.5) }, /`alertWhen.score` \(4.5\) is above the sum of the rules' weights \(4\)/],
    ['a fractional distinctCap', { distinctCap: 2.5 }, /`distinctCap` \(2.5\) must be a whole number, 1 or more/],
    ['evidenceEventIds 0', { evidenceEventIds: 0 }, /`evidenceEventIds` \(0\) must be a whole number, 1 or more/],
    ['maxEventsPerWindow 0', { maxEventsPerWindow: 0 }, /`maxEventsPerWindow` \(0\) must be a whole number, 1 or more/],
    ['maxEventsPerWindow past the 400 KB item', { maxEventsPerWindow: 60_000 }, /`maxEventsPerWindow` \(60000\) makes a spec the scorer would refuse at start: .*let a window item reach \d+ bytes, over DynamoDB's 409600/],
    ['an idle timeout under the closer\'s minute', { idleTimeout: Duration.seconds(30) }, /`idleTimeout` \(30 seconds\) must be at least 1 minute/],
    ['a state retention under a day', { stateRetention: Duration.hours(12) }, /`stateRetention` \(12 hours\) must be at least 1 day/],
    ['an empty customer path', { schema: schemaWith({ customerId: '' }) }, /`schema.customerId` \(''\) must be a dotted path/],
    ['an attribute listed twice', { schema: schemaWith({ attributes: ['a', 'b', 'a'] }), rules: [FraudRule.countAbove(1)] }, /`schema.attributes\[2\]` \('a'\) is listed twice/],
  ] as [string, Partial<FraudSpecProps>, RegExp][])('%s', (_, over, message) => {
    expect(() => compile(over)).toThrow(message);
  });

  test('lateness more than the stream\'s retention', () => {
    expect(() => compile({ allowedLateness: Duration.hours(25) }, Duration.hours(24))).toThrow(/`allowedLateness` \(1 day 1 hour\) exceeds the stream's retention \(1 day\)/);
    expect(compile({ allowedLateness: Duration.hours(24) }, Duration.hours(24)).allowedLatenessMs).toBe(86_400_000);
  });

  test('negative lateness cannot even be written: Duration refuses negative amounts', () => {
    // compileFraudSpec still checks it; the type makes the case unreachable from user code.
    expect(() => Duration.seconds(-1)).toThrow(/cannot be negative/);
    expect(compile({ allowedLateness: Duration.seconds(0) }).allowedLatenessMs).toBe(0);
  });

  test('a spec past Lambda\'s 4 KB environment fails, naming the rules', () => {
    const rules = Array.from({ length: 60 }, (_, i) => FraudRule.countAbove(i, { id: `a_rather_long_rule_identifier_${i}` }));
    expect(() => compile({ rules })).toThrow(new RegExp(`\`rules\` compile to a \\d+-byte FRAUD_SPEC; Lambda allows 4 KB .* may take ${FRAUD_SPEC_MAX_BYTES} bytes`));
  });
});

describe('a spec that synthesizes is one the engines start with', () => {
  // The scorer and closer run lambda/shared/fraud/validate-spec.ts at init and refuse a spec it rejects:
  // a synth-time check weaker than theirs would deploy a pipeline whose every invocation fails.
  const engineAccepts = (spec: CompiledFraudSpec) => () => engineCompile(JSON.parse(JSON.stringify(spec)));
  test.each([
    ['evidence ids past the item bound', { maxEventsPerWindow: 45_000, evidenceEventIds: 100 }, /`maxEventsPerWindow` \(45000\) .*the scorer would refuse.*over DynamoDB's 409600/],
    ['an attribute path with an empty segment', { schema: schemaWith({ attributes: ['device..id'] }), rules: [FraudRule.countAbove(1)] }, /`schema.attributes\[0\]` \('device..id'\) .*the scorer would refuse.*empty segment/],
    ['a reserved path segment', { schema: schemaWith({ amount: 'a.__proto__' }) }, /`schema.amount` .*the scorer would refuse.*__proto__/],
  ])('%s fails at synth, naming the prop', (_name, over, message) => {
    expect(() => compile(over as Partial<FraudSpecProps>)).toThrow(message);
  });

  test('the defaults and the issue\'s example start the engine', () => {
    expect(engineAccepts(compile())).not.toThrow();
    expect(engineAccepts(compile({ window: FraudWindow.hopping(Duration.seconds(30), Duration.seconds(10)), alertWhen: AlertPolicy.scoreAtLeast(2) }))).not.toThrow();
  });
});
