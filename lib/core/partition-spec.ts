import { Duration } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type { IConstruct } from 'constructs';
import { propError } from './errors';
import { EventTimeFormat, TimeGranularity } from './event-time';

/** A payload field that partitions the curated data after event time. */
export interface PartitionKey {
  /** Top-level payload field (a column of the schema) the partition value is read from. */
  readonly field: string;
  /**
   * Name of the partition column. Athena rejects a partition column that repeats a
   * data column, so it must differ from every column of the schema.
   * @default `p_${field}`
   */
  readonly name?: string;
  /**
   * The values the field can take, projected as an Athena `enum`. Keep it short:
   * every combination of enum values is a potential active Firehose partition.
   * @default - the key is projected as `injected`, so every query must filter it with `=`
   */
  readonly values?: string[];
}

/** Where event time lives in the payload and how it partitions the data. */
export interface EventTimeOptions {
  /** Top-level payload field holding the event time; must be a column of the schema. */
  readonly field: string;
  /** Encoding of the field. @default EventTimeFormat.ISO_8601_UTC */
  readonly format?: EventTimeFormat;
  /** Partition granularity. @default TimeGranularity.DAY */
  readonly granularity?: TimeGranularity;
  /**
   * First day of the Athena date projection range (`yyyy-MM-dd`, 1970-01-01 to today); the
   * range ends at `NOW`. Records with an earlier event time go to the error prefix: their
   * `dt` would be outside the projection, stored but invisible to every query.
   * @default '2020-01-01'
   */
  readonly projectionStart?: string;
  /**
   * How far ahead of the time Firehose processes a record its event time may be (clock
   * skew). A record further ahead goes to the error prefix, since its `dt` is outside the
   * projection (which ends at `NOW`, query time) until that day comes; one within the
   * allowance is delivered and becomes visible once its `dt` is reached. Whole seconds,
   * 0 to 365 days.
   * @default Duration.hours(1)
   */
  readonly maxFutureSkew?: Duration;
}

/** Which Firehose namespace supplies the partition values. */
export enum PartitionKeySource {
  /** Inline jq 1.6 metadata extraction: `!{partitionKeyFromQuery:key}`. */
  QUERY = 'partitionKeyFromQuery',
  /** The transform Lambda's `metadata.partitionKeys`: `!{partitionKeyFromLambda:key}`. */
  LAMBDA = 'partitionKeyFromLambda',
}

/** Inputs of a partition spec. */
export interface PartitionSpecProps {
  /** The data columns (the Glue schema Firehose converts with). */
  readonly columns: glue.Column[];
  /** Event-time partitioning. */
  readonly eventTime: EventTimeOptions;
  /** Low-cardinality payload keys partitioned after event time. @default - none */
  readonly keys?: PartitionKey[];
  /** Object key prefix of the curated data; must end with `/`. @default 'data/' */
  readonly dataPrefix?: string;
  /** Firehose's active-partition quota. @default 500 */
  readonly maxActivePartitions?: number;
}

/** One path segment `name=value/` of the curated layout. */
export interface PartitionSegment {
  /** Partition column name. */
  readonly name: string;
  /** jq 1.6 expression producing the value (used when the source is a query). */
  readonly jq: string;
  /** Athena projection of the column. */
  readonly projection: glue.PartitionProjectionConfiguration;
}

/** Java date format of the `dt` projection; must equal what `JQ_DATE_FORMAT` writes. */
export const DATE_PROJECTION_FORMAT = 'yyyy-MM-dd';
/** strftime format the jq query writes for `dt`. */
export const JQ_DATE_FORMAT = '%Y-%m-%d';
/** Most partition keys a lake takes besides event time: each multiplies the active partitions. */
export const MAX_PARTITION_KEYS = 3;
/**
 * Event-time values one buffer can hold at once in the worst case we plan for:
 * a buffer straddling a dt/hour boundary holds two.
 */
export const EVENT_TIME_SLOTS_PER_BUFFER = 2;

const NAME = /^[a-z_][a-z0-9_]*$/;
/** Default start of the `dt` projection. */
export const DEFAULT_PROJECTION_START = '2020-01-01';
/** Default allowance for event times ahead of delivery time. */
export const DEFAULT_MAX_FUTURE_SKEW = Duration.hours(1);
const MAX_FUTURE_SKEW_LIMIT = Duration.days(365);

/**
 * ONE definition of a lake's partition layout. The Firehose prefix, the jq
 * query, the Glue partition columns, the projection parameters and the
 * `storage.location.template` all derive from it, so they cannot drift.
 */
export class PartitionSpec {
  /** Validates `props` (errors name the prop) and builds the spec. */
  public static of(scope: IConstruct, props: PartitionSpecProps): PartitionSpec {
    return new PartitionSpec(scope, props);
  }

