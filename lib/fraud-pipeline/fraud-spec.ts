import { Duration } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type { IConstruct } from 'constructs';
import { AlertPolicy, type FraudRule, type FraudSchema, type FraudSpecProps, type FraudWindow } from './fraud-rules';
import { EventTimeFormat } from '../core/event-time';
import { propError } from '../core/errors';
import { checkSpecAsEngines } from './engine-spec-check';

/** The FraudSpec JSON (lambda/shared/fraud/spec.ts; test/fraud-rules.test.ts checks the two agree). */
export interface CompiledFraudSpec {
  readonly version: 1;
  readonly schema: {
    readonly customerId: string; readonly eventId: string; readonly amount: string; readonly attributes: string[];
    readonly eventTime: { readonly field: string; readonly format: 'epoch_seconds' | 'epoch_millis' | 'iso8601' };
  };
  readonly window: { readonly sizeMs: number; readonly slideMs: number };
  readonly allowedLatenessMs: number;
  readonly futureToleranceMs: number;
  readonly distinctCap: number;
  readonly evidenceEventIds: number;
  readonly maxEventsPerWindow: number;
  readonly rules: { readonly id: string; readonly feature: 'count' | 'sum' | 'max' | 'distinct'; readonly attribute?: string; readonly threshold: number; readonly weight: number }[];
  readonly alert: { readonly kind: 'anyRule' } | { readonly kind: 'scoreAtLeast'; readonly score: number };
  readonly stateRetentionMs: number;
  readonly idleTimeoutMs: number;
}

export const DEFAULT_FUTURE_TOLERANCE = Duration.minutes(5);
export const DEFAULT_DISTINCT_CAP = 100;
export const DEFAULT_EVIDENCE_EVENT_IDS = 10;
export const DEFAULT_MAX_EVENTS_PER_WINDOW = 20_000;
export const DEFAULT_STATE_RETENTION = Duration.days(7);
export const DEFAULT_IDLE_TIMEOUT = Duration.minutes(1);
/**
 * Lambda allows 4 KB for all environment variables together; the spec may take 3 KB of it, leaving
 * 1 KB for the table and bucket names and the rest (their lengths are unknown at synth).
 */
export const FRAUD_SPEC_MAX_BYTES = 3 * 1024;

const isWholeSeconds = (d: Duration): boolean => Number.isInteger(d.toSeconds({ integral: false }));
const RULE_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Compiles the typed props into the spec the engines read, checking every rule at synth. */
export function compileFraudSpec(scope: IConstruct, props: FraudSpecProps, streamRetention?: Duration): CompiledFraudSpec {
  const schema = compileSchema(scope, props.schema);
  const window = compileWindow(scope, props.window);
  const lateness = props.allowedLateness.toMilliseconds();
  if (lateness < 0) throw propError(scope, 'allowedLateness', `(${lateness} ms) must not be negative`);
  if (streamRetention && lateness > streamRetention.toMilliseconds()) {
    throw propError(scope, 'allowedLateness', `(${props.allowedLateness.toHumanString()}) exceeds the stream's retention (${streamRetention.toHumanString()}): an event that late has already left the stream`);
  }
  const count = (prop: string, value: number, min: number): number => {
    if (!Number.isInteger(value) || value < min) throw propError(scope, prop, `(${value}) must be a whole number, ${min} or more`);
    return value;
  };
  const distinctCap = count('distinctCap', props.distinctCap ?? DEFAULT_DISTINCT_CAP, 1);
  const evidenceEventIds = count('evidenceEventIds', props.evidenceEventIds ?? DEFAULT_EVIDENCE_EVENT_IDS, 1);
  const maxEventsPerWindow = count('maxEventsPerWindow', props.maxEventsPerWindow ?? DEFAULT_MAX_EVENTS_PER_WINDOW, 1);
  const duration = (prop: string, d: Duration, min: Duration): number => {
    if (d.toMilliseconds() < min.toMilliseconds()) throw propError(scope, prop, `(${d.toHumanString()}) must be at least ${min.toHumanString()}`);
    return d.toMilliseconds();
  };
  const rules = compileRules(scope, props.rules, schema.attributes, distinctCap);
  const spec: CompiledFraudSpec = {
    version: 1,
    schema,
    window,
    allowedLatenessMs: lateness,
    futureToleranceMs: duration('futureTolerance', props.futureTolerance ?? DEFAULT_FUTURE_TOLERANCE, Duration.millis(0)),
    distinctCap,
    evidenceEventIds,
    maxEventsPerWindow,
    rules,
    alert: compileAlert(scope, props.alertWhen ?? AlertPolicy.anyRule(), rules),
    // TTL deletes by the second; a retention under a day would drop dedup state before late redeliveries stop.
    stateRetentionMs: duration('stateRetention', props.stateRetention ?? DEFAULT_STATE_RETENTION, Duration.days(1)),
    // The closer runs every minute: a shorter idle timeout would tick shards that are merely between batches.
    idleTimeoutMs: duration('idleTimeout', props.idleTimeout ?? DEFAULT_IDLE_TIMEOUT, Duration.minutes(1)),
  };
  const bytes = Buffer.byteLength(JSON.stringify(spec));
  if (bytes > FRAUD_SPEC_MAX_BYTES) {
    throw propError(scope, 'rules', `compile to a ${bytes}-byte FRAUD_SPEC; Lambda allows 4 KB of environment variables per function, of which the spec may take ${FRAUD_SPEC_MAX_BYTES} bytes: use fewer rules, or shorter rule ids and field paths`);
  }
  // Last, so the checks above explain a mistake in the props' own words first.
  checkSpecAsEngines(scope, spec);
  return spec;
}

