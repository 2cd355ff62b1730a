/**
 * Firehose transformation: payload JSON → event-time partition keys + the
 * record Firehose converts to Parquet. Pure: no SDK, no I/O, no process.env.
 *
 * Firehose's `!{timestamp}` is the arrival time of the oldest record in an
 * object; event-time partitions must come from the payload, which is what
 * this core computes for `!{partitionKeyFromLambda:…}`.
 */
import { decodeJsonRecord, type DecodeFailure, type JsonObject } from '../shared/decode-record';
import { getAtPath, parseDottedPath, replaceAtPath, type DottedPath } from '../shared/dotted-path';
import {
  checkProjectionRange,
  EVENT_TIME_FORMATS,
  EVENT_TIME_GRANULARITIES,
  parseEventTime,
  toUtcEventTime,
  type EventTimeFailure,
  type EventTimeFormat,
  type EventTimeGranularity,
  type ProjectionRange,
  type ProjectionRangeFailure,
} from '../shared/event-time';
import { envelopeBytes, failedRecordBytes, okRecordBytes, RESPONSE_BUDGET_BYTES } from '../shared/firehose-response';
import { toPartitionValue } from '../shared/partition-value';

export { RESPONSE_BUDGET_BYTES } from '../shared/firehose-response';

// ---------------------------------------------------------------- configuration

/** Environment variable names the construct sets (see `handlerEnvironment` in lib/core/partition-spec.ts). */
export const ENV = {
  EVENT_TIME_FIELD: 'EVENT_TIME_FIELD',
  EVENT_TIME_FORMAT: 'EVENT_TIME_FORMAT',
  EVENT_TIME_GRANULARITY: 'EVENT_TIME_GRANULARITY',
  PARTITION_FIELDS: 'PARTITION_FIELDS',
  FLATTEN_FIELDS: 'FLATTEN_FIELDS',
  EVENT_TIME_OUTPUT_FIELD: 'EVENT_TIME_OUTPUT_FIELD',
  PARTITION_VALUES: 'PARTITION_VALUES',
  EVENT_TIME_PROJECTION_START: 'EVENT_TIME_PROJECTION_START',
  EVENT_TIME_MAX_FUTURE_SECONDS: 'EVENT_TIME_MAX_FUTURE_SECONDS',
} as const;

export interface PartitionField {
  /** Partition key name, as in `!{partitionKeyFromLambda:<key>}`. */
  readonly key: string;
  readonly path: DottedPath;
  /**
   * The values Athena's enum projection lists for this key. A value outside it
   * would land in a partition no query can see, so the record fails instead.
   */
  readonly values?: ReadonlySet<string>;
}

export interface FlattenField {
  /** Top-level field written with the nested value. */
  readonly column: string;
  readonly path: DottedPath;
}

export interface TransformConfig {
  readonly eventTimeField: DottedPath;
  readonly eventTimeFormat: EventTimeFormat;
  readonly granularity: EventTimeGranularity;
  /** Event times Athena's `dt` projection can show; records outside it fail to the error prefix. */
  readonly projectionRange: ProjectionRange;
  readonly partitionFields: readonly PartitionField[];
  readonly flattenFields: readonly FlattenField[];
  /** When set, the normalized UTC ISO time is written here; otherwise ISO event times are rewritten in place. */
  readonly eventTimeOutputField?: string;
}

/** Partition key names: Glue column names and S3 path segments (same rule as the construct's PartitionSpec). */
const PARTITION_KEY_NAME = /^[a-z_][a-z0-9_]*$/;
/** Top-level JSON field names we write (flatten columns, event-time output). */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Validates the handler's environment. Throws ONE error listing every problem,
 * so a misconfigured function fails at init (on deploy) instead of marking
 * every record ProcessingFailed.
 */
