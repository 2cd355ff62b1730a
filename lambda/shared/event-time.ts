/**
 * Event-time parsing and UTC normalization.
 *
 * Partitions must come from the time an event happened, converted to UTC, so
 * the same instant always lands in the same `dt`/`hour` whatever offset the
 * producer wrote. Parsing is strict (a regex, then range checks, then integer
 * arithmetic) rather than `Date.parse`, which accepts zone-less strings as
 * local time and rolls impossible dates like 2023-02-30 into March.
 */

export type EventTimeFormat = 'epoch_seconds' | 'epoch_millis' | 'iso8601';
export const EVENT_TIME_FORMATS: readonly EventTimeFormat[] = ['epoch_seconds', 'epoch_millis', 'iso8601'];

export type EventTimeGranularity = 'day' | 'hour';
export const EVENT_TIME_GRANULARITIES: readonly EventTimeGranularity[] = ['day', 'hour'];

/**
 * Accepted instants: 1970-01-01T00:00:00.000Z through 9999-12-31T23:59:59.999Z.
 * Earlier values are almost always a unit mix-up or a zero default, and later
 * ones cannot be written as a 4-digit `dt`; both would create junk partitions.
 */
export const MIN_EVENT_TIME_MS = 0;
export const MAX_EVENT_TIME_MS = 253402300799999;

export type EventTimeFailure = 'invalid_event_time' | 'event_time_out_of_range';

export type EventTimeResult =
  | { readonly ok: true; readonly epochMillis: number }
  | { readonly ok: false; readonly reason: EventTimeFailure };

const INVALID: EventTimeResult = { ok: false, reason: 'invalid_event_time' };
const OUT_OF_RANGE: EventTimeResult = { ok: false, reason: 'event_time_out_of_range' };

/**
 * ISO-8601 extended format, date and time both complete (seconds required),
 * optional fraction (`.` or `,`, up to 9 digits) and a MANDATORY zone: `Z`, or
 * `±HH:MM`, `±HHMM`, `±HH`. A zone-less string is refused: guessing its zone
 * would silently misplace the record by hours.
 */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;

/** Plain decimal, as JSON writes numbers without exponent: `123`, `123.456`, optional `-`. */
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** Largest zone offset accepted, as java.time's ZoneOffset does (real zones span -12:00..+14:00). */
const MAX_OFFSET_MINUTES = 18 * 60;

/** Converts a payload value in `format` to UTC epoch milliseconds (fractions below 1 ms are truncated). */
export function parseEventTime(value: unknown, format: EventTimeFormat): EventTimeResult {
  switch (format) {
    case 'epoch_seconds':
      return parseEpoch(value, 3);
    case 'epoch_millis':
      return parseEpoch(value, 0);
    case 'iso8601':
      return typeof value === 'string' ? parseIso8601(value) : INVALID;
  }
}

/**
 * Epoch numbers or numeric strings. Numbers go through their shortest decimal
 * text so `1700000000.123` seconds is exactly ...123 ms, not ...122.99 floored.
 * `scaleDigits` is how many fraction digits make whole milliseconds.
 */
function parseEpoch(value: unknown, scaleDigits: number): EventTimeResult {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return INVALID;
    if (value < 0) return OUT_OF_RANGE;
    text = String(value);
    // Only huge or tiny numbers print with an exponent; huge ones are out of range,
    // tiny ones are a fraction of the first second/millisecond after the epoch.
    if (text.includes('e')) return value >= 1 ? OUT_OF_RANGE : { ok: true, epochMillis: 0 };
  } else if (typeof value === 'string') {
    text = value;
  } else {
    return INVALID;
  }
  const m = DECIMAL.exec(text);
  if (m === null) return INVALID;
  const [, sign, rawInt, rawFrac = ''] = m;
  const intDigits = rawInt.replace(/^0+(?=\d)/, '');
  // 15 digits keep the product below 2^53, and already exceed the range in either unit.
  if (intDigits.length > 15) return OUT_OF_RANGE;
  const fracMs = scaleDigits === 0 ? 0 : Number(rawFrac.padEnd(scaleDigits, '0').slice(0, scaleDigits));
  const ms = Number(intDigits) * 10 ** scaleDigits + fracMs;
  if (sign === '-' && (ms !== 0 || /[1-9]/.test(rawFrac))) return OUT_OF_RANGE;
  return inRange(ms);
}

function parseIso8601(text: string): EventTimeResult {
  const m = ISO_8601.exec(text);
  if (m === null) return INVALID;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  // Leap seconds (:60) and 24:00 are refused rather than rolled over.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return INVALID;
  if (hour > 23 || minute > 59 || second > 59) return INVALID;
  const fracMs = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3));
  let offsetMinutes = 0;
  if (m[8] !== undefined) {
    const offHours = Number(m[9]);
    const offMinutes = m[10] === undefined ? 0 : Number(m[10]);
    if (offMinutes > 59) return INVALID;
    offsetMinutes = offHours * 60 + offMinutes;
    if (offsetMinutes > MAX_OFFSET_MINUTES) return INVALID;
    if (m[8] === '-') offsetMinutes = -offsetMinutes;
  }
  const localMs = (((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second) * 1000 + fracMs;
  // Local time = UTC + offset, so UTC = local - offset.
  return inRange(localMs - offsetMinutes * 60_000);
}

function inRange(ms: number): EventTimeResult {
  return ms < MIN_EVENT_TIME_MS || ms > MAX_EVENT_TIME_MS ? OUT_OF_RANGE : { ok: true, epochMillis: ms };
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1];
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
 * Used instead of `Date.UTC`, which maps years 0-99 to 1900-1999.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Event time in UTC: the normalized ISO string and its partition values. */
export interface UtcEventTime {
  /** `YYYY-MM-DDTHH:mm:ss.sssZ`. */
  readonly iso: string;
  /** `YYYY-MM-DD`. */
  readonly dt: string;
  /** `HH` (00-23). */
  readonly hour: string;
}

/** Formats in-range epoch millis as UTC; callers pass values accepted by `parseEventTime`. */
export function toUtcEventTime(epochMillis: number): UtcEventTime {
  const iso = new Date(epochMillis).toISOString();
  return { iso, dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

/**
 * The event times Athena can see: the `dt` date projection runs from its start
 * date to `NOW` (query time), so an event before the start is never visible,
 * and one far in the future (clock skew, seconds read as millis) is not visible
 * until its day comes. Records outside go to the error prefix instead.
 */
export interface ProjectionRange {
  /** The projection's first instant: midnight UTC of its start date, epoch millis. */
  readonly startMs: number;
  /** How far ahead of the current time an event may be, in whole seconds. */
  readonly maxFutureSeconds: number;
}

export type ProjectionRangeFailure = 'event_time_before_projection' | 'event_time_too_far_ahead';

/**
 * Why an in-range event time falls outside `range` at `nowMs`, or undefined
 * when it is inside. Compares whole seconds, as the construct's jq 1.6 query
 * does (`floor(seconds) < start or floor(seconds) > now + allowance`), so the
 * handler and the query accept exactly the same records.
 */
export function checkProjectionRange(epochMillis: number, range: ProjectionRange, nowMs: number): ProjectionRangeFailure | undefined {
  const seconds = Math.floor(epochMillis / 1000);
  if (seconds * 1000 < range.startMs) return 'event_time_before_projection';
  if (seconds > nowMs / 1000 + range.maxFutureSeconds) return 'event_time_too_far_ahead';
  return undefined;
}
