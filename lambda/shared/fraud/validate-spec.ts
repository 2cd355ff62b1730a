/**
 * The spec check every engine function runs at init: an unknown version or a bad field throws, naming
 * every problem, so a bad deployment fails its first invocation loudly instead of scoring wrongly.
 */
import { parseDottedPath, type DottedPath } from '../dotted-path';
import { EVENT_TIME_FORMATS, type EventTimeFormat } from '../event-time';
import { isObject } from '../unknown';
import { MAX_ITEM_BYTES, MAX_RULE_ID_LENGTH, windowItemSizeBound } from './item-size';
import { FRAUD_SPEC_VERSION, SCORE_ALERT_KEY, type FraudSpec } from './spec';

/** A checked spec with its paths parsed once. */
export interface CompiledSpec {
  readonly spec: FraudSpec;
  readonly customerId: DottedPath;
  readonly eventId: DottedPath;
  readonly eventTime: DottedPath;
  readonly timeFormat: EventTimeFormat;
  readonly amount: DottedPath;
  readonly attributes: readonly DottedPath[];
}

export class FraudSpecError extends Error {
  override readonly name = 'FraudSpecError';
}

/** Rules per spec. */
export const MAX_RULES = 50;

const FEATURES = new Set(['count', 'sum', 'max', 'distinct']);

function positiveInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}
function nonNegativeInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
function finite(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v);
}

function checkPath(problems: string[], value: unknown, what: string): void {
  try {
    parseDottedPath(value, what);
  } catch (e) {
    problems.push((e as Error).message);
  }
}

function checkSchema(s: Record<string, unknown>, problems: string[]): void {
  const schema = s.schema;
  if (!isObject(schema)) {
    problems.push('schema must be an object');
    return;
  }
  for (const f of ['customerId', 'eventId', 'amount'] as const) checkPath(problems, schema[f], `schema.${f}`);
  const et = schema.eventTime;
  if (!isObject(et)) problems.push('schema.eventTime must be { field, format }');
  else {
    checkPath(problems, et.field, 'schema.eventTime.field');
    if (!EVENT_TIME_FORMATS.includes(et.format as EventTimeFormat)) problems.push(`schema.eventTime.format must be one of ${EVENT_TIME_FORMATS.join(', ')}; got ${JSON.stringify(et.format)}`);
  }
  const attrs = schema.attributes;
  if (!Array.isArray(attrs)) problems.push('schema.attributes must be an array of dotted paths');
  else {
    attrs.forEach((a, i) => checkPath(problems, a, `schema.attributes[${i}]`));
    if (new Set(attrs).size !== attrs.length) problems.push('schema.attributes has duplicates');
  }
}

function checkNumbers(s: Record<string, unknown>, problems: string[]): void {
  const w = s.window;
  if (!isObject(w) || !positiveInt(w.sizeMs) || !positiveInt(w.slideMs)) problems.push('window must be { sizeMs, slideMs }, positive integers');
  else if ((w.sizeMs as number) % (w.slideMs as number) !== 0) problems.push(`window.sizeMs (${w.sizeMs}) must be a multiple of window.slideMs (${w.slideMs})`);
  for (const f of ['allowedLatenessMs', 'futureToleranceMs'] as const) {
    if (!nonNegativeInt(s[f])) problems.push(`${f} must be a non-negative integer; got ${JSON.stringify(s[f])}`);
  }
  for (const f of ['distinctCap', 'evidenceEventIds', 'maxEventsPerWindow', 'stateRetentionMs', 'idleTimeoutMs'] as const) {
    if (!positiveInt(s[f])) problems.push(`${f} must be a positive integer; got ${JSON.stringify(s[f])}`);
  }
}

