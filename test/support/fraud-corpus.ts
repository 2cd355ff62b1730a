/**
 * The fraud scenario corpus (test/fixtures/fraud/*.json, FRAUD-CONTRACT.md section 9): loading and
 * schema checks. Every engine's test loads the same files:
 *
 *   for (const c of loadFraudCorpus()) if (c.engines.includes('lambda')) { ... c.spec, c.input, c.expected ... }
 *
 * `fraudSpecProblems(spec)` lists what makes a spec unusable (empty when valid); the corpus test and
 * the stream generator's test use it on every spec they produce.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FRAUD_SPEC_VERSION, type FraudSpec } from '../../lambda/shared/fraud/spec';
import type { FraudExpected, FraudInputItem } from './fraud-model';

export const FRAUD_CORPUS_DIR = join(__dirname, '..', 'fixtures', 'fraud');

export type FraudEngine = 'lambda' | 'flink';

export interface FraudCorpusFile {
  /** File name without `.json`. */
  readonly name: string;
  readonly description: string;
  readonly engines: readonly FraudEngine[];
  readonly spec: FraudSpec;
  readonly input: readonly FraudInputItem[];
  readonly expected: FraudExpected;
}

/** Every corpus file, sorted by name. */
export function loadFraudCorpus(): FraudCorpusFile[] {
  return readdirSync(FRAUD_CORPUS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), ...JSON.parse(readFileSync(join(FRAUD_CORPUS_DIR, f), 'utf8')) }));
}

const positiveInt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;
const nonNegativeInt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

/** What is wrong with a spec, as messages naming the field; empty when the spec is usable. */
export function fraudSpecProblems(spec: FraudSpec): string[] {
  const p: string[] = [];
  if (spec.version !== FRAUD_SPEC_VERSION) p.push(`version must be ${FRAUD_SPEC_VERSION}`);
  const s = spec.schema;
  for (const [k, v] of [['customerId', s.customerId], ['eventId', s.eventId], ['amount', s.amount], ['eventTime.field', s.eventTime?.field]] as const) {
    if (typeof v !== 'string' || v === '') p.push(`schema.${k} must be a non-empty path`);
  }
  if (!['epoch_seconds', 'epoch_millis', 'iso8601'].includes(s.eventTime?.format)) p.push('schema.eventTime.format is unknown');
  if (new Set(s.attributes).size !== s.attributes.length) p.push('schema.attributes has duplicates');
  if (!positiveInt(spec.window.sizeMs) || !positiveInt(spec.window.slideMs)) p.push('window sizes must be positive integers');
  else if (spec.window.sizeMs % spec.window.slideMs !== 0) p.push('window.sizeMs must be a multiple of window.slideMs');
  for (const k of ['allowedLatenessMs', 'futureToleranceMs', 'stateRetentionMs', 'idleTimeoutMs'] as const) {
    if (!nonNegativeInt(spec[k])) p.push(`${k} must be a non-negative integer`);
  }
  for (const k of ['distinctCap', 'evidenceEventIds', 'maxEventsPerWindow'] as const) {
    if (!positiveInt(spec[k])) p.push(`${k} must be a positive integer`);
  }
  if (spec.rules.length === 0) p.push('rules must not be empty');
  const ids = new Set<string>();
  spec.rules.forEach((r, i) => {
    if (typeof r.id !== 'string' || r.id === '' || r.id.startsWith('*')) p.push(`rules[${i}].id must be a non-empty id not starting with '*'`);
    if (ids.has(r.id)) p.push(`rules[${i}].id '${r.id}' is repeated`);
    ids.add(r.id);
    if (!['count', 'sum', 'max', 'distinct'].includes(r.feature)) p.push(`rules[${i}].feature is unknown`);
    if (r.feature === 'distinct' ? !s.attributes.includes(r.attribute ?? '') : r.attribute !== undefined) {
      p.push(`rules[${i}].attribute must name a schema attribute exactly when feature is distinct`);
    }
    if (!Number.isFinite(r.threshold)) p.push(`rules[${i}].threshold must be finite`);
    if (!Number.isFinite(r.weight) || r.weight <= 0) p.push(`rules[${i}].weight must be a positive number`);
  });
  if (spec.alert.kind === 'scoreAtLeast') {
    if (!Number.isFinite(spec.alert.score) || spec.alert.score <= 0) p.push('alert.score must be a positive number');
  } else if (spec.alert.kind !== 'anyRule') p.push('alert.kind is unknown');
  return p;
}