function compileSchema(scope: IConstruct, s: FraudSchema): CompiledFraudSpec['schema'] {
  for (const prop of ['customerId', 'eventId', 'amount'] as const) {
    if (!s[prop]) throw propError(scope, `schema.${prop}`, `('${s[prop]}') must be a dotted path into the payload`);
  }
  if (!s.eventTime.field) throw propError(scope, 'schema.eventTime.field', `('${s.eventTime.field}') must be a dotted path into the payload`);
  const attributes = s.attributes ?? [];
  attributes.forEach((a, i) => {
    if (!a) throw propError(scope, `schema.attributes[${i}]`, `('${a}') must be a dotted path into the payload`);
    if (attributes.indexOf(a) !== i) throw propError(scope, `schema.attributes[${i}]`, `('${a}') is listed twice`);
  });
  const format = (s.eventTime.format ?? EventTimeFormat.ISO_8601).handlerFormat as CompiledFraudSpec['schema']['eventTime']['format'];
  return { customerId: s.customerId, eventId: s.eventId, eventTime: { field: s.eventTime.field, format }, amount: s.amount, attributes: [...attributes] };
}

function compileWindow(scope: IConstruct, w: FraudWindow): CompiledFraudSpec['window'] {
  const sizeMs = w.size.toMilliseconds();
  if (sizeMs <= 0 || !isWholeSeconds(w.size)) throw propError(scope, 'window.size', `(${sizeMs} ms) must be a whole number of seconds, greater than 0`);
  if (!w.isHopping) return { sizeMs, slideMs: sizeMs };
  const slideMs = w.slide.toMilliseconds();
  if (slideMs <= 0 || !isWholeSeconds(w.slide)) throw propError(scope, 'window.slide', `(${slideMs} ms) must be a whole number of seconds, greater than 0`);
  if (sizeMs % slideMs !== 0) throw propError(scope, 'window.slide', `(${slideMs} ms) must divide window.size (${sizeMs} ms): windows start at multiples of the slide and each event is in size/slide of them`);
  return { sizeMs, slideMs };
}

function compileRules(scope: IConstruct, rules: FraudRule[], attributes: string[], distinctCap: number): CompiledFraudSpec['rules'] {
  if (rules.length === 0) throw propError(scope, 'rules', '(empty) must hold at least one rule');
  const seen = new Map<string, number>();
  return rules.map((r, i) => {
    const at = `rules[${i}]`;
    if (!RULE_ID.test(r.id)) throw propError(scope, `${at}.id`, `('${r.id}') must be 1-64 letters, digits, '_', '.', ':' or '-' (it names the rule in alerts)`);
    if (seen.has(r.id)) throw propError(scope, `${at}.id`, `('${r.id}') duplicates rules[${seen.get(r.id)}]: rule ids must be unique`);
    seen.set(r.id, i);
    if (!Number.isFinite(r.threshold)) throw propError(scope, `${at}.threshold`, `(${r.threshold}) must be a finite number`);
    if (!(Number.isFinite(r.weight) && r.weight > 0)) throw propError(scope, `${at}.weight`, `(${r.weight}) must be a finite number greater than 0`);
    if (r.feature === 'distinct') {
      if (!attributes.includes(r.attribute!)) throw propError(scope, `${at}.attribute`, `('${r.attribute}') is not one of \`schema.attributes\` (${attributes.join(', ') || 'none'})`);
      if (r.threshold >= distinctCap) {
        throw propError(scope, `${at}.threshold`, `(${r.threshold}) must be below distinctCap (${distinctCap}): distinct counts stop at the cap, so the rule could never be decided`);
      }
      return { id: r.id, feature: 'distinct' as const, attribute: r.attribute, threshold: r.threshold, weight: r.weight };
    }
    return { id: r.id, feature: r.feature as 'count' | 'sum' | 'max', threshold: r.threshold, weight: r.weight };
  });
}

function compileAlert(scope: IConstruct, policy: AlertPolicy, rules: CompiledFraudSpec['rules']): CompiledFraudSpec['alert'] {
  if (policy.kind === 'anyRule') return { kind: 'anyRule' };
  const score = policy.score!;
  const total = rules.reduce((sum, r) => sum + r.weight, 0);
  if (!(Number.isFinite(score) && score > 0)) throw propError(scope, 'alertWhen.score', `(${score}) must be a finite number greater than 0`);
  if (score > total) throw propError(scope, 'alertWhen.score', `(${score}) is above the sum of the rules' weights (${total}): no window could ever reach it`);
  return { kind: 'scoreAtLeast', score };
}

/**
 * The lake's columns for window results (FraudWindowResult, with `distinct` flattened to one
 * `distinct_<attribute>` column per attribute, as the publisher writes them).
 */
export function fraudResultColumns(spec: CompiledFraudSpec): glue.Column[] {
  const text = (name: string) => ({ name, type: glue.Schema.STRING });
  const number = (name: string) => ({ name, type: glue.Schema.DOUBLE });
  return [
    text('result_id'), text('customer_id'), text('window_start'), text('window_end'),
    { name: 'event_count', type: glue.Schema.BIG_INT },
    number('amount_sum'), number('amount_min'), number('amount_max'), number('amount_avg'),
    ...spec.schema.attributes.map((a) => ({ name: `distinct_${a}`, type: glue.Schema.INTEGER })),
    { name: 'distinct_saturated', type: glue.Schema.array(glue.Schema.STRING) },
    number('score'),
    { name: 'rules_hit', type: glue.Schema.array(glue.Schema.STRING) },
    { name: 'alerted', type: glue.Schema.array(glue.Schema.STRING) },
  ];
}