function checkRules(s: Record<string, unknown>, problems: string[]): void {
  const rules = s.rules;
  const attrs = isObject(s.schema) && Array.isArray(s.schema.attributes) ? s.schema.attributes : [];
  if (!Array.isArray(rules) || rules.length === 0 || rules.length > MAX_RULES) {
    // A window and the alerts it decides in one batch (one per rule at most) share a 100-action transaction.
    problems.push(`rules must be an array of 1..${MAX_RULES} rules`);
  } else {
    const ids = new Set<string>();
    rules.forEach((r, i) => {
      const at = `rules[${i}]`;
      if (!isObject(r)) return void problems.push(`${at} must be an object`);
      if (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > MAX_RULE_ID_LENGTH) problems.push(`${at}.id must be a string of 1..${MAX_RULE_ID_LENGTH} characters`);
      else if (ids.has(r.id)) problems.push(`${at}.id '${r.id}' is not unique`);
      else if (r.id === SCORE_ALERT_KEY) problems.push(`${at}.id '${SCORE_ALERT_KEY}' is reserved`);
      ids.add(r.id as string);
      if (!FEATURES.has(r.feature as string)) problems.push(`${at}.feature must be count, sum, max or distinct; got ${JSON.stringify(r.feature)}`);
      if (r.feature === 'distinct' && !attrs.includes(r.attribute)) problems.push(`${at}.attribute must be one of schema.attributes; got ${JSON.stringify(r.attribute)}`);
      if (r.feature !== 'distinct' && r.attribute !== undefined) problems.push(`${at}.attribute is only for the distinct feature`);
      if (!finite(r.threshold)) problems.push(`${at}.threshold must be a finite number`);
      if (!finite(r.weight)) problems.push(`${at}.weight must be a finite number`);
    });
  }
  const a = s.alert;
  if (!isObject(a) || !(a.kind === 'anyRule' || (a.kind === 'scoreAtLeast' && finite(a.score)))) {
    problems.push(`alert must be { kind: 'anyRule' } or { kind: 'scoreAtLeast', score: <finite number> }; got ${JSON.stringify(a)}`);
  }
}

/**
 * Every problem of `raw` against the contract (empty when the engines accept it). FraudPipeline runs
 * this same function at synth (bundled as assets/lambda/fraud-spec-check), so a spec that synthesizes
 * is one the engines start with.
 */
export function fraudSpecProblems(raw: unknown): string[] {
  if (!isObject(raw)) return ['fraud spec: expected a JSON object'];
  if (raw.version !== FRAUD_SPEC_VERSION) return [`version ${JSON.stringify(raw.version)} is unknown; this engine knows version ${FRAUD_SPEC_VERSION}`];
  const problems: string[] = [];
  checkSchema(raw, problems);
  checkNumbers(raw, problems);
  checkRules(raw, problems);
  if (problems.length === 0) {
    const bound = windowItemSizeBound(raw as unknown as FraudSpec);
    if (bound > MAX_ITEM_BYTES) {
      problems.push(`maxEventsPerWindow, distinctCap and evidenceEventIds let a window item reach ${bound} bytes, over DynamoDB's ${MAX_ITEM_BYTES}: lower one of them`);
    }
  }
  return problems;
}

/** Checks `raw` against the contract; throws a FraudSpecError listing every problem. */
export function compileFraudSpec(raw: unknown): CompiledSpec {
  const problems = fraudSpecProblems(raw);
  if (problems.length > 0) throw new FraudSpecError(`fraud spec is invalid:\n- ${problems.join('\n- ')}`);
  const spec = raw as unknown as FraudSpec;
  return {
    spec,
    customerId: parseDottedPath(spec.schema.customerId, 'schema.customerId'),
    eventId: parseDottedPath(spec.schema.eventId, 'schema.eventId'),
    eventTime: parseDottedPath(spec.schema.eventTime.field, 'schema.eventTime.field'),
    timeFormat: spec.schema.eventTime.format,
    amount: parseDottedPath(spec.schema.amount, 'schema.amount'),
    attributes: spec.schema.attributes.map((a, i) => parseDottedPath(a, `schema.attributes[${i}]`)),
  };
}

/** The spec from a function's FRAUD_SPEC environment variable. */
export function specFromEnv(text: string | undefined): CompiledSpec {
  if (text === undefined || text === '') throw new FraudSpecError('FRAUD_SPEC is not set');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new FraudSpecError(`FRAUD_SPEC is not JSON: ${(e as Error).message}`);
  }
  return compileFraudSpec(raw);
}