  /**
   * Checks the start of a `dt` date projection, named `prop` in errors: a real `yyyy-MM-dd`
   * date from 1970-01-01 (where event times start) to today (a later start hides every record until then).
   */
  public static validateProjectionStart(scope: IConstruct, prop: string, start: string): void {
    checkProjectionStart(scope, prop, start);
  }

  /** Ordered partition segments: `dt`, optionally `hour`, then the keys. */
  public readonly segments: PartitionSegment[];
  /** Event-time format. */
  public readonly format: EventTimeFormat;
  /** Event-time granularity. */
  public readonly granularity: TimeGranularity;
  /** Event-time field. */
  public readonly eventTimeField: string;
  /** First day of the `dt` projection (`yyyy-MM-dd`). */
  public readonly projectionStart: string;
  /** Allowance for event times ahead of delivery time. */
  public readonly maxFutureSkew: Duration;
  /** Curated data prefix (ends with `/`). */
  public readonly dataPrefix: string;
  /** Key name → payload field, for the partition keys after event time. */
  public readonly keyFields: { [name: string]: string };
  /** Key name → projected enum values, for the enum keys. */
  public readonly keyValues: { [name: string]: string[] };
  /** Worst-case simultaneously active Firehose partitions. */
  public readonly worstCaseActivePartitions: number;

  private constructor(scope: IConstruct, props: PartitionSpecProps) {
    const columns = checkColumns(scope, props.columns);
    const et = props.eventTime;
    this.format = et.format ?? EventTimeFormat.ISO_8601_UTC;
    this.granularity = et.granularity ?? TimeGranularity.DAY;
    this.eventTimeField = et.field;
    this.dataPrefix = props.dataPrefix ?? 'data/';
    const etColumn = columns.get(et.field.toLowerCase());
    if (!etColumn) {
      throw propError(scope, 'eventTime.field', `('${et.field}') is not a column of \`schema\``);
    }
    checkEventTimeType(scope, this.format, etColumn.type);
    this.projectionStart = et.projectionStart ?? DEFAULT_PROJECTION_START;
    PartitionSpec.validateProjectionStart(scope, 'eventTime.projectionStart', this.projectionStart);
    this.maxFutureSkew = et.maxFutureSkew ?? DEFAULT_MAX_FUTURE_SKEW;
    checkMaxFutureSkew(scope, this.maxFutureSkew);
    if (!/^([A-Za-z0-9_.-]+\/)*$/.test(this.dataPrefix) || this.dataPrefix === '') {
      throw propError(scope, 'dataPrefix', `('${this.dataPrefix}') must be path segments ending with '/'`);
    }
    // Athena lowercases column names, so `DT` is the partition column `dt` too.
    if (columns.has('dt') || (this.granularity.includesHour && columns.has('hour'))) {
      throw propError(scope, 'schema', "has a column named 'dt' or 'hour', which are the event-time partition columns");
    }

    const segments = this.eventTimeSegments();
    this.keyFields = {};
    this.keyValues = {};
    const enumProduct = this.addKeySegments(scope, props.keys ?? [], columns, segments);
    this.segments = segments;

    const quota = props.maxActivePartitions ?? 500;
    this.worstCaseActivePartitions = enumProduct * EVENT_TIME_SLOTS_PER_BUFFER;
    if (this.worstCaseActivePartitions > quota) {
      throw propError(scope, 'partitionKeys', `enum values allow ${enumProduct} combinations x ${EVENT_TIME_SLOTS_PER_BUFFER} event-time slots per buffer = ${this.worstCaseActivePartitions} active partitions, over Firehose's quota of ${quota}; records over it go to the error prefix as activePartitionExceeded. Shorten the enums or raise the quota (up to 5,000) and set \`maxActivePartitions\``);
    }
  }

  /**
   * `dt` (and `hour`). The `dt` query fails, sending the record to the error prefix, when the
   * event time is outside the projection range: before its start, or more than the allowance
   * ahead of `now` (the time Firehose runs the query). The handler applies the same rule
   * (lambda/shared/event-time.ts `checkProjectionRange`).
   */
  private eventTimeSegments(): PartitionSegment[] {
    const seconds = this.format.requiresTransform ? '' : this.format.jqEpochSeconds(`.${jqField(this.eventTimeField)}`);
    const startSeconds = Date.parse(`${this.projectionStart}T00:00:00Z`) / 1000;
    const skew = this.maxFutureSkew.toSeconds();
    const segments: PartitionSegment[] = [{
      name: 'dt',
      // jq 1.6 takes `if` as an object value only in parentheses.
      jq: `(${seconds} | if . < ${startSeconds} or . > now + ${skew} then error("dt: event time before ${this.projectionStart} or over ${skew} s ahead") else strftime("${JQ_DATE_FORMAT}") end)`,
      projection: glue.PartitionProjectionConfiguration.date({ min: this.projectionStart, max: 'NOW', format: DATE_PROJECTION_FORMAT, step: { interval: 1, intervalUnit: glue.DateIntervalUnit.DAYS } }),
    }];
    if (this.granularity.includesHour) {
      segments.push({
        name: 'hour',
        jq: `${seconds} | strftime("%H")`,
        projection: glue.PartitionProjectionConfiguration.integer({ min: 0, max: 23, digits: 2 }),
      });
    }
    return segments;
  }