export function parseConfig(env: Readonly<Record<string, string | undefined>>): TransformConfig {
  const problems: string[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      problems.push((e as Error).message);
      return undefined;
    }
  };

  const eventTimeField = attempt(() => parseDottedPath(required(env, ENV.EVENT_TIME_FIELD), ENV.EVENT_TIME_FIELD));
  const eventTimeFormat = attempt(() => oneOf(env, ENV.EVENT_TIME_FORMAT, EVENT_TIME_FORMATS));
  const granularity = attempt(() => oneOf(env, ENV.EVENT_TIME_GRANULARITY, EVENT_TIME_GRANULARITIES));
  const startMs = attempt(() => projectionStartMs(required(env, ENV.EVENT_TIME_PROJECTION_START)));
  const maxFutureSeconds = attempt(() => wholeSeconds(required(env, ENV.EVENT_TIME_MAX_FUTURE_SECONDS)));

  const partitionFields: PartitionField[] = [];
  const partitionValues = attempt(() => valueLists(env, ENV.PARTITION_VALUES)) ?? {};
  const partitionMap = attempt(() => stringMap(env, ENV.PARTITION_FIELDS)) ?? {};
  const reserved = granularity === 'hour' ? ['dt', 'hour'] : ['dt'];
  for (const [key, path] of Object.entries(partitionMap)) {
    const what = `${ENV.PARTITION_FIELDS}['${key}']`;
    if (!PARTITION_KEY_NAME.test(key) || key === '__proto__') {
      problems.push(`${what}: partition key name must match ${PARTITION_KEY_NAME} (a Glue column and S3 path segment)`);
    } else if (reserved.includes(key)) {
      problems.push(`${what}: '${key}' is the event-time partition key and cannot be reused`);
    }
    const parsed = attempt(() => parseDottedPath(path, what));
    if (parsed) partitionFields.push({ key, path: parsed, values: partitionValues[key] });
  }
  for (const key of Object.keys(partitionValues)) {
    if (!(key in partitionMap)) problems.push(`${ENV.PARTITION_VALUES}['${key}']: not a key of ${ENV.PARTITION_FIELDS}`);
  }

  let eventTimeOutputField: string | undefined = env[ENV.EVENT_TIME_OUTPUT_FIELD];
  if (eventTimeOutputField === '') eventTimeOutputField = undefined;
  if (eventTimeOutputField !== undefined && !isFieldName(eventTimeOutputField)) {
    problems.push(`${ENV.EVENT_TIME_OUTPUT_FIELD} ('${eventTimeOutputField}') must be a top-level field name matching ${FIELD_NAME}`);
  }

  const flattenFields: FlattenField[] = [];
  const flattenMap = attempt(() => stringMap(env, ENV.FLATTEN_FIELDS)) ?? {};
  for (const [column, path] of Object.entries(flattenMap)) {
    const what = `${ENV.FLATTEN_FIELDS}['${column}']`;
    if (!isFieldName(column)) {
      problems.push(`${what}: column name must match ${FIELD_NAME}`);
    } else if (column === eventTimeOutputField) {
      problems.push(`${what}: column '${column}' is also ${ENV.EVENT_TIME_OUTPUT_FIELD}; one would overwrite the other`);
    } else if (eventTimeField && eventTimeField.segments.length === 1 && eventTimeField.segments[0] === column) {
      problems.push(`${what}: column '${column}' would overwrite the event-time field`);
    }
    const parsed = attempt(() => parseDottedPath(path, what));
    if (parsed) flattenFields.push({ column, path: parsed });
  }

  if (problems.length > 0 || !eventTimeField || !eventTimeFormat || !granularity || startMs === undefined || maxFutureSeconds === undefined) {
    throw new Error(`firehose-transform: invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const projectionRange = { startMs, maxFutureSeconds };
  return { eventTimeField, eventTimeFormat, granularity, projectionRange, partitionFields, flattenFields, eventTimeOutputField };
}

/** `yyyy-MM-dd`, the projection's first day, as epoch millis of its midnight UTC. */
function projectionStartMs(text: string): number {
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(text) ? parseEventTime(`${text}T00:00:00Z`, 'iso8601') : undefined;
  if (!parsed?.ok) throw new Error(`${ENV.EVENT_TIME_PROJECTION_START} must be a date in yyyy-MM-dd format on or after 1970-01-01; got '${text}'`);
  return parsed.epochMillis;
}

/** A whole, non-negative number of seconds. */
function wholeSeconds(text: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new Error(`${ENV.EVENT_TIME_MAX_FUTURE_SECONDS} must be a whole number of seconds (0 or more); got '${text}'`);
  return Number(text);
}

function isFieldName(name: string): boolean {
  return FIELD_NAME.test(name) && name !== '__proto__';
}

function required(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`${name} is required`);
  return value;
}

function oneOf<T extends string>(env: Readonly<Record<string, string | undefined>>, name: string, allowed: readonly T[]): T {
  const value = required(env, name);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new Error(`${name} must be one of ${allowed.join(', ')}; got '${value}'`);
  }
  return value as T;
}

/** An optional JSON object of string lists, e.g. `{"p_region":["us","eu"]}`; unset means none. */
function valueLists(env: Readonly<Record<string, string | undefined>>, name: string): Record<string, ReadonlySet<string>> {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return {};
  const out: Record<string, ReadonlySet<string>> = {};
  for (const [key, list] of Object.entries(jsonObject(raw, name, '{"key":["a","b"]}'))) {
    if (!Array.isArray(list) || list.length === 0 || list.some((v) => typeof v !== 'string')) {
      throw new Error(`${name}['${key}'] must be a non-empty list of strings`);
    }
    out[key] = new Set(list);
  }
  return out;
}

/** Parses an environment value that must be a JSON object. */
function jsonObject(raw: string, name: string, example: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${name} is not valid JSON: ${raw}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`${name} must be a JSON object like ${example}; got ${raw}`);
  }
  return parsed as Record<string, unknown>;
}

/** A required JSON object of string values, e.g. `{"region":"meta.region"}`; `{}` means none. */
function stringMap(env: Readonly<Record<string, string | undefined>>, name: string): Record<string, string> {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') throw new Error(`${name} is required (use {} for none)`);
  const parsed = jsonObject(raw, name, '{"name":"payload.path"}');
  const bad = Object.entries(parsed).find(([, v]) => typeof v !== 'string');
  if (bad) throw new Error(`${name}['${bad[0]}'] must be a string (a dotted payload path)`);
  return parsed as Record<string, string>;
}

// ---------------------------------------------------------------- one record

export type FailureReason =
  | DecodeFailure
  | EventTimeFailure
  | ProjectionRangeFailure
  | 'missing_event_time'
  | 'missing_partition_field'
  | 'invalid_partition_value'
  | 'partition_value_not_projected'
  | 'response_size_budget';

export type PartitionKeys = { [key: string]: string };

export type RecordDecision =
  | { readonly result: 'Ok'; readonly data: string; readonly partitionKeys: PartitionKeys }
  | { readonly result: 'ProcessingFailed'; readonly reason: FailureReason };

const fail = (reason: FailureReason): RecordDecision => ({ result: 'ProcessingFailed', reason });

/**
 * Decides one record from its base64 payload: Ok with new data and partition keys, or why it failed.
 * `nowMs` is the current time, against which the projection's future allowance is measured.
 */
export function transformRecord(payload: unknown, config: TransformConfig, nowMs: number = Date.now()): RecordDecision {
  const decoded = decodeJsonRecord(payload);
  if (!decoded.ok) return fail(decoded.reason);
  const obj: JsonObject = decoded.value;

  const rawTime = getAtPath(obj, config.eventTimeField);
  if (rawTime === undefined || rawTime === null) return fail('missing_event_time');
  const time = parseEventTime(rawTime, config.eventTimeFormat);
  if (!time.ok) return fail(time.reason);
  // A dt outside the projection range would be stored but invisible to every Athena query.
  const outside = checkProjectionRange(time.epochMillis, config.projectionRange, nowMs);
  if (outside !== undefined) return fail(outside);
  const utc = toUtcEventTime(time.epochMillis);

  const partitionKeys: PartitionKeys = config.granularity === 'hour' ? { dt: utc.dt, hour: utc.hour } : { dt: utc.dt };
  for (const { key, path, values } of config.partitionFields) {
    const raw = getAtPath(obj, path);
    if (raw === undefined || raw === null) return fail('missing_partition_field');
    const value = toPartitionValue(raw);
    if (value === undefined) return fail('invalid_partition_value');
    if (values && !values.has(value)) return fail('partition_value_not_projected');
    partitionKeys[key] = value;
  }

  if (config.eventTimeOutputField !== undefined) {
    obj[config.eventTimeOutputField] = utc.iso;
  } else if (config.eventTimeFormat === 'iso8601') {
    replaceAtPath(obj, config.eventTimeField, utc.iso);
  }
  if (config.flattenFields.length > 0) {
    // Read every source before writing any column, so one flatten cannot feed another.
    const values = config.flattenFields.map(({ path }) => getAtPath(obj, path));
    config.flattenFields.forEach(({ column }, i) => {
      // A missing source leaves the column absent, which Parquet stores as null.
      if (values[i] !== undefined) obj[column] = values[i];
    });
  }

  // One JSON object per line: Firehose's record format conversion and Athena both expect newline-delimited JSON.
  return { result: 'Ok', data: Buffer.from(JSON.stringify(obj) + '\n', 'utf8').toString('base64'), partitionKeys };
}

// ---------------------------------------------------------------- the batch

/**
 * Firehose sources put the payload in `data` (Kinesis, Direct PUT) or
 * `kafkaRecordValue` (MSK); the response must use the same field.
 */
export type PayloadField = 'data' | 'kafkaRecordValue';

export interface SourceRecord {
  readonly recordId: string;
  /** The base64 payload exactly as received. */
  readonly payload: string;
  readonly payloadField: PayloadField;
}

export interface ResponseRecord {
  recordId: string;
  result: 'Ok' | 'ProcessingFailed';
  data?: string;
  kafkaRecordValue?: string;
  metadata?: { partitionKeys: PartitionKeys };
}

export interface BatchOutcome {
  /** One per input record, same order and recordIds: the Firehose response's `records`. */
  readonly records: ResponseRecord[];
  /** Per-record failure reason (undefined when Ok), parallel to `records`; for logs only. */
  readonly reasons: (FailureReason | undefined)[];
  readonly ok: number;
  readonly failed: number;
  readonly failedByReason: Partial<Record<FailureReason, number>>;
  /** Exact UTF-8 size of `JSON.stringify({ records })`. */
  readonly responseBytes: number;
}


/**
 * Transforms a batch under a response-size budget.
 *
 * Every record starts out counted as ProcessingFailed with its ORIGINAL
 * payload, the smallest answer we can always give (it is at most the request,
 * which Firehose keeps ≤ 6 MB, minus the request's arrival timestamps and
 * metadata). Each Ok record then replaces its failed size with its
 * transformed size only if the total stays within `budgetBytes`; a record
 * that does not fit is returned ProcessingFailed ('response_size_budget'),
 * so Firehose writes it, unchanged, to the error prefix and nothing is lost.
 */
export function transformBatch(
  records: readonly SourceRecord[],
  config: TransformConfig,
  budgetBytes: number = RESPONSE_BUDGET_BYTES,
  nowMs: number = Date.now(),
): BatchOutcome {
  const decisions = records.map((r) => transformRecord(r.payload, config, nowMs));
  // A payload that got past base64 decoding is plain base64.
  const failedSizes = records.map((r, i) => {
    const d = decisions[i];
    return failedRecordBytes(r.recordId, r.payloadField, r.payload, d.result === 'Ok' || d.reason !== 'invalid_base64');
  });
  let total = envelopeBytes(records.length);
  for (const size of failedSizes) total += size;

  const out: ResponseRecord[] = new Array(records.length);
  const reasons: (FailureReason | undefined)[] = new Array(records.length);
  const failedByReason: Partial<Record<FailureReason, number>> = {};
  let ok = 0;

  records.forEach((record, i) => {
    const decision = decisions[i];
    let reason: FailureReason;
    if (decision.result === 'Ok') {
      const delta = okRecordBytes(record.recordId, record.payloadField, decision.data, decision.partitionKeys) - failedSizes[i];
      if (total + delta <= budgetBytes) {
        total += delta;
        out[i] = {
          recordId: record.recordId,
          result: 'Ok',
          [record.payloadField]: decision.data,
          metadata: { partitionKeys: decision.partitionKeys },
        };
        ok++;
        return;
      }
      reason = 'response_size_budget';
    } else {
      reason = decision.reason;
    }
    out[i] = { recordId: record.recordId, result: 'ProcessingFailed', [record.payloadField]: record.payload };
    reasons[i] = reason;
    failedByReason[reason] = (failedByReason[reason] ?? 0) + 1;
  });

  return { records: out, reasons, ok, failed: records.length - ok, failedByReason, responseBytes: total };
}