  /** Validates the keys and appends their segments; returns the product of the enum sizes. */
  private addKeySegments(scope: IConstruct, keys: PartitionKey[], columns: Map<string, glue.Column>, segments: PartitionSegment[]): number {
    if (keys.length > MAX_PARTITION_KEYS) {
      throw propError(scope, 'partitionKeys', `has ${keys.length} keys; at most ${MAX_PARTITION_KEYS} are allowed (each multiplies Firehose's active partitions)`);
    }
    let enumProduct = 1;
    keys.forEach((key, i) => {
      const name = key.name ?? `p_${key.field}`;
      if (!columns.has(key.field.toLowerCase())) {
        throw propError(scope, `partitionKeys[${i}].field`, `('${key.field}') is not a column of \`schema\``);
      }
      if (columns.has(name.toLowerCase())) {
        throw propError(scope, `partitionKeys[${i}].name`, `('${name}') duplicates a column of \`schema\` ('${columns.get(name.toLowerCase())!.name}'); Athena rejects a partition column that repeats a data column, ignoring case`);
      }
      if (!NAME.test(name)) {
        throw propError(scope, `partitionKeys[${i}].name`, `('${name}') must match ${NAME} to be a Glue column and an S3 path segment`);
      }
      if (segments.some((s) => s.name === name)) {
        throw propError(scope, `partitionKeys[${i}].name`, `('${name}') is already a partition column`);
      }
      if (key.values !== undefined) {
        if (key.values.length === 0) throw propError(scope, `partitionKeys[${i}].values`, 'must list at least one value');
        const bad = key.values.find((v) => !new RegExp(SAFE_PARTITION_VALUE).test(v));
        if (bad !== undefined) throw propError(scope, `partitionKeys[${i}].values`, `('${bad}') must match [A-Za-z0-9_.:=+-]{1,512} to be an S3 path segment`);
        enumProduct *= new Set(key.values).size;
      }
      this.keyFields[name] = key.field;
      const values = key.values ? [...new Set(key.values)] : undefined;
      if (values) this.keyValues[name] = values;
      segments.push({
        name,
        jq: jqKeyValue(name, key.field, values),
        projection: values
          ? glue.PartitionProjectionConfiguration.enum({ values })
          : glue.PartitionProjectionConfiguration.injected(),
      });
    });
    return enumProduct;
  }

  /** The Glue partition columns, in path order. All are strings. */
  public get partitionColumns(): glue.Column[] {
    return this.segments.map((s) => ({ name: s.name, type: glue.Schema.STRING }));
  }

  /** Firehose `Prefix`: `data/dt=!{partitionKeyFromQuery:dt}/…/`. */
  public firehosePrefix(source: PartitionKeySource): string {
    return this.dataPrefix + this.segments.map((s) => `${s.name}=!{${source}:${s.name}}/`).join('');
  }

  /**
   * Firehose `ErrorOutputPrefix`: must contain `!{firehose:error-output-type}` and
   * no partition-key namespaces. Outside the data prefix, so Athena never reads it.
   */
  public get errorPrefix(): string {
    return 'errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/';
  }

  /** The jq 1.6 queries, one per partition key, for `MetadataExtractionProcessor.jq16`. */
  public get jqQueries(): { [key: string]: string } {
    if (this.format.requiresTransform) {
      throw new Error(`EventTimeFormat '${this.format.id}' needs the transform handler; no jq query exists for it`);
    }
    return Object.fromEntries(this.segments.map((s) => [s.name, s.jq]));
  }

  /** Athena projection per partition column. */
  public get projection(): { [column: string]: glue.PartitionProjectionConfiguration } {
    return Object.fromEntries(this.segments.map((s) => [s.name, s.projection]));
  }

  /** `storage.location.template`: `s3://bucket/data/dt=${dt}/…/`. */
  public locationTemplate(bucketName: string): string {
    return `s3://${bucketName}/${this.dataPrefix}` + this.segments.map((s) => `${s.name}=\${${s.name}}/`).join('');
  }

  /** Environment of the transform handler, matching the same layout. */
  public handlerEnvironment(flatten: { [column: string]: string } = {}): { [key: string]: string } {
    return {
      EVENT_TIME_FIELD: this.eventTimeField,
      EVENT_TIME_FORMAT: this.format.handlerFormat,
      EVENT_TIME_GRANULARITY: this.granularity.id,
      EVENT_TIME_PROJECTION_START: this.projectionStart,
      EVENT_TIME_MAX_FUTURE_SECONDS: String(this.maxFutureSkew.toSeconds()),
      PARTITION_FIELDS: JSON.stringify(this.keyFields),
      PARTITION_VALUES: JSON.stringify(this.keyValues),
      FLATTEN_FIELDS: JSON.stringify(flatten),
    };
  }
}

/** Partition values must be single, safe S3 path segments (the handler applies the same rule). */
export const SAFE_PARTITION_VALUE = '^[A-Za-z0-9_.:=+-]{1,512}$';

/**
 * jq for a key's value. A missing or non-scalar value, one that would break
 * the S3 path, or one outside the enum projection (which Athena could never
 * see) raises a jq error, so Firehose puts the record in the error prefix.
 */
function jqKeyValue(name: string, field: string, values?: string[]): string {
  const scalar = `if (type == "string" or type == "number" or type == "boolean") then tostring else error("${name}: missing or not a scalar") end`;
  const safe = `if test("${SAFE_PARTITION_VALUE}") then . else error("${name}: not a safe path segment") end`;
  // Membership in one `,a,b,` string costs a value's length plus 1 (IN("a", "b") costs 3 more), which keeps
  // long enums under Firehose's 5,120-character parameter limit; safe values hold no comma, so it is exact.
  const projected = values ? ` | if ",\\(.)," | inside(",${values.join(',')},") then . else error("${name}: not a projected value") end` : '';
  return `(.${jqField(field)} | ${scalar} | ${safe}${projected})`;
}

/**
 * The columns by lowercase name. Athena lowercases column names, so names differing only
 * in case are one column to it; aws-cdk-lib's own duplicate check never names `schema`.
 */
function checkColumns(scope: IConstruct, columns: glue.Column[]): Map<string, glue.Column> {
  if (columns.length === 0) throw propError(scope, 'schema', 'must list at least one column');
  const byName = new Map<string, glue.Column>();
  const index = new Map<string, number>();
  columns.forEach((c, i) => {
    const key = c.name.toLowerCase();
    const first = index.get(key);
    if (first !== undefined) {
      throw propError(scope, `schema[${i}].name`, `('${c.name}') repeats \`schema[${first}].name\` ('${columns[first].name}'); Athena lowercases column names, so they must differ ignoring case`);
    }
    index.set(key, i);
    byName.set(key, c);
  });
  return byName;
}

function checkProjectionStart(scope: IConstruct, prop: string, start: string): void {
  const ms = Date.parse(`${start}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== start) {
    throw propError(scope, prop, `('${start}') must be a date in ${DATE_PROJECTION_FORMAT} format`);
  }
  if (ms < 0) {
    throw propError(scope, prop, `('${start}') must be on or after 1970-01-01, the earliest event time the pipeline accepts`);
  }
  const today = new Date().toISOString().slice(0, 10);
  if (start > today) {
    throw propError(scope, prop, `('${start}') is in the future (today is ${today}): every dt before it is outside the projection, so records would go to the error prefix until then`);
  }
}

function checkMaxFutureSkew(scope: IConstruct, skew: Duration): void {
  const seconds = skew.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds > MAX_FUTURE_SKEW_LIMIT.toSeconds()) {
    throw propError(scope, 'eventTime.maxFutureSkew', `(${seconds} s) must be a whole number of seconds from 0 to 365 days`);
  }
}

/** `.field` is only valid jq for identifier-like names; quote everything else. */
function jqField(field: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(field) ? field : JSON.stringify(field);
}

/**
 * Firehose's Hive JSON deserializer reads a `timestamp` column from epoch millis
 * or ISO strings, not epoch seconds; a seconds value would be misread as millis.
 */
function checkEventTimeType(scope: IConstruct, format: EventTimeFormat, type: glue.Type): void {
  const t = type.inputString;
  const numeric = ['int', 'bigint', 'double', 'float'].includes(t);
  const ok = format === EventTimeFormat.EPOCH_SECONDS ? numeric
    : format === EventTimeFormat.EPOCH_MILLIS ? numeric || t === 'timestamp'
      : t === 'string' || t === 'timestamp';
  if (!ok) {
    throw propError(scope, 'eventTime.field', `has Glue type '${t}', which cannot hold ${format.id} values${format === EventTimeFormat.EPOCH_SECONDS ? ' (declare it bigint or double: Firehose reads timestamp columns as epoch millis or ISO strings)' : ''}`);
  }
}
